"""Anomaly detection over published window results: one detector per metric series.

The streaming side of issue 4's first part: every closed window of a metric series
(name + tags + window size) is one point of that series. The value scored is the
p95 for statistics (a latency SLO looks at the tail), the total for counters (a
jump or collapse in counts is a frequency anomaly), and the value for gauges.
Detector state lives in memory: a restarted worker warms up again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pipeline.correlation import SeriesKey
from pipeline.detection import DetectorConfig, SeriesDetector
from pipeline.models.correlation import AnomalyEvent, AnomalyType
from pipeline.models.events import SourceModule
from pipeline.models.metrics import AggregatedMetric, CounterValues, GaugeValues

_ID_NAMESPACE = uuid.UUID("0b7d7f3e-2f4e-4c55-a3a2-7f9b1c1f5e61")


def observed_value(metric: AggregatedMetric) -> tuple[str, float, bool]:
    """(metric name as alerted, value, is a counter) for one window result.

    Money is scored on the window's total (spend per window, the FinOps question);
    other statistics on their p95 (latency SLOs look at the tail).
    """
    values = metric.values
    if isinstance(values, CounterValues):
        return metric.name, float(values.value), True
    if isinstance(values, GaugeValues):
        return metric.name, values.value, False
    if metric.name.endswith("_usd"):
        return f"{metric.name}.sum", values.sum, False
    return f"{metric.name}.p95", values.p95, False


def series_key(metric: AggregatedMetric) -> SeriesKey:
    """The scored series a window result belongs to: ``name@window`` and its tags."""
    name, _, _ = observed_value(metric)
    return f"{name}@{metric.window.value}", tuple(sorted(metric.tags.items()))


def _module(tags: dict[str, str]) -> SourceModule:
    try:
        return SourceModule(tags.get("source_module", ""))
    except ValueError:
        return SourceModule.LLM_ANALYTICS_HUB


@dataclass(slots=True)
class MetricDetectors:
    config: DetectorConfig = field(default_factory=DetectorConfig)
    _detectors: dict[tuple[str, str, tuple[tuple[str, str], ...]], SeriesDetector] = field(
        default_factory=dict
    )

    @property
    def series(self) -> int:
        return len(self._detectors)

    def observe(self, metric: AggregatedMetric) -> AnomalyEvent | None:
        """Score one window result; an ``AnomalyEvent`` when an alert episode starts."""
        name, value, counter = observed_value(metric)
        tags = tuple(sorted(metric.tags.items()))
        key = (name, metric.window.value, tags)
        detector = self._detectors.get(key)
        if detector is None:
            detector = self._detectors[key] = SeriesDetector(self.config)
        moment = metric.window_start
        scored = detector.update(moment.timestamp(), value)
        if not scored.episode_start or scored.anomaly_type is None:
            return None
        kind = scored.anomaly_type
        if counter and kind in (AnomalyType.SPIKE, AnomalyType.DROP):
            kind = AnomalyType.FREQUENCY_ANOMALY
        assert scored.baseline is not None
        return AnomalyEvent(
            event_id=uuid.uuid5(_ID_NAMESPACE, f"{key!r}|{moment.isoformat()}"),
            source_module=_module(metric.tags),
            anomaly_type=kind,
            anomaly_score=round(scored.score, 6),
            baseline=scored.baseline,
            observed=value,
            deviation=scored.deviation,
            timestamp=moment,
            metric=name,
        )
