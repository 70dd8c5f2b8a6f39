"""Exactness on the real broker: kill -9 mid-stream, and two workers sharing the partitions.

Ground truth is numpy over the values we produced. Every published window result
must match it; a result may be republished after a crash (at-least-once output),
but every copy must be identical, and no window may be missing.
"""

from __future__ import annotations

import json
import math
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

from pipeline.sim.simulate import EventSimulator
from pipeline.wire.topics import load_catalogue
from tests.accuracy import percentile_tolerance
from tests.integration.harness import (
    Worker,
    collect,
    hub,
    produce_raw,
    produce_to_partitions,
    run,
    stable_group_members,
    wait_until,
)

MODELS = ("model-a", "model-b", "model-c")
SIZES = (60, 300, 900)
TOPIC_OF_SIZE = {60: "hub.metrics.1m", 300: "hub.metrics.5m", 900: "hub.metrics.15m"}


def _dataset(
    n: int, seed: int, start: float | None = None
) -> tuple[list[bytes], dict[tuple[int, int, str], np.ndarray]]:
    """Latency events over two quarter-hours (by default the last-but-one hour's, so
    already closed), and numpy's view of every window."""
    if start is None:
        start = math.floor((time.time() - 3600) / 900) * 900
    rng = np.random.default_rng(seed)
    sim = EventSimulator(seed=seed)
    ts = np.sort(rng.uniform(start, start + 1800, n))
    models = rng.integers(0, len(MODELS), n)
    values = rng.lognormal(6.0, 0.6, n)
    messages = []
    for t, m, v in zip(ts.tolist(), models.tolist(), values.tolist(), strict=True):
        event = sim.latency_event(datetime.fromtimestamp(t, UTC), MODELS[m], v)
        messages.append(event.model_copy(update={"tags": {"region": "r1"}}).to_wire_bytes())
    truth: dict[tuple[int, int, str], list[float]] = defaultdict(list)
    for t, m, v in zip(ts.tolist(), models.tolist(), values.tolist(), strict=True):
        for size in SIZES:
            truth[(size, int(t // size * size), MODELS[m])].append(v)
    return messages, {k: np.array(v) for k, v in truth.items()}


def _produce_ahead(
    bootstrap: str, prefix: str, n: int, seed: int, per_message: int
) -> dict[tuple[int, int, str], np.ndarray]:
    """For workers already caught up (their watermark is the wall clock): events dated
    ahead of it (within the future-skew limit), two quarter-hours from the next one,
    ``per_message`` to a message; then a sentinel after them on every input partition
    of every module (the watermark is the lowest progress over all of them), whose event
    time closes their last windows. Returns numpy's view of every window."""
    start = math.ceil(time.time() / 900) * 900
    messages, truth = _dataset(n, seed=seed, start=start)
    if per_message > 1:
        messages = [
            b"[" + b",".join(messages[i : i + per_message]) + b"]" for i in range(0, n, per_message)
        ]
    topic = prefix + "llm-observatory.events"
    run(produce_raw(bootstrap, [(topic, m) for m in messages]))
    sentinel = EventSimulator(seed=0).latency_event(
        datetime.fromtimestamp(start + 1800 + 90, UTC), "sentinel", 1.0
    )
    for spec in load_catalogue(prefix=prefix).by_role("input"):
        run(produce_to_partitions(bootstrap, spec.name, sentinel.to_wire_bytes()))
    return truth


def _results(records: list) -> dict[tuple[int, int, str], list[dict]]:
    found: dict[tuple[int, int, str], list[dict]] = defaultdict(list)
    for record in records:
        doc = json.loads(record.value)
        if doc["name"] != "llm_latency.total_latency_ms" or doc["tags"]["model_id"] not in MODELS:
            continue
        start = datetime.fromisoformat(doc["window_start"].replace("Z", "+00:00")).timestamp()
        end = datetime.fromisoformat(doc["window_end"].replace("Z", "+00:00")).timestamp()
        found[(int(end - start), int(start), doc["tags"]["model_id"])].append(doc["values"])
    return found


def _collect_all(bootstrap: str, prefix: str, truth: dict, timeout: float) -> dict:
    """Read each metrics topic until every window of the ground truth has been published."""
    found: dict = {}
    for size, topic in TOPIC_OF_SIZE.items():
        want = sum(1 for key in truth if key[0] == size)

        def done(records: list, want: int = want) -> bool:
            return len(_results(records)) >= want

        records = run(collect(bootstrap, prefix + topic, done, timeout))
        found.update(_results(records))
    return found


def _late_points(bootstrap: str, prefix: str) -> int:
    """Points the workers reported late: for the failure message of a count mismatch."""
    return len(run(collect(bootstrap, prefix + "hub.late-events", lambda r: False, 3)))


def _assert_exact(found: dict, truth: dict, late_points: Callable[[], int]) -> None:
    missing = sorted(set(truth) - set(found))
    assert not missing, f"{len(missing)} windows never published, e.g. {missing[:3]}"
    wrong_counts = sorted(
        (key, [copy["count"] for copy in found[key]], values.size)
        for key, values in truth.items()
        if any(copy["count"] != values.size for copy in found[key])
    )
    assert not wrong_counts, (
        f"(window, published counts, true count): {wrong_counts}; late points: {late_points()}"
    )
    for key, values in truth.items():
        copies = found[key]
        first = copies[0]
        for copy in copies[1:]:
            assert copy["count"] == first["count"] and copy["sum"] == first["sum"], key
        assert first["count"] == values.size, (key, first["count"], values.size)
        assert first["sum"] == pytest.approx(values.sum(), rel=1e-12), key
        assert first["min"] == values.min() and first["max"] == values.max(), key
        for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
            truth_q = float(np.percentile(values, q))
            tolerance = percentile_tolerance(values.size, q)
            assert abs(first[name] - truth_q) / truth_q <= tolerance, (key, name, values.size)


@pytest.mark.integration
def test_kill_minus_nine_mid_stream_loses_and_doubles_nothing(
    kafka_bootstrap: str, hub_env: dict[str, str], tmp_path
) -> None:
    env = hub_env
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    messages, truth = _dataset(30_000, seed=21)
    # Half one event per message, half JSON arrays of 100 (the columnar ingest path), so
    # the replay after the crash re-reads batches whose events were partly aggregated.
    half = len(messages) // 2
    batches = [
        b"[" + b",".join(messages[i : i + 100]) + b"]" for i in range(half, len(messages), 100)
    ]
    topic = prefix + "llm-observatory.events"
    run(produce_raw(kafka_bootstrap, [(topic, m) for m in messages[:half] + batches]))

    first = Worker(env, "crash-1")
    try:
        # Wait until windows are being published, then kill -9 in the middle of the stream.
        run(collect(kafka_bootstrap, prefix + "hub.metrics.1m", lambda r: len(r) >= 20, 90))
        assert first.alive(), first.log_tail()
    finally:
        first.stop(signal.SIGKILL)

    # Restart on a fresh data dir: state must come back from the changelog topic.
    env2 = {**env, "HUB_DATA_DIR": str(tmp_path / "worker-after-crash")}
    second = Worker(env2, "crash-2")
    try:
        found = _collect_all(kafka_bootstrap, prefix, truth, 180)
        assert second.alive(), second.log_tail()
    finally:
        second.stop()
    _assert_exact(found, truth, lambda: _late_points(kafka_bootstrap, prefix))


@pytest.mark.integration
def test_two_workers_split_partitions_and_agree_with_ground_truth(
    kafka_bootstrap: str, hub_env: dict[str, str], tmp_path
) -> None:
    env = hub_env
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")

    one = Worker(env, "scale-1")
    two = Worker({**env, "HUB_DATA_DIR": str(tmp_path / "worker-two")}, "scale-2")
    try:
        # Produce only once both are in the group, so the split cannot depend on how fast
        # the first worker gets through the data before the second one joins.
        wait_until(
            lambda: run(stable_group_members(kafka_bootstrap, env["HUB_APP_ID"])) == 2,
            120,
            "both workers in one stable consumer group",
            one,
            two,
        )
        truth = _produce_ahead(kafka_bootstrap, prefix, 60_000, seed=22, per_message=1)
        found = _collect_all(kafka_bootstrap, prefix, truth, 180)
        assert one.alive(), one.log_tail()
        assert two.alive(), two.log_tail()
    finally:
        one.stop()
        two.stop()
    _assert_exact(found, truth, lambda: _late_points(kafka_bootstrap, prefix))
    # Both workers owned (and restored state for) some of the points partitions.
    for worker in (one, two):
        assert "restored watermark" in worker.log_tail(2000), worker.log_tail()


@pytest.mark.integration
def test_processes_option_starts_together_splits_the_input_and_stays_exact(
    kafka_bootstrap: str, hub_env: dict[str, str]
) -> None:
    """`hub worker --processes 2`: the siblings pass a start barrier, each runs an ingest
    consumer of one group, and the results are exact."""
    env = hub_env
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    worker = Worker(env, "procs", command=("worker", "--loglevel", "info", "--processes", "2"))
    try:
        wait_until(
            lambda: run(stable_group_members(kafka_bootstrap, env["HUB_APP_ID"])) == 2,
            120,
            "both processes in one stable consumer group",
            worker,
        )
        truth = _produce_ahead(kafka_bootstrap, prefix, 20_000, seed=23, per_message=200)
        found = _collect_all(kafka_bootstrap, prefix, truth, 180)
        assert worker.alive(), worker.log_tail()
        # each process reads input with its own ingest consumer, in one group
        wait_until(
            lambda: run(stable_group_members(kafka_bootstrap, env["HUB_APP_ID"] + "-ingest")) == 2,
            30,
            "both ingest consumers in the ingest group",
            worker,
        )
    finally:
        worker.stop()
    _assert_exact(found, truth, lambda: _late_points(kafka_bootstrap, prefix))
