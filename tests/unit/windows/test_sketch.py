"""QuantileSketch against numpy ground truth on the same data."""

import itertools
import math
import struct

import numpy as np
import pytest

from pipeline.windows.sketch import QuantileSketch, SketchFormatError, linear_percentile


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
    restored = QuantileSketch.from_bytes(blob)
    before, after = sketch.measures(), restored.measures()
    for key in ("p50", "p95", "p99"):  # centroid means are stored with 15 mantissa bits
        assert after.pop(key) == pytest.approx(before.pop(key), rel=2**-15)
    assert after == before  # everything else exactly
    assert restored.to_bytes() == blob  # and storing again changes nothing
    with pytest.raises(SketchFormatError):
        QuantileSketch.from_bytes(b"XYZ" + blob[3:])
    with pytest.raises(SketchFormatError):
        QuantileSketch.from_bytes(blob[:3] + bytes([99]) + blob[4:])


def test_empty_sketch_has_no_measures() -> None:
    with pytest.raises(ValueError):
        QuantileSketch().measures()


def test_latest_value_by_event_time_survives_merge_and_bytes() -> None:
    """Gauges publish the value with the latest event time; ties take the larger value."""
    rng = np.random.default_rng(3)
    times = rng.uniform(0, 100, 2_000)
    values = rng.normal(50, 10, 2_000)
    parts = []
    for chunk in np.array_split(np.arange(2_000), 7):
        part = QuantileSketch()
        part.add_many(values[chunk])
        part.observe_latest(times[chunk], values[chunk])
        parts.append(QuantileSketch.from_bytes(part.to_bytes()))
    merged = QuantileSketch()
    for part in parts:
        merged.merge(part)
    i = int(np.argmax(times))
    assert (merged.last_time, merged.last_value) == (times[i], values[i])
    tie = QuantileSketch()
    tie.observe_latest(np.array([5.0, 5.0, 1.0]), np.array([2.0, 7.0, 9.0]))
    assert tie.last_value == 7.0


def test_version_2_bytes_still_read_without_a_latest_value() -> None:
    sketch = QuantileSketch()
    sketch.add_many([1.0, 2.0, 3.0])
    current = sketch.to_bytes()  # header, no bucket counts (u16 0), then the body
    v2_header = struct.pack("<3sBQdddddd", b"HSK", 2, *struct.unpack_from("<Qdddddd", current, 4))
    body = current[struct.calcsize("<3sBQdddddddd") + struct.calcsize("<H") :]
    old = QuantileSketch.from_bytes(v2_header + body)
    assert old.count == 3 and old.total == 6.0 and math.isnan(old.last_value)


def test_bucket_counts_are_exact_through_merges_and_bytes() -> None:
    """Counts per (bounds[i-1], bounds[i]] bucket, checked by counting in plain Python."""
    rng = np.random.default_rng(4)
    values = np.round(rng.lognormal(6.0, 1.0, 3_000), 1)
    bounds = np.array([10.0, 100.0, 400.0, 1000.0, 5000.0])
    values[:5] = bounds  # values exactly on a bound belong to the bucket it closes
    merged = QuantileSketch()
    for chunk in np.array_split(values, 9):
        part = QuantileSketch()
        part.add_many(chunk)
        part.count_buckets(chunk, bounds)
        merged.merge(QuantileSketch.from_bytes(part.to_bytes()))
    edges = [-math.inf, *bounds.tolist(), math.inf]
    truth = [
        sum(1 for v in values.tolist() if lo < v <= hi) for lo, hi in itertools.pairwise(edges)
    ]
    assert merged.complete_buckets is not None
    assert merged.complete_buckets.tolist() == truth and sum(truth) == values.size


def test_a_part_without_counts_makes_the_counts_incomplete() -> None:
    bounds = np.array([1.0, 2.0])
    counted = QuantileSketch()
    counted.add_many([0.5, 1.5])
    counted.count_buckets(np.array([0.5, 1.5]), bounds)
    uncounted = QuantileSketch()
    uncounted.add_many([3.0])
    counted.merge(uncounted)
    assert counted.complete_buckets is None


def test_linear_percentile_is_numpys_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 7, 100, 511, 512):
        values = np.sort(rng.lognormal(3.0, 1.5, n))
        for q in (0.0, 0.01, 0.25, 0.5, 0.95, 0.99, 0.999, 1.0):
            assert linear_percentile(values, q) == float(np.percentile(values, q * 100.0)), (n, q)
