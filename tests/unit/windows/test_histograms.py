"""Histogram buckets per window (OpenTelemetry GenAI bounds), against counts made in Python."""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict

from pipeline.ingest.normalize import Point
from pipeline.ingest.point_batches import group_points
from pipeline.models.metrics import metric_from_wire
from pipeline.windows.engine import EngineConfig, PartitionEngine
from pipeline.windows.histograms import (
    HISTOGRAM_BOUNDS,
    OPERATION_DURATION_S,
    OVERFLOW_BOUND,
    TOKEN_USAGE,
    histogram_metric,
)

T0 = 1_700_000_100  # a 5-minute boundary
TAGS = (("model_id", "m"),)
FIELD = ("llm_latency", "total_latency_ms")


def _truth(values: list[float], bounds: tuple[float, ...]) -> list[int]:
    edges = [-math.inf, *bounds, math.inf]
    return [sum(1 for v in values if lo < v <= hi) for lo, hi in itertools.pairwise(edges)]


def test_bounds_are_the_opentelemetry_genai_ones_in_our_units() -> None:
    assert HISTOGRAM_BOUNDS[FIELD][0] == 10.0 and HISTOGRAM_BOUNDS[FIELD][-1] == 81_920.0
    assert len(HISTOGRAM_BOUNDS[FIELD]) == len(OPERATION_DURATION_S)
    tokens = HISTOGRAM_BOUNDS[("llm_token_usage", "total_tokens")]
    assert tokens == tuple(float(b) for b in TOKEN_USAGE)


def test_every_window_counts_its_values_into_buckets() -> None:
    rng = random.Random(9)
    config = EngineConfig(allowed_lateness_s=0.0, histogram_bounds=HISTOGRAM_BOUNDS)
    engine = PartitionEngine({}, config)
    bounds = HISTOGRAM_BOUNDS[FIELD]
    per_window: dict[tuple[int, int], list[float]] = defaultdict(list)
    items = []
    for offset in range(3_000):
        ts = T0 + rng.uniform(0, 600)
        value = round(rng.lognormvariate(7.0, 1.2), 1)
        if offset < len(bounds):
            value = bounds[offset]  # exactly on a bound: the bucket it closes
        items.append((offset, Point(FIELD[0], ts, TAGS, {FIELD[1]: value})))
        for size in (60, 300):
            per_window[(size, math.floor(ts / size) * size)].append(value)
    items.sort(key=lambda item: item[1].timestamp)
    outs = []
    for start in range(0, len(items), 250):
        (batch,) = group_points("src", 0, items[start : start + 250], 1).values()
        outs.append(engine.apply(start, batch))
    outs.append(engine.close_all())
    checked = 0
    for out in outs:
        for result in out.results:
            if result.size_s not in (60, 300):
                continue
            truth = _truth(per_window[(result.size_s, result.start)], bounds)
            counts = result.sketch.complete_buckets
            assert counts is not None and counts.tolist() == truth, (result.size_s, result.start)
            checked += 1
    assert checked == len(per_window)


def test_histogram_metric_reads_back_in_the_wire_format() -> None:
    config = EngineConfig(allowed_lateness_s=0.0, histogram_bounds=HISTOGRAM_BOUNDS)
    engine = PartitionEngine({}, config)
    values = [5.0, 10.0, 10.5, 250.0, 1e6]
    items = [(i, Point(FIELD[0], T0 + i, TAGS, {FIELD[1]: v})) for i, v in enumerate(values)]
    (batch,) = group_points("src", 0, items, 1).values()
    engine.apply(0, batch)
    (result,) = [r for r in engine.close_all().results if r.size_s == 60]
    metric = histogram_metric(result, "llm_latency.total_latency_ms", {"model_id": "m"})
    back = metric_from_wire(metric.to_wire_bytes())
    assert back == metric and back.metric_type == "histogram"
    counts = [b.count for b in back.buckets]
    assert counts == _truth(values, HISTOGRAM_BOUNDS[FIELD]) and sum(counts) == len(values)
    assert back.buckets[-1].upper_bound == OVERFLOW_BOUND and back.buckets[-1].count == 1
    assert back.stats.count == len(values) and back.timestamp.timestamp() == T0 + 60
