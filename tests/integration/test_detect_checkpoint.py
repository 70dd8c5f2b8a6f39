"""Durable detection state: a worker killed with SIGKILL and replaced by one on an EMPTY
data directory detects an incident at once, from the baselines its predecessor learned:
they come back from the detection stage's state topic on the broker (a cold worker would
still be warming up: it needs 150 windows per series before it alerts). Runs in real
time: the incident is the next minute, so the test takes two to three minutes."""

from __future__ import annotations

import json
import math
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from pipeline.sim.incident_demo import INCIDENT_MINUTE, incident_history
from tests.integration.harness import Worker, collect, hub, produce_raw, run

THREAT_METRIC = "security_threats.count"


def _snapshot_past_start(records: list) -> bool:
    """A detection state saved after applying some of its input."""
    return any(r.key == b"manifest" and json.loads(r.value)["applied"] > 0 for r in records)


def test_a_worker_on_an_empty_disk_restores_its_baselines_from_the_broker(
    kafka_bootstrap: str, hub_env: dict[str, str]
):
    env = dict(hub_env, HUB_SNAPSHOT_EVERY_S="3")
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    # The incident starts at the next minute boundary at least 45 s away: its events are
    # then not late for the second worker (the first one's watermark, restored with its
    # state, follows the wall clock once it has read everything).
    incident_ts = math.ceil((time.time() + 45) / 60) * 60
    start = incident_ts - 60 * INCIDENT_MINUTE
    events = incident_history(start)
    before = [e for e in events if e.timestamp.timestamp() < incident_ts]
    after = [e for e in events if e.timestamp.timestamp() >= incident_ts]

    def send(chosen: list) -> None:
        run(produce_raw(kafka_bootstrap, [
            (f"{prefix}{e.source_module.value}.events", e.to_wire_bytes()) for e in chosen
        ]))  # fmt: skip

    def window_published(minute: int):
        stamp = datetime.fromtimestamp(start + 60 * minute, UTC).isoformat().replace("+00:00", "Z")

        def done(records: list) -> bool:
            return any(json.loads(r.value)["window_start"] == stamp for r in records)

        return done

    # 1. The quiet minutes: the first worker learns the baselines from all but the
    # last (still open) minute, saves its detection state, and is killed before the
    # incident begins.
    send(before)
    first = Worker(env, "checkpoint-1")
    state_topic = f"{env['HUB_APP_ID']}-detect-state"
    try:
        run(collect(kafka_bootstrap, prefix + "hub.metrics.1m",
                    window_published(INCIDENT_MINUTE - 2), 150))  # fmt: skip
        saved = run(collect(kafka_bootstrap, state_topic, _snapshot_past_start, 30))
        assert _snapshot_past_start(saved), "no detection snapshot in 30 s\n" + first.log_tail()
    finally:
        first.stop(signal.SIGKILL)
    assert time.time() < incident_ts, "the first worker took too long; the test needs a rerun"

    # 2. The incident, read by a new worker on an empty data directory: its detection
    # state comes from the broker.
    send(after)
    fresh_disk = dict(env, HUB_DATA_DIR=str(Path(env["HUB_DATA_DIR"]).parent / "empty-disk"))
    second = Worker(fresh_disk, "checkpoint-2")
    try:

        def incident_alerted(records: list) -> bool:
            return any(
                json.loads(r.value)["metric"] == THREAT_METRIC
                and dict(r.headers).get("hub.window") == b"1m"
                and datetime.fromisoformat(json.loads(r.value)["timestamp"]).timestamp()
                == incident_ts
                for r in records
            )

        wait = incident_ts + 60 - time.time() + 60  # the incident minute closes, then 60 s
        records = run(collect(kafka_bootstrap, prefix + "hub.anomalies", incident_alerted, wait))
        log = second.log_path.read_text()
    finally:
        second.stop(signal.SIGTERM)
    restored = re.findall(r"detect partition \d+: state restored from \S+ at offset (\d+)", log)
    assert restored and max(int(offset) for offset in restored) > 0, second.log_tail()
    assert incident_alerted(records), (
        "the restarted worker did not alert on the incident: "
        + str(sorted({json.loads(r.value)["metric"] for r in records}))
        + "\n"
        + second.log_tail()
    )
