"""End to end on the real broker: events in, 1-minute metrics and dead letters out."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
import pytest

from pipeline.sim.simulate import VARIANTS, EventSimulator
from tests.accuracy import percentile_tolerance
from tests.integration.harness import Worker, collect, hub, produce_raw, run

MODEL = "it-skeleton-model"


def _mutate(event_json: str, **changes: object) -> bytes:
    doc = json.loads(event_json)
    for dotted, value in changes.items():
        node = doc
        *parents, leaf = dotted.split("__")
        for name in parents:
            node = node[name]
        if value is ...:
            del node[leaf]
        else:
            node[leaf] = value
    return json.dumps(doc).encode()


@pytest.mark.integration
def test_events_become_exact_one_minute_latency_metrics(
    kafka_bootstrap: str, hub_env: dict[str, str]
) -> None:
    env = hub_env
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    obs, cost = f"{prefix}llm-observatory.events", f"{prefix}llm-cost-ops.events"

    start = math.floor((time.time() - 600) / 60) * 60  # a closed minute, ten minutes ago
    sim = EventSimulator(seed=11)
    rng = np.random.default_rng(11)
    latencies = rng.lognormal(mean=6.3, sigma=0.5, size=600)
    offsets = rng.uniform(0.0, 59.9, size=latencies.size)
    latency_events = [
        sim.latency_event(
            datetime.fromtimestamp(start, UTC) + timedelta(seconds=float(off)), MODEL, float(v)
        ).model_copy(update={"tags": {"region": "eu-west-1"}})  # one series
        for v, off in zip(latencies, offsets, strict=True)
    ]
    singles = [(obs, e.to_wire_bytes()) for e in latency_events[:400]]
    # The batched form: one message holding a JSON array of events, plus one bad element.
    batch_items = [e.to_wire() for e in latency_events[400:]] + ['{"not":"an event"}']
    batched = [(obs, ("[" + ",".join(batch_items) + "]").encode())]

    moment = datetime.fromtimestamp(start + 30, UTC)
    variants = [sim.make(v, moment) for v in VARIANTS]
    variant_msgs = [
        (f"{prefix}{_topic_of(e.source_module.value)}", e.to_wire_bytes()) for e in variants
    ]

    good = sim.make("cost.token_cost", moment).to_wire()
    latency = sim.latency_event(moment, "other-model", 100.0).to_wire()
    bad = {
        "malformed_json": b'{"event_id": "x", ',
        "unknown_module": _mutate(good, source_module="llm-costops"),
        "wrong_major": _mutate(good, schema_version="2.0.0"),
        "float_in_int": _mutate(good, payload__data__prompt_tokens=1200.0),
        "naive_timestamp": _mutate(good, timestamp="2024-03-02T08:15:28"),
        "missing_field": _mutate(latency, payload__data__total_latency_ms=...),
    }
    expected_paths = {
        "unknown_module": "source_module",
        "wrong_major": "schema_version",
        "float_in_int": "payload.data.prompt_tokens",
        "naive_timestamp": "timestamp",
        "missing_field": "payload.data.total_latency_ms",
    }
    bad_msgs = [(cost, raw) for raw in bad.values()]
    produced_events = len(latency_events) + len(variants) + len(bad) + 1  # +1 bad batch element

    # A backlog: the worker must hold every window until ingest has read it to the end.
    run(produce_raw(kafka_bootstrap, singles + batched + variant_msgs + bad_msgs))
    worker = Worker(env, "skeleton")
    try:
        processed_target = len(latency_events) + len(variants)

        def metrics_done(records: list) -> bool:
            return _event_count(records) >= processed_target and _latency(records) is not None

        records = run(collect(kafka_bootstrap, f"{prefix}hub.metrics.1m", metrics_done, 150))
        histograms = run(
            collect(
                kafka_bootstrap,
                f"{prefix}hub.histograms.1m",
                lambda r: _latency(r) is not None,
                30,
            )
        )
        dead = run(
            collect(
                kafka_bootstrap,
                f"{prefix}hub.dead-letter",
                lambda r: len(r) >= len(bad) + 1,
                60,
            )
        )
        assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()

    metric = _latency(records)
    assert metric is not None, f"no latency metric published; worker log:\n{worker.log_tail()}"
    assert metric["window"] == "one_minute"
    assert metric["window_start"] == datetime.fromtimestamp(start, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    values = metric["values"]
    assert values["count"] == latencies.size
    assert values["sum"] == pytest.approx(latencies.sum(), rel=1e-12)
    assert values["min"] == latencies.min() and values["max"] == latencies.max()
    for key, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        truth = float(np.percentile(latencies, q))
        tolerance = min(0.01, percentile_tolerance(latencies.size, q))
        assert abs(values[key] - truth) / truth <= tolerance, (key, values[key], truth)

    # The same window's histogram: OpenTelemetry GenAI duration buckets, exact counts.
    histogram = _latency(histograms)
    assert histogram is not None and histogram["metric_type"] == "histogram"
    bounds = [b["upper_bound"] for b in histogram["buckets"]]
    edges = [-math.inf, *bounds[:-1], math.inf]
    truth = [int(((latencies > lo) & (latencies <= hi)).sum()) for lo, hi in pairwise(edges)]
    assert [b["count"] for b in histogram["buckets"]] == truth
    assert bounds[0] == 10.0 and histogram["stats"]["count"] == latencies.size

    # Reconciliation: every produced event is either counted by the pipeline or dead-lettered.
    processed = _event_count(records)
    assert processed == processed_target
    assert len(dead) == len(bad) + 1
    assert processed + len(dead) == produced_events

    by_value = {rec.value: rec for rec in dead}
    for name, raw in bad.items():
        rec = by_value.get(raw)
        assert rec is not None, f"{name}: original bytes not found in the dead-letter topic"
        headers = {k: v.decode() for k, v in rec.headers}
        assert headers["hub.source.topic"] == cost
        assert int(headers["hub.source.offset"]) >= 0
        error = json.loads(headers["hub.error"])
        assert error["status_code"] == 400
        if name == "malformed_json":
            assert headers["hub.reason"] == "malformed_json"
        else:
            assert expected_paths[name] in error["field_errors"], (name, error)
    assert headers_of(by_value, bad["wrong_major"])["hub.reason"] == "unsupported_schema_version"
    batch_dead = [r for r in dead if dict(r.headers).get("hub.source.batch_index")]
    assert len(batch_dead) == 1
    assert (
        dict(batch_dead[0].headers)["hub.source.batch_index"] == str(len(batch_items) - 1).encode()
    )


def headers_of(by_value: dict, raw: bytes) -> dict[str, str]:
    return {k: v.decode() for k, v in by_value[raw].headers}


def _topic_of(module: str) -> str:
    return f"{module}.events"


def _decoded(records: list) -> list[dict]:
    return [json.loads(r.value) for r in records]


def _event_count(records: list) -> int:
    return sum(
        int(m["values"]["value"]) for m in _decoded(records) if m["name"] == "hub_events.count"
    )


def _latency(records: list) -> dict | None:
    for m in _decoded(records):
        if m["name"] == "llm_latency.total_latency_ms" and m["tags"].get("model_id") == MODEL:
            return m
    return None
