"""``hub evaluate --live``: labelled scenarios through Kafka into a real worker, scored on
what the worker publishes (what users see: partition skew, catch-up, late events).

Per seed, in topics of its own (a fresh prefix and app id, deleted afterwards): the
scenario's events (every payload type) are produced to the module topics, a
``hub worker`` subprocess ingests, aggregates, detects and correlates them, and the
anomalies and correlations topics are read back. A run is over once the worker has
published the 1-minute windows up to the scenario's last minutes and nothing new has
arrived for ``settle_s``. The alerts that started episodes on 1-minute series (tags
from the ``hub.tags`` header) and the correlations are scored like the offline
evaluation (:func:`pipeline.sim.evaluation.score_run`).
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from agents.runtime.client import HubProducer
from agents.runtime.home import hub_home, logs_dir
from agents.runtime.settings import load_settings
from pipeline.correlation.incidents import SeriesKey
from pipeline.models.correlation import AnomalyCorrelation, AnomalyEvent
from pipeline.sim.evaluation import RunResult, Summary, belongs, score_run
from pipeline.sim.scenario_events import ScenarioEvents
from pipeline.sim.scenarios import DAY, MINUTE, Scenario
from pipeline.wire.topics import RAISED_HEADER, TAGS_HEADER, load_catalogue

REPO = hub_home()


@dataclass(frozen=True, slots=True)
class LiveAlert:
    """An episode start read back from the anomalies topic."""

    event: AnomalyEvent
    key: SeriesKey
    raised_at: datetime | None


def isolated_env(tag: str, kind: str = "eval") -> dict[str, str]:
    """A run's own topics (prefix), app id and data directory, named by ``kind-tag``."""
    run = uuid.uuid4().hex[:6]
    env = dict(os.environ)
    env.update(
        HUB_TOPIC_PREFIX=f"{kind}-{tag}-{run}-",
        HUB_APP_ID=f"hub-{kind}-{tag}-{run}",
        HUB_DATA_DIR=tempfile.mkdtemp(prefix=f"hub-{kind}-{tag}-"),
    )
    return env


def _hub(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "agents.cli.main", *args],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )


async def _produce(scenario: Scenario, seed: int) -> int:
    """Every event of the scenario, JSON arrays of up to 500 per module topic."""
    sent = 0
    events = ScenarioEvents(seed)
    async with HubProducer(load_settings()) as hub:
        for traffic in scenario.traffic():
            batch = events.minute(traffic)
            await hub.send_batch(batch)
            sent += len(batch)
    return sent


async def _collect(
    env: dict[str, str], scenario: Scenario, settle_s: float, timeout_s: float, log: Path
) -> tuple[list[LiveAlert], list[AnomalyCorrelation]]:
    settings = load_settings()
    catalogue = load_catalogue(prefix=settings.topic_prefix, app_id=settings.app_id)
    anomalies = catalogue.one("anomalies").name
    correlations = catalogue.one("correlations").name
    metrics = catalogue.metrics_topic("one_minute").name
    consumer = AIOKafkaConsumer(
        anomalies,
        correlations,
        metrics,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    last_window = scenario.start + (scenario.minutes - 3) * MINUTE
    started: list[LiveAlert] = []
    found: list[AnomalyCorrelation] = []
    latest, quiet_since, began, shown = -math.inf, time.monotonic(), time.monotonic(), 0.0
    await consumer.start()
    try:
        while time.monotonic() - began < timeout_s:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for record in records:
                    if record.topic == metrics:
                        start = orjson.loads(record.value)["window_start"]
                        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
                        latest = max(latest, moment.timestamp())
                        continue
                    quiet_since = time.monotonic()
                    if record.topic == correlations:
                        found.append(AnomalyCorrelation.from_wire(record.value))
                        continue
                    alert = _started(record)
                    if alert is not None:
                        started.append(alert)
            if time.monotonic() - shown > 10:
                shown = time.monotonic()
                behind = (last_window - latest) / MINUTE if math.isfinite(latest) else None
                print(
                    f"hub evaluate --live: seed {scenario.seed}: "
                    + (f"{behind:.0f} windows to go, " if behind and behind > 0 else "")
                    + f"{len(started)} alerts, {len(found)} correlations (worker log {log})",
                    file=sys.stderr,
                )
            if latest >= last_window and time.monotonic() - quiet_since >= settle_s:
                break
        else:
            print(f"hub evaluate --live: seed {scenario.seed}: gave up after {timeout_s:.0f} s; "
                  f"scoring what arrived", file=sys.stderr)  # fmt: skip
    finally:
        await consumer.stop()
    return started, found


def _started(record: object) -> LiveAlert | None:
    headers = {k: bytes(v) for k, v in getattr(record, "headers", ()) or ()}
    if headers.get("hub.episode") != b"started" or headers.get("hub.window") != b"1m":
        return None
    event = AnomalyEvent.from_wire(record.value)  # type: ignore[attr-defined]
    tags = orjson.loads(headers.get(TAGS_HEADER, b"{}"))
    raised = headers.get(RAISED_HEADER)
    return LiveAlert(
        event,
        (f"{event.metric}@one_minute", tuple(sorted(tags.items()))),
        datetime.fromisoformat(raised.decode()) if raised else None,
    )


def run_live(
    seed: int,
    days: float,
    quiet_days: float,
    kinds: tuple[str, ...],
    settle_s: float = 30.0,
    timeout_s: float = 1800.0,
) -> RunResult:
    """One scenario through a real worker; its score."""
    env = isolated_env(str(seed))
    start = (time.time() - days * DAY) // MINUTE * MINUTE  # the scenario ends now
    if os.environ.get("HUB_EVALUATE_START"):  # the same events run after run
        start = float(os.environ["HUB_EVALUATE_START"]) // MINUTE * MINUTE
    scenario = Scenario(seed, days=days, start=start, incidents=kinds, quiet_days=quiet_days)
    log = logs_dir() / f"evaluate-live-{seed}.log"
    log.parent.mkdir(exist_ok=True)
    saved = dict(os.environ)
    os.environ.update(env)  # load_settings() reads the run's prefix and app id
    try:
        _hub(env, "topics", "apply")
        print(f"hub evaluate --live: seed {seed}: producing {scenario.minutes} minutes "
              f"({len(scenario.labels)} incidents) ...", file=sys.stderr)  # fmt: skip
        sent = asyncio.run(_produce(scenario, seed))
        print(f"hub evaluate --live: seed {seed}: {sent} events produced; starting a worker",
              file=sys.stderr)  # fmt: skip
        with open(log, "wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "agents.cli.main", "worker", "--loglevel", "warning"],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                started, correlations = asyncio.run(
                    _collect(env, scenario, settle_s, timeout_s, log)
                )
            finally:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
        _hub(env, "topics", "delete", "--yes")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if os.environ.get("HUB_EVALUATE_DUMP"):
        _dump(Path(os.environ["HUB_EVALUATE_DUMP"]) / f"{seed}.jsonl", scenario, started)
        with open(Path(os.environ["HUB_EVALUATE_DUMP"]) / f"{seed}-correlations.jsonl", "wb") as f:
            for correlation in correlations:
                f.write(correlation.to_wire_bytes() + b"\n")
    return score_run(seed, days, scenario.labels, started, correlations)


def _dump(path: Path, scenario: Scenario, started: list[LiveAlert]) -> None:
    """Every alert with the incidents it belongs to (HUB_EVALUATE_DUMP=folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        for alert in started:
            owners = [label.kind for label in scenario.labels if belongs(alert, label, 5)]
            row = {
                "minute": (alert.event.timestamp.timestamp() - scenario.start) / MINUTE,
                "metric": alert.event.metric,
                "tags": dict(alert.key[1]),
                "score": alert.event.anomaly_score,
                "observed": alert.event.observed,
                "baseline": alert.event.baseline,
                "incidents": owners,
            }
            out.write(orjson.dumps(row) + b"\n")


def evaluate_live(
    seeds: list[int], days: float, quiet_days: float, kinds: tuple[str, ...]
) -> Summary:
    """Incident runs on ``seeds``, each with ``quiet_days`` of incident-free warm-up (its
    false alerts count like any others)."""
    return Summary([run_live(seed, days, quiet_days, kinds) for seed in seeds], [])
