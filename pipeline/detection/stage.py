"""One partition of the detection stage: window results in, alerts out, in event time.

The aggregation partitions send every watched window result (and histogram) to the
detection topic keyed by family (metric, window, module, environment), so a series
and every sibling its family prior compares it with are read by one partition, and
mark it when they have closed their windows through a moment. A partition's
:class:`DetectStage` holds the results until every aggregation partition has marked
past their window end, then scores them window end by window end in a canonical
order; silences are judged at each window end that has results of the series' own
window size (traffic that stopped everywhere proves no series silent, and neither
does an hourly result after the minutes stopped), against that same watermark.
Its alerts, and what the correlation stage needs to group them, are a function of
the results alone: the same with one worker or several, before or after a restart.
The whole object is the partition's state (the worker snapshots it with the offset it
has applied).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.correlation.incidents import SeriesKey, correlation_window_s
from pipeline.detection.metric_detection import Alert, MetricDetectors, Phase, ScoredPoint
from pipeline.models.metrics import AggregatedMetric, HistogramMetric, TimeWindow
from pipeline.stages.event_time import ReleaseBuffer, SourceMarks
from pipeline.stages.records import (
    ForwardedAlert,
    ForwardedPoint,
    encode_alert,
    encode_input,
    encode_mark,
    encode_point,
)

HISTORY = 30
"""Recent values of a series sent with its alert (the correlator's ``history``)."""


def family_key(metric_name: str, window: str, tags: dict[str, str]) -> bytes:
    """The detection topic's key: a series and its family prior live in one partition."""
    module = tags.get("source_module", "")
    environment = tags.get("environment", "")
    return f"{metric_name}|{window}|{module}|{environment}".encode()


@dataclass(slots=True)
class DetectOutput:
    alerts: list[Alert] = field(default_factory=list)
    """For the anomalies topic, in order."""
    forwards: list[bytes] = field(default_factory=list)
    """For the correlation topic, in order, the mark last."""


@dataclass(slots=True)
class DetectStage:
    sources: int
    """Aggregation partitions that mark this one (the ``hub.points`` partitions)."""
    correlated_sizes: frozenset[int]
    """Window sizes whose alerts are correlated (the watched windows)."""
    forward_names: frozenset[str] = frozenset()
    """Metrics the correlation stage needs whole (composite and rule inputs)."""
    detectors: MetricDetectors = field(default_factory=lambda: MetricDetectors(keep_points=True))
    marks: SourceMarks = field(init=False)
    buffer: ReleaseBuffer = field(default_factory=ReleaseBuffer)
    _history: dict[SeriesKey, deque[tuple[float, float]]] = field(default_factory=dict)
    _watch: dict[SeriesKey, float] = field(default_factory=dict)
    """Series that alerted -> the window start up to which their values are forwarded."""

    def __post_init__(self) -> None:
        self.marks = SourceMarks(self.sources)

    @property
    def watermark(self) -> float:
        return self.buffer.released_through

    def offer_metric(self, metric: AggregatedMetric, wire: bytes) -> bool:
        """Hold one window result (its wire bytes are forwarded as they came); False: a repeat."""
        end = metric.window_end.timestamp()
        identity = (metric.window.seconds, 0, metric.name, tuple(sorted(metric.tags.items())))
        return self.buffer.offer(end, identity, (metric, wire))

    def offer_histogram(self, histogram: HistogramMetric, window: TimeWindow) -> bool:
        end = histogram.timestamp.timestamp()
        tags = tuple(sorted(histogram.tags.items()))
        return self.buffer.offer(
            end, (window.seconds, 1, histogram.name, tags), (histogram, window)
        )

    def mark(self, source: int, through: float) -> DetectOutput:
        """An aggregation partition closed its windows through ``through``: score whatever
        every partition has now closed."""
        self.marks.mark(source, through)
        out = DetectOutput()
        watermark = self.marks.watermark
        if watermark <= self.buffer.released_through:
            return out
        for end, records in self.buffer.release(watermark):
            self._score(end, records, out)
        out.forwards.append(encode_mark(watermark))
        return out

    def _score(self, end: float, records: Iterable, out: DetectOutput) -> None:
        alerts: list[Alert] = []
        sizes = set()
        for item, extra in records:
            if isinstance(item, AggregatedMetric):
                sizes.add(float(item.window.seconds))
                alerts += self.detectors.observe(item)
                if item.name in self.forward_names:
                    out.forwards.append(encode_input(end, extra))
            else:
                alerts += self.detectors.observe_histogram(item, extra)
        points = self.detectors.take_points()
        self._remember(points)
        # silent: a series of a size that other series of this partition published now
        alerts += self.detectors.silences(closed_through=end, sizes=frozenset(sizes))
        for point in points:
            until = self._watch.get(point.key)
            if until is not None and point.start <= until:
                out.forwards.append(
                    encode_point(
                        end, ForwardedPoint(point.key, point.window_s, point.start, point.value)
                    )
                )
        for alert in alerts:
            out.alerts.append(alert)
            if alert.phase is not Phase.STARTED or alert.window_s not in self.correlated_sizes:
                continue
            raised = alert.raised_at.timestamp() if alert.raised_at else end
            self._watch[alert.key] = max(
                self._watch.get(alert.key, -math.inf),
                raised + correlation_window_s(alert.window_s),
            )
            history = tuple(self._history.get(alert.key, ()))
            forwarded = ForwardedAlert(
                alert.key, alert.window_s, alert.event, alert.raised_at, history
            )
            out.forwards.append(encode_alert(end, forwarded))
        self._watch = {k: u for k, u in self._watch.items() if u >= end - 3600.0}

    def _remember(self, points: list[ScoredPoint]) -> None:
        for point in points:
            history = self._history.get(point.key)
            if history is None:
                history = self._history[point.key] = deque(maxlen=HISTORY)
            if history and history[-1][0] == point.start:
                history[-1] = (point.start, point.value)
            else:
                history.append((point.start, point.value))
