"""Closed windows to the wire format's AggregatedMetric, and window names.

Counter fields (:data:`pipeline.ingest.normalize.COUNTER_FIELDS`) take the counter shape
(total and per-second rate over the window), gauge fields
(:data:`pipeline.ingest.normalize.GAUGE_FIELDS`) the gauge shape (latest value and change
from the previous window); every other field the statistics shape.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from pipeline.ingest.normalize import COUNTER_FIELDS, GAUGE_FIELDS
from pipeline.models.metrics import (
    AggregatedMetric,
    CounterValues,
    GaugeValues,
    MetricValues,
    StatisticalMeasures,
    TimeWindow,
)
from pipeline.windows.engine import WindowResult

WINDOW_BY_SECONDS = {w.seconds: w for w in TimeWindow}
LABEL_ALIASES = {"30d": "1M", "1mo": "1M"}


def metric_name(measurement: str, field: str) -> str:
    return f"{measurement}.{field}"


def parse_windows(spec: str | tuple[str, ...] | list[str]) -> list[TimeWindow]:
    """``"1m,5m,30d"`` (or a list of labels) to windows; ``30d`` is the 30-day window."""
    labels = spec.split(",") if isinstance(spec, str) else list(spec)
    return [TimeWindow.from_label(LABEL_ALIASES.get(x.strip(), x.strip())) for x in labels]


def result_metric(result: WindowResult) -> AggregatedMetric:
    return AggregatedMetric(
        name=metric_name(result.measurement, result.field),
        window=WINDOW_BY_SECONDS[result.size_s],
        window_start=datetime.fromtimestamp(result.start, UTC),
        window_end=datetime.fromtimestamp(result.end, UTC),
        values=result_values(result),
        tags=dict(result.tags),
    )


def result_values(result: WindowResult) -> MetricValues:
    if (result.measurement, result.field) in COUNTER_FIELDS:
        total = result.sketch.total
        return CounterValues(value=round(total), rate=total / result.size_s)
    if (result.measurement, result.field) in GAUGE_FIELDS and not math.isnan(
        result.sketch.last_value
    ):
        value = result.sketch.last_value
        previous = result.previous_last
        return GaugeValues(value=value, delta=None if previous is None else value - previous)
    # (a gauge window restored from state written before gauges existed has no latest
    # value: it is published in the statistics shape rather than with a made-up one)
    return StatisticalMeasures(**result.sketch.measures())
