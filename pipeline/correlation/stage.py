"""The correlation stage: every detection partition's alerts joined in event time.

Incidents cross modules, tenants and models, so this stage has one partition (the
``hub.correlate`` topic, one global key): its input is small (alert starts, the later
values of series that alerted, and the results that composites and rules combine),
and its decisions need all of it. Records are held until every detection partition
has marked past their window end (:mod:`pipeline.stages.event_time`), then, window end by
window end:

1. rule inputs are judged (``rules.yaml``) and composite inputs gathered; the
   window's composites are emitted once it is closed everywhere, and scored by the
   composites' own detectors;
2. the values of recently alerted series go to the correlators;
3. the alerts, in (window size, start, series) order, are placed in incidents: one
   correlator per window size, grouping within :func:`correlation_window_s` of an
   incident's first alert.

The limit of one global key: correlation runs on one process at a time (another takes
over from the changelog); its input is what detection concluded, a small fraction of
the traffic. The whole object is the partition's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.correlation.composites import CompositeBuilder, CompositeConfig, CompositeResult
from pipeline.correlation.incidents import (
    AnomalyCorrelator,
    CorrelatorConfig,
    SeriesKey,
    correlation_window_s,
)
from pipeline.correlation.rules import RULE_PREFIX, RuleEngine
from pipeline.detection.metric_detection import Alert, MetricDetectors, Phase
from pipeline.models.correlation import AnomalyCorrelation
from pipeline.stages.event_time import ReleaseBuffer, SourceMarks
from pipeline.stages.records import ALERT, INPUT, KIND_ORDER, MARK, POINT, Decoded


@dataclass(slots=True)
class CorrelateOutput:
    alerts: list[Alert] = field(default_factory=list)
    """Rule and composite alerts, for the anomalies topic."""
    correlations: list[AnomalyCorrelation] = field(default_factory=list)
    composites: list[CompositeResult] = field(default_factory=list)


def _series_text(key: tuple[str, tuple[tuple[str, str], ...]]) -> str:
    return key[0] + "|" + ",".join(f"{k}={v}" for k, v in key[1])


@dataclass(slots=True)
class CorrelateStage:
    sources: int
    """Detection partitions that mark this stage."""
    sizes: frozenset[int]
    """Window sizes whose alerts are correlated."""
    rules: RuleEngine
    composites: CompositeBuilder = field(
        default_factory=lambda: CompositeBuilder(CompositeConfig(close_after_windows=None))
    )
    composite_detectors: MetricDetectors = field(
        default_factory=lambda: MetricDetectors(keep_points=True)
    )
    marks: SourceMarks = field(init=False)
    buffer: ReleaseBuffer = field(default_factory=ReleaseBuffer)
    correlators: dict[int, AnomalyCorrelator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.marks = SourceMarks(self.sources)
        for size in sorted(self.sizes):
            self.correlators.setdefault(
                size,
                AnomalyCorrelator(
                    CorrelatorConfig(window_s=correlation_window_s(size), step_s=float(size))
                ),
            )

    @property
    def watermark(self) -> float:
        return self.buffer.released_through

    def offer(self, source: int, record: Decoded) -> CorrelateOutput:
        """One ``hub.correlate`` record of detection partition ``source``."""
        kind, end, item = record
        if kind == MARK:
            self.marks.mark(source, end)
            return self._release()
        if kind == INPUT:
            tags = tuple(sorted(item.tags.items()))
            identity = (KIND_ORDER[INPUT], item.window.seconds, 0.0, item.name, tags)
        elif kind == POINT:
            identity = (KIND_ORDER[POINT], item.window_s, item.start, _series_text(item.key))
        elif kind == ALERT:
            start = item.event.timestamp.timestamp()
            identity = (KIND_ORDER[ALERT], item.window_s, start, _series_text(item.key))
        else:  # pragma: no cover - decode() admits no other kind
            raise ValueError(kind)
        self.buffer.offer(end, identity, record)
        return CorrelateOutput()

    def _release(self) -> CorrelateOutput:
        out = CorrelateOutput()
        for end, records in self.buffer.release(self.marks.watermark):
            self._window(end, records, out)
        return out

    def _window(self, end: float, records: list[Decoded], out: CorrelateOutput) -> None:
        alerts: list[tuple[tuple, Alert | None, Any]] = []
        for kind, _, item in records:
            if kind == INPUT:
                for alert in self.rules.observe(item):
                    out.alerts.append(alert)
                self.composites.observe(item)
        for result in self.composites.close_through(end):
            out.composites.append(result)
            for alert in self.composite_detectors.observe(result.metric):
                out.alerts.append(alert)
                if alert.phase is Phase.STARTED:
                    start = alert.event.timestamp.timestamp()
                    alerts.append(((alert.window_s, start, _series_text(alert.key)), alert, None))
        for point in self.composite_detectors.take_points():
            self._observe(point.key, point.window_s, point.start, point.value)
        for kind, _, item in records:
            if kind == POINT:
                self._observe(item.key, item.window_s, item.start, item.value)
            elif kind == ALERT:
                order = (item.window_s, item.event.timestamp.timestamp(), _series_text(item.key))
                alerts.append((order, None, item))
        alerts.sort(key=lambda entry: entry[0])  # series text is unique per window size
        for _, own, forwarded in alerts:
            if own is not None:
                correlator = self.correlators.get(own.window_s)
                key, event = own.key, own.event
            else:
                correlator = self.correlators.get(forwarded.window_s)
                key, event = forwarded.key, forwarded.event
                if correlator is not None:
                    correlator.recall(key, forwarded.history)
            if correlator is None or event.metric.startswith(RULE_PREFIX):
                continue  # rule alerts are verdicts on thresholds, not an incident's shape
            correlation = correlator.add_anomaly(key, event)
            if correlation is not None:
                out.correlations.append(correlation)

    def _observe(self, key: SeriesKey, window_s: int, start: float, value: float) -> None:
        correlator = self.correlators.get(window_s)
        if correlator is not None:
            correlator.observe(key, start, value)
