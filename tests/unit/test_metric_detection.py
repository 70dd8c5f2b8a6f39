"""Anomaly detection over published window results (the streaming detector's logic)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from pipeline.metric_detection import MetricDetectors
from pipeline.models.correlation import AnomalyType
from pipeline.models.events import SourceModule
from pipeline.models.metrics import (
    AggregatedMetric,
    CounterValues,
    StatisticalMeasures,
    TimeWindow,
)

T0 = 1_700_000_040


def _stats(p95: float) -> StatisticalMeasures:
    return StatisticalMeasures(
        avg=p95 / 2, min=1.0, max=p95 * 1.2, p50=p95 / 2, p95=p95, p99=p95 * 1.1,
        stddev=1.0, count=100, sum=p95 * 50,
    )  # fmt: skip


def _metric(minute: int, values: object, name: str, tags: dict[str, str]) -> AggregatedMetric:
    return AggregatedMetric(
        name=name,
        window=TimeWindow.one_minute,
        window_start=datetime.fromtimestamp(T0 + 60 * minute, UTC),
        window_end=datetime.fromtimestamp(T0 + 60 * minute + 60, UTC),
        values=values,
        tags=tags,
    )


def test_latency_p95_spike_alerts_once_with_the_series_module() -> None:
    rng = np.random.default_rng(3)
    detectors = MetricDetectors()
    tags = {"model_id": "gpt-4o", "source_module": "llm-observatory"}
    alerts = []
    for minute in range(60):
        p95 = 800 + rng.normal(0, 20) + (2_000 if 40 <= minute < 43 else 0)
        event = detectors.observe(_metric(minute, _stats(p95), "llm_latency.total_ms", tags))
        if event is not None:
            alerts.append((minute, event))
    critical = [(m, e) for m, e in alerts if e.anomaly_score >= 0.8]
    assert [m for m, _ in critical] == [40], alerts
    assert len(alerts) <= 2, "a non-critical blip at most besides the incident"
    event = critical[0][1]
    assert event.metric == "llm_latency.total_ms.p95"
    assert event.anomaly_type is AnomalyType.SPIKE and event.anomaly_score >= 0.8
    assert event.source_module is SourceModule.LLM_OBSERVATORY
    assert event.timestamp.timestamp() == T0 + 60 * 40
    assert event.observed - event.baseline == event.deviation


def test_counter_collapse_is_a_frequency_anomaly_and_series_are_separate() -> None:
    rng = np.random.default_rng(4)
    detectors = MetricDetectors()
    kinds = []
    for minute in range(50):
        for model in ("a", "b"):
            count = int(rng.poisson(400))
            if model == "a" and minute >= 45:
                count = 10  # the module went almost silent
            values = CounterValues(value=count, rate=count / 60)
            event = detectors.observe(_metric(minute, values, "hub_events.count", {"m": model}))
            if event is not None:
                kinds.append((minute, model, event.anomaly_type))
    assert kinds and kinds[0] == (45, "a", AnomalyType.FREQUENCY_ANOMALY), kinds
    assert all(model == "a" for _, model, _ in kinds)
    assert detectors.series == 2
