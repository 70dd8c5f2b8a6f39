"""QuantileSketch against numpy ground truth on the same data."""

import math

import numpy as np
import pytest

from pipeline.sketch import QuantileSketch, SketchFormatError


def _data(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(mean=6.0, sigma=0.6, size=n)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exact_moments_and_accurate_percentiles(seed: int) -> None:
    values = _data(seed, 20_000)
    sketch = QuantileSketch()
    sketch.add_many(values[:10_000])
    for v in values[10_000:]:
        sketch.add(float(v))
    m = sketch.measures()
    assert m["count"] == values.size
    assert m["sum"] == pytest.approx(math.fsum(values), rel=1e-15)
    assert m["min"] == values.min() and m["max"] == values.max()
    assert m["avg"] == pytest.approx(values.mean(), rel=1e-12)
    assert m["stddev"] == pytest.approx(values.std(), rel=1e-9)
    for key, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        truth = np.percentile(values, q)
        assert abs(m[key] - truth) / truth < (0.005 if q < 99 else 0.01), key


def test_merge_equals_single_sketch_on_exact_fields() -> None:
    values = _data(7, 6_000)
    parts = np.array_split(values, 6)
    merged = QuantileSketch()
    for part in parts:
        piece = QuantileSketch()
        piece.add_many(part)
        merged.merge(QuantileSketch.from_bytes(piece.to_bytes()))
    m = merged.measures()
    assert m["count"] == values.size
    assert m["sum"] == pytest.approx(math.fsum(values), rel=1e-15)
    assert m["stddev"] == pytest.approx(values.std(), rel=1e-9)
    truth = np.percentile(values, 99)
    assert abs(m["p99"] - truth) / truth < 0.01


def test_bytes_are_small_and_versioned() -> None:
    sketch = QuantileSketch()
    sketch.add_many(_data(3, 100_000))
    blob = sketch.to_bytes()
    assert len(blob) <= 5 * 1024
    assert QuantileSketch.from_bytes(blob).measures() == sketch.measures()
    with pytest.raises(SketchFormatError):
        QuantileSketch.from_bytes(b"XYZ" + blob[3:])
    with pytest.raises(SketchFormatError):
        QuantileSketch.from_bytes(blob[:3] + bytes([99]) + blob[4:])


def test_empty_sketch_has_no_measures() -> None:
    with pytest.raises(ValueError):
        QuantileSketch().measures()
