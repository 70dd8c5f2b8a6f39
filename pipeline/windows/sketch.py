"""Mergeable quantile sketch: exact values while few, then a Rust t-digest; exact moments.

Up to ``EXACT_LIMIT`` values are kept as they are, so small windows (most 1-minute
windows of most series) get numpy-identical percentiles; beyond that a t-digest
(fastdigest, ``MAX_CENTROIDS``) takes over. Count, sum, min, max, mean and stddev
are always exact. The bytes form is our own versioned envelope around the
library's bytes, so a library upgrade or swap is detected instead of misread.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable

import numpy as np
from fastdigest import TDigest

MAX_CENTROIDS = 1000
"""Enough for the spec's targets at every count (p50/p95 < 0.5 %, p99 < 1 %, merged
or not; docs/BENCHMARKS.md). Stored compactly: at most ~5 KB per digest."""
EXACT_LIMIT = 512
"""Values kept exactly (8 bytes each) before switching to the digest: at most 4 KB."""

_MAGIC = b"HSK"
_VERSION = 5
_BUCKETS = struct.Struct("<H")  # v4: number of histogram buckets, then int64 counts
_HEADER_V2 = struct.Struct("<3sBQdddddd")  # magic, version, count, sum, comp, min, max, mean, m2
_HEADER = struct.Struct("<3sBQdddddddd")  # v3+: … then the latest value and its event time


class SketchFormatError(ValueError):
    """Bytes that are not a sketch envelope this version can read."""


_COMPACT = struct.Struct("<HIBB")  # max centroids, centroids, weight width (2/4), zlib'd (0/1)
_COMPRESS_ABOVE = 4600
"""Centroid bytes beyond which they are zlib-compressed (~100 µs) to stay under 5 KB."""


def _centroids_from_dict(digest: TDigest) -> tuple[np.ndarray, np.ndarray]:
    centroids = digest.to_dict()["centroids"]
    means = np.fromiter((c["m"] for c in centroids), dtype=np.float64, count=len(centroids))
    weights = np.fromiter((c["c"] for c in centroids), dtype=np.float64, count=len(centroids))
    return means, weights


def _centroids_from_bytes(digest: TDigest) -> tuple[np.ndarray, np.ndarray]:
    """fastdigest 0.12's bytes end with (mean, weight) f64 pairs: ~100x faster than a dict."""
    n = digest.n_centroids
    raw = digest.to_bytes()
    pairs = np.frombuffer(raw, dtype="<f8", count=2 * n, offset=len(raw) - 16 * n).reshape(n, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def _bytes_layout_holds() -> bool:
    """Use the byte layout only if this fastdigest build still writes it."""
    probe = TDigest(max_centroids=MAX_CENTROIDS)
    probe.batch_update(np.linspace(1.0, 3.0, 2500) ** 3)
    fast, slow = _centroids_from_bytes(probe), _centroids_from_dict(probe)
    return all(np.array_equal(a, b) for a, b in zip(fast, slow, strict=True))


_centroids = _centroids_from_bytes if _bytes_layout_holds() else _centroids_from_dict


def _compact_digest(digest: TDigest) -> bytes:
    """Centroids as 24-bit means and u16/u32 weights: ~5 B per centroid.

    Truncating a mean to 15 mantissa bits moves it by < 0.004 %, far inside the
    percentile targets, and keeps the means sorted; weights are whole counts.
    """
    means, weights = _centroids(digest)
    width = 2 if weights.size == 0 or weights.max() < 65536 else 4
    top = means.astype("<f4").view("<u4") >> 8  # sign, exponent and 15 mantissa bits
    packed = top.view(np.uint8).reshape(-1, 4)[:, :3]  # little-endian: the low three bytes
    body = packed.tobytes() + weights.astype("<u2" if width == 2 else "<u4").tobytes()
    compressed = len(body) > _COMPRESS_ABOVE
    if compressed:
        body = zlib.compress(body, 1)
    return _COMPACT.pack(digest.max_centroids, means.size, width, compressed) + body


def _digest_from_compact(data: bytes, lo: float, hi: float) -> TDigest:
    max_centroids, n, width, compressed = _COMPACT.unpack_from(data)
    body = data[_COMPACT.size :]
    if compressed:
        body = zlib.decompress(body)
    packed = np.frombuffer(body[: 3 * n], dtype=np.uint8).reshape(n, 3).astype("<u4")
    top = packed[:, 0] | (packed[:, 1] << 8) | (packed[:, 2] << 16)
    means = (top << 8).view("<f4").astype(np.float64)
    weights = np.frombuffer(body[3 * n :], dtype="<u2" if width == 2 else "<u4")
    centroids = [
        {"m": m, "c": float(c)} for m, c in zip(means.tolist(), weights.tolist(), strict=True)
    ]
    return TDigest.from_dict(
        {"max_centroids": max_centroids, "min": lo, "max": hi, "centroids": centroids}
    )


def linear_percentile(ordered: np.ndarray, q: float) -> float:
    """``np.percentile(values, 100 * q)`` (linear method) on sorted values, bit for bit.

    numpy's general machinery costs ~70 µs a call; this is the same arithmetic
    (virtual index, then numpy's two-sided lerp) in a few scalar operations.
    """
    n = ordered.size
    virtual = (n - 1) * ((q * 100.0) / 100.0)
    lo = math.floor(virtual)
    hi = min(lo + 1, n - 1)
    gamma = virtual - lo
    a, b = float(ordered[lo]), float(ordered[hi])
    diff = b - a
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


class QuantileSketch:
    """Stats of one series-field-window; ``merge`` makes roll-ups exact for all but percentiles."""

    __slots__ = (
        "_comp",
        "_measures",
        "buckets",
        "count",
        "digest",
        "exact",
        "last_time",
        "last_value",
        "m2",
        "max",
        "mean",
        "min",
        "sum",
    )

    def __init__(self) -> None:
        self.digest: TDigest | None = None
        self.exact: np.ndarray | None = np.empty(0, dtype=np.float64)
        self.count = 0
        self.sum = 0.0
        self._comp = 0.0  # Neumaier compensation: sums stay exact to the last bit in practice
        self.min = math.inf
        self.max = -math.inf
        self.mean = 0.0
        self.m2 = 0.0  # sum of squared deviations from the mean (Chan/Welford)
        # The value with the latest event time (gauges publish it); ties: the larger value,
        # so the result does not depend on how values were batched or merged.
        self.last_time = -math.inf
        self.last_value = math.nan
        # Histogram counts per bucket, for fields that have bucket bounds; None otherwise,
        # and also when a merged part had none (the counts would be incomplete).
        self.buckets: np.ndarray | None = None
        self._measures: dict[str, float | int] | None = None  # until the next add or merge

    def count_buckets(self, values: np.ndarray, bounds: np.ndarray) -> None:
        """Count values into buckets ``(bounds[i-1], bounds[i]]`` plus one overflow bucket.

        Call it with every value added (``add_many``) to keep the counts complete."""
        index = np.searchsorted(bounds, values, side="left")
        counts = np.bincount(index, minlength=bounds.size + 1).astype(np.int64)
        if self.buckets is None:
            if self.count != values.size:
                return  # values were added without counting: counts would be incomplete
            self.buckets = counts
        else:
            self.buckets = self.buckets + counts

    @property
    def complete_buckets(self) -> np.ndarray | None:
        """Bucket counts, when they account for every value."""
        if self.buckets is not None and int(self.buckets.sum()) == self.count:
            return self.buckets
        return None

    def observe_last(self, time: float, value: float) -> None:
        if time > self.last_time or (time == self.last_time and value > self.last_value):
            self.last_time, self.last_value = time, value

    def observe_latest(self, times: np.ndarray, values: np.ndarray) -> None:
        """``observe_last`` for the latest of many (time, value) pairs."""
        if times.size == 0:
            return
        latest = float(times.max())
        self.observe_last(latest, float(values[times == latest].max()))

    def _add_sum(self, value: float) -> None:
        total = self.sum + value
        if abs(self.sum) >= abs(value):
            self._comp += (self.sum - total) + value
        else:
            self._comp += (value - total) + self.sum
        self.sum = total

    def _combine_moments(self, n_b: int, mean_b: float, m2_b: float) -> None:
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * n_a * n_b / n
        self.count = n

    def _digest_values(self, array: np.ndarray, as_list: list[float] | None = None) -> None:
        """Route values to the exact buffer while it has room, else to the digest.

        The digest takes a list: fastdigest reads one twice as fast as an array (it
        makes no scalar object per value), and ``add_many`` has one for its sum anyway.
        """
        exact = self.exact
        if exact is not None:
            if exact.size + array.size <= EXACT_LIMIT:
                self.exact = np.concatenate((exact, array))
                return
            self.digest = TDigest(max_centroids=MAX_CENTROIDS)
            self.digest.batch_update(np.concatenate((exact, array)).tolist())
            self.exact = None
            return
        assert self.digest is not None
        self.digest.batch_update(array.tolist() if as_list is None else as_list)

    def add(self, value: float) -> None:
        self.add_many(np.array([value], dtype=np.float64))

    def add_many(self, values: Iterable[float] | np.ndarray) -> None:
        array = np.asarray(values, dtype=np.float64)
        if array.size == 0:
            return
        self._measures = None
        as_list = array.tolist()
        self._digest_values(array, as_list)
        self._add_sum(math.fsum(as_list))
        self.min = min(self.min, float(array.min()))
        self.max = max(self.max, float(array.max()))
        mean_b = float(array.mean())
        self._combine_moments(int(array.size), mean_b, float(((array - mean_b) ** 2).sum()))

    def merge(self, other: QuantileSketch) -> None:
        """Fold another sketch into this one (used for roll-ups and partial states)."""
        if other.count == 0:
            return
        self._measures = None
        if other.buckets is None or (self.buckets is None and self.count > 0):
            self.buckets = None
        elif self.buckets is None:
            self.buckets = other.buckets.copy()
        elif self.buckets.size == other.buckets.size:
            self.buckets = self.buckets + other.buckets
        else:
            self.buckets = None  # different bounds: no meaningful sum
        if not math.isnan(other.last_value):
            self.observe_last(other.last_time, other.last_value)
        if other.exact is not None:
            self._digest_values(other.exact)
        else:
            assert other.digest is not None
            if self.exact is not None:
                self.digest = TDigest(max_centroids=MAX_CENTROIDS)
                if self.exact.size:
                    self.digest.batch_update(self.exact.tolist())
                self.exact = None
            assert self.digest is not None
            self.digest.merge_inplace(other.digest)
        self._add_sum(other.sum)
        self._add_sum(other._comp)
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self._combine_moments(other.count, other.mean, other.m2)

    @property
    def total(self) -> float:
        return self.sum + self._comp

    def quantile(self, q: float) -> float:
        if self.count == 0:
            return math.nan
        if self.exact is not None:
            return linear_percentile(np.sort(self.exact), q)
        assert self.digest is not None
        return min(max(float(self.digest.quantile(q)), self.min), self.max)

    def stddev(self) -> float:
        """Population standard deviation (numpy's default, ddof=0)."""
        return math.sqrt(self.m2 / self.count) if self.count else 0.0

    def measures(self) -> dict[str, float | int]:
        """The spec's StatisticalMeasures fields, in write order."""
        if self.count == 0:
            raise ValueError("an empty sketch has no measures")
        if self._measures is None:
            if self.exact is not None:
                ordered = np.sort(self.exact)  # once for all three percentiles
                p50, p95, p99 = (linear_percentile(ordered, q) for q in (0.50, 0.95, 0.99))
            else:
                p50, p95, p99 = (self.quantile(q) for q in (0.50, 0.95, 0.99))
            self._measures = {
                "avg": self.total / self.count,
                "min": self.min,
                "max": self.max,
                "p50": p50,
                "p95": p95,
                "p99": p99,
                "stddev": self.stddev(),
                "count": self.count,
                "sum": self.total,
            }
        return dict(self._measures)

    def to_bytes(self) -> bytes:
        header = _HEADER.pack(
            _MAGIC,
            _VERSION,
            self.count,
            self.sum,
            self._comp,
            self.min,
            self.max,
            self.mean,
            self.m2,
            self.last_time,
            self.last_value,
        )
        buckets = self.buckets if self.buckets is not None else np.empty(0, dtype=np.int64)
        header += _BUCKETS.pack(buckets.size) + buckets.astype("<i8").tobytes()
        if self.exact is not None:
            return header + b"E" + self.exact.tobytes()
        assert self.digest is not None
        return header + b"C" + _compact_digest(self.digest)

    @classmethod
    def from_bytes(cls, data: bytes) -> QuantileSketch:
        if len(data) < _HEADER_V2.size or data[:3] != _MAGIC:
            raise SketchFormatError("not a hub sketch (bad magic)")
        version = data[3]
        sketch = cls()
        if version in (3, 4, 5) and len(data) >= _HEADER.size:
            header = _HEADER
            _, _, count, total, comp, lo, hi, mean, m2, last_time, last_value = header.unpack_from(
                data
            )
            sketch.last_time, sketch.last_value = last_time, last_value
            if version >= 4:
                (n_buckets,) = _BUCKETS.unpack_from(data, header.size)
                start = header.size + _BUCKETS.size
                end = start + 8 * n_buckets
                if n_buckets:
                    sketch.buckets = np.frombuffer(data[start:end], dtype="<i8").astype(np.int64)
                data = data[: header.size] + data[end:]  # the body follows the buckets
        elif version == 2:  # written before gauges: no latest value
            header = _HEADER_V2
            _, _, count, total, comp, lo, hi, mean, m2 = header.unpack_from(data)
        else:
            raise SketchFormatError(f"sketch version {version} is not readable (want {_VERSION})")
        mode, body = data[header.size : header.size + 1], bytes(data[header.size + 1 :])
        if mode == b"E":
            sketch.exact = np.frombuffer(body, dtype=np.float64).copy()
        elif mode == b"C":
            sketch.exact = None
            sketch.digest = _digest_from_compact(body, lo, hi)
        elif mode == b"D":  # v2-v4: the library's own bytes
            sketch.exact = None
            sketch.digest = TDigest.from_bytes(body)
        else:
            raise SketchFormatError(f"unknown sketch body kind {mode!r}")
        sketch.count, sketch.sum, sketch._comp = count, total, comp
        sketch.min, sketch.max, sketch.m2 = lo, hi, m2
        sketch.mean = mean
        return sketch
