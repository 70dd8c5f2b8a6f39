"""Window results written straight to wire bytes equal the models' bytes, every shape."""

from __future__ import annotations

import numpy as np

from pipeline.ingest.normalize import GAUGE_FIELDS, Point
from pipeline.ingest.point_batches import SourceGroups, decode_batch, encode_batch
from pipeline.windows.aggregates import result_metric
from pipeline.windows.engine import EngineConfig, PartitionEngine, WindowResult
from pipeline.windows.histograms import HISTOGRAM_BOUNDS, histogram_metric
from pipeline.wire.result_wire import histogram_wire, metric_wire

T0 = 1_764_000_000.0


def _results(seed: int) -> list[WindowResult]:
    """Latency statistics with histograms, event counts, gauges with and without a
    previous window, over several minutes and window sizes, from the real engine."""
    rng = np.random.default_rng(seed)
    groups = SourceGroups()
    for i in range(3_000):
        moment = T0 + float(rng.uniform(0, 900))
        model = f"m{int(rng.integers(0, 3))}"
        tags = (("environment", "production"), ("model_id", model),
                ("source_module", "llm-observatory"))  # fmt: skip
        latency = {"total_latency_ms": float(rng.lognormal(6, 0.5))}
        if rng.random() < 0.7:
            latency["ttft_ms"] = float(rng.lognormal(4, 0.3))
        groups.add_point(i, Point("llm_latency", moment, tags, latency))
        groups.add_point(i, Point("hub_events", moment, tags, {"count": 1.0}))
        if rng.random() < 0.05:
            gauge = {"concurrent_requests": float(rng.integers(0, 9))}
            groups.add_point(i, Point("llm_throughput", moment, tags, gauge))
    engine = PartitionEngine({}, EngineConfig(gauge_fields=GAUGE_FIELDS,
                                               histogram_bounds=HISTOGRAM_BOUNDS))  # fmt: skip
    for offset, batch in enumerate(groups.route("t", 0, 1).values()):
        engine.apply(offset, decode_batch(encode_batch(batch)))
    return engine.close_all().results


def test_metric_and_histogram_bytes_equal_the_models_on_every_shape() -> None:
    shapes = set()
    histograms = 0
    for seed in range(3):
        for result in _results(seed):
            metric = result_metric(result)
            assert metric_wire(result) == metric.to_wire_bytes(), result
            shapes.add((type(metric.values).__name__, getattr(metric.values, "delta", 0) is None))
            if result.sketch.complete_buckets is not None:
                histograms += 1
                expected = histogram_metric(result, metric.name, metric.tags).to_wire_bytes()
                assert histogram_wire(result, metric.name, metric.tags) == expected
    # statistics, counters, gauges with a previous window and without one
    assert {s[0] for s in shapes} == {"StatisticalMeasures", "CounterValues", "GaugeValues"}
    assert ("GaugeValues", True) in shapes and ("GaugeValues", False) in shapes
    assert histograms > 0
