"""Anomaly detection and correlation on the real broker: a prompt-injection burst that
slows the model down becomes an ``AnomalyEvent`` per metric on the anomalies topic, at
the window where it starts, and one ``AnomalyCorrelation`` whose root cause is the
security alert."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipeline.models.correlation import AnomalyCorrelation, AnomalyEvent, AnomalyType
from pipeline.sim.incident_demo import INCIDENT_MINUTE, MINUTES, incident_history
from pipeline.sim.simulate import EventSimulator
from tests.integration.harness import Worker, collect, hub, produce_raw, run

METRIC = "llm_latency.total_latency_ms.p95"
THREAT_METRIC = "security_threats.count"


@pytest.mark.integration
def test_incident_is_published_as_anomalies_and_one_correlation(
    kafka_bootstrap: str, hub_env: dict[str, str]
) -> None:
    env = hub_env
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    start = math.floor((time.time() - 60 * (MINUTES + 10)) / 60) * 60
    incident_minute = INCIDENT_MINUTE
    messages = [
        (f"{prefix}{event.source_module.value}.events", event.to_wire_bytes())
        for event in incident_history(start)
    ]
    run(produce_raw(kafka_bootstrap, messages))

    def one_minute(records: list) -> list:
        """Episode starts on 1-minute windows (the 5m and 1h series alert under the same
        name; escalations and ends repeat an episode's id)."""
        return [
            r
            for r in records
            if dict(r.headers).get("hub.window") == b"1m"
            and dict(r.headers).get("hub.episode") == b"started"
        ]

    def ours(records: list) -> list[dict]:
        docs = [json.loads(r.value) for r in one_minute(records)]
        return [d for d in docs if d["metric"] == METRIC]

    worker = Worker(env, "anomaly")
    try:
        incident_ts = start + 60 * incident_minute

        def incident_seen(records: list) -> bool:
            """Both the latency and the threat alert of the incident's minute arrived."""
            seen = {
                doc["metric"]
                for doc in (json.loads(r.value) for r in one_minute(records))
                if datetime.fromisoformat(doc["timestamp"].replace("Z", "+00:00")).timestamp()
                == incident_ts
            }
            return {METRIC, THREAT_METRIC} <= seen

        records = run(collect(kafka_bootstrap, prefix + "hub.anomalies", incident_seen, 120))

        def incident_correlated(records: list) -> bool:
            """A correlation holding both alerts (it may first be published with fewer)."""
            return any(
                {METRIC, THREAT_METRIC} <= {a["metric"] for a in json.loads(r.value)["anomalies"]}
                for r in records
            )

        correlations = run(
            collect(kafka_bootstrap, prefix + "hub.correlations", incident_correlated, 60)
        )
        assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()
    found = [AnomalyEvent.from_wire(json.dumps(d)) for d in ours(records)]
    assert found, f"no {METRIC} anomaly; worker log:\n{worker.log_tail()}"
    incident = datetime.fromtimestamp(start + 60 * incident_minute, UTC)
    at_incident = [a for a in found if a.timestamp == incident]
    assert at_incident, [(a.timestamp, a.anomaly_score) for a in found]
    alert = max(at_incident, key=lambda a: a.anomaly_score)  # several series (regions)
    assert alert.anomaly_type is AnomalyType.SPIKE and alert.anomaly_score >= 0.8
    assert alert.observed > 2 * alert.baseline
    assert alert.source_module.value == "llm-observatory"
    false_critical = [a for a in found if a.timestamp < incident and a.anomaly_score >= 0.8]
    assert not false_critical, false_critical

    threat_alerts = [
        AnomalyEvent.from_wire(r.value)
        for r in one_minute(records)
        if json.loads(r.value)["metric"] == THREAT_METRIC
    ]
    assert any(a.timestamp == incident for a in threat_alerts), (
        threat_alerts,
        sorted({json.loads(r.value)["metric"] for r in records}),
    )
    assert correlations, f"no correlation; worker log:\n{worker.log_tail()}"
    published = [AnomalyCorrelation.from_wire(r.value) for r in correlations]
    holding = [c for c in published if THREAT_METRIC in {a.metric for a in c.anomalies}]
    arrivals = [
        (json.loads(r.value)["metric"], json.loads(r.value)["timestamp"], dict(r.headers))
        for r in records
    ]
    if not holding:  # keep the evidence: which alerts arrived, in which order
        dump = [
            {"value": json.loads(r.value), "headers": {k: v.decode() for k, v in r.headers}}
            for r in records
        ]
        Path("artifacts").mkdir(exist_ok=True)
        Path("artifacts/anomaly-debug.json").write_text(
            json.dumps(
                {
                    "anomalies": dump,
                    "correlations": [json.loads(r.value) for r in correlations],
                    "log": worker.log_tail(),
                },
                indent=1,
            )
        )
    assert holding, ([[(a.metric, a.timestamp) for a in c.anomalies] for c in published], arrivals)
    correlation = holding[-1]
    metrics = {a.metric for a in correlation.anomalies}
    assert {METRIC, THREAT_METRIC} <= metrics, metrics
    assert correlation.strength > 0.7
    root = correlation.root_cause
    assert root is not None
    (root_alert,) = [a for a in correlation.anomalies if a.event_id == root.root_event_id]
    assert root_alert.metric == THREAT_METRIC, [  # same minute: the attack explains the slowdown
        (a.metric, a.source_module.value, a.timestamp, a.anomaly_score)
        for a in correlation.anomalies
    ]
    assert root.recommendations and root.causal_chain
    impact = correlation.impact
    assert impact.performance_impact is not None and impact.security_impact is not None
    latency_alerts = [a for a in correlation.anomalies if a.metric.startswith("llm_latency")]
    assert impact.performance_impact.latency_increase_percent == pytest.approx(
        max(100 * a.deviation / a.baseline for a in latency_alerts)
    )
    assert impact.security_impact.threats_detected == round(root_alert.observed)


SHAPE_METRIC = "llm_latency.total_latency_ms.distribution"
DRIFT_METRIC = "llm_latency.total_latency_ms.p50"


def _one_model_minutes(
    env: dict[str, str],
    bootstrap: str,
    minutes: int,
    change: Callable[[int, np.ndarray, np.random.Generator], np.ndarray],
    seed: int,
) -> float:
    """Produce ``minutes`` of 40 lognormal latencies a minute of one model (one series),
    ``change(minute, latencies, rng)`` applied to each minute's; ending about now. Returns
    the first minute's start."""
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    start = math.floor((time.time() - 60 * (minutes + 10)) / 60) * 60
    rng = np.random.default_rng(seed)
    sim = EventSimulator(seed=seed, environment="shape-test")
    messages = []
    for minute in range(minutes):
        latencies = change(minute, rng.lognormal(math.log(450), 0.35, 40), rng)
        for offset, value in zip(np.sort(rng.uniform(0, 60, 40)), latencies, strict=True):
            moment = datetime.fromtimestamp(start + 60 * minute + float(offset), UTC)
            event = sim.latency_event(moment, "one-model", float(np.round(value, 2)))
            event = event.model_copy(update={"tags": {"region": "us-east-1"}})  # one series
            messages.append((f"{prefix}llm-observatory.events", event.to_wire_bytes()))
    run(produce_raw(bootstrap, messages))
    return start


def _first_alerts(
    env: dict[str, str], bootstrap: str, metric: str, timeout: float
) -> list[AnomalyEvent]:
    """Run a worker until a 1-minute episode of ``metric`` starts on the anomalies topic."""

    def started(records: list) -> list[AnomalyEvent]:
        return [
            AnomalyEvent.from_wire(r.value)
            for r in records
            if json.loads(r.value)["metric"] == metric
            and dict(r.headers).get("hub.episode") == b"started"
            and dict(r.headers).get("hub.window") == b"1m"
        ]

    topic = env["HUB_TOPIC_PREFIX"] + "hub.anomalies"
    worker = Worker(env, metric.rsplit(".", 1)[-1])
    try:
        records = run(collect(bootstrap, topic, lambda rs: bool(started(rs)), timeout))
        assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()
    seen = [(json.loads(r.value)["metric"], json.loads(r.value)["timestamp"]) for r in records]
    found = started(records)
    assert found, f"no {metric} anomaly among {seen}; worker log:\n{worker.log_tail()}"
    return found


@pytest.mark.integration
def test_a_rollout_that_keeps_the_mean_is_a_distribution_shift_from_the_histograms(
    kafka_bootstrap: str, hub_env: dict[str, str]
) -> None:
    """40 requests a minute of one model; from minute 32 half of them 40 % faster and half
    40 % slower. The mean holds; the histogram topic carries the change to the detector."""
    rollout_minute = 32

    def rollout(minute: int, latencies: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if minute < rollout_minute:
            return latencies
        return latencies * np.where(rng.random(latencies.size) < 0.5, 0.6, 1.4)

    start = _one_model_minutes(hub_env, kafka_bootstrap, 40, rollout, seed=11)
    alert = _first_alerts(hub_env, kafka_bootstrap, SHAPE_METRIC, 120)[0]
    assert alert.anomaly_type is AnomalyType.DISTRIBUTION_SHIFT
    first_window = (alert.timestamp.timestamp() - start) / 60
    assert rollout_minute - 1 <= first_window <= rollout_minute + 3, first_window
    assert 0.0 < alert.observed <= 1.0  # the share of requests that changed bucket


@pytest.mark.integration
def test_a_slow_creep_is_raised_on_the_median_through_the_broker(
    kafka_bootstrap: str, hub_env: dict[str, str]
) -> None:
    """40 requests a minute of one model for 140 minutes; from minute 100 its latency
    creeps up, +60 % over 90 minutes (four times the evaluation's slope, so the test is
    short). No single window stands out; the median's CUSUM names it on `.p50`."""
    drift_minute, ramp = 100, 90

    def creep(minute: int, latencies: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return latencies * (1.0 + 0.6 * max(0, minute - drift_minute) / ramp)

    start = _one_model_minutes(hub_env, kafka_bootstrap, 140, creep, seed=2)
    alert = _first_alerts(hub_env, kafka_bootstrap, DRIFT_METRIC, 180)[0]
    assert alert.anomaly_type is AnomalyType.PATTERN_DEVIATION
    first_window = (alert.timestamp.timestamp() - start) / 60
    assert drift_minute <= first_window <= drift_minute + 35, first_window
    assert alert.observed > alert.baseline  # it crept up
