"""Quantile sketches side by side: the hub's QuantileSketch, raw fastdigest, pure-Python tdigest.

Why it exists: the hub keeps one sketch per series, field and window, merges 60 of them
for an hourly roll-up and stores them as bytes, so ingest rate, merge time, size and
percentile accuracy all matter. The pure-Python ``tdigest`` package is the baseline a
Python user would reach for first; raw ``fastdigest.TDigest`` at 200 and at the hub's
1,000 centroids shows what the hub's wrapper (exact moments, exact small windows,
compact envelope) costs.
No Kafka: numbers are CPU only, on lognormal latency-like data, all from one run.

    python -m pipeline.windows.sketch_bench --n 100000
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastdigest import TDigest

from pipeline.windows.sketch import MAX_CENTROIDS, QuantileSketch

__all__ = ["format_table", "run_sketch_bench"]

QUANTILES = (0.50, 0.95, 0.99)
MERGED_PARTS = 60


@dataclass(frozen=True)
class _Impl:
    """How to drive one sketch library through the same steps."""

    name: str
    new: Callable[[], Any]
    add_batch: Callable[[Any, np.ndarray], None]
    add_one: Callable[[Any, float], None]
    merge_all: Callable[[list[Any]], Any]
    to_bytes: Callable[[Any], bytes]
    from_bytes: Callable[[bytes], Any]
    quantile: Callable[[Any, float], float]


def _tdigest_impl() -> _Impl | None:
    """Pure-Python ``tdigest`` (optional: the ``bench`` extra); None when not installed."""
    try:
        from tdigest import TDigest as PyTDigest
    except ImportError:
        return None

    def merge_all(parts: list[Any]) -> Any:
        merged = parts[0]
        for part in parts[1:]:
            merged = merged + part  # the package's merge: re-inserts both centroid sets
        return merged

    def from_bytes(data: bytes) -> Any:
        digest = PyTDigest()
        digest.update_from_dict(json.loads(data))
        return digest

    return _Impl(
        name="tdigest 0.5 (pure Python, delta=0.01)",
        new=PyTDigest,
        add_batch=lambda s, a: s.batch_update(a.tolist()),
        add_one=lambda s, v: s.update(v),
        merge_all=merge_all,
        to_bytes=lambda s: json.dumps(s.to_dict()).encode(),  # it has no binary form
        from_bytes=from_bytes,
        quantile=lambda s, q: float(s.percentile(q * 100.0)),
    )


def _fastdigest_impl(max_centroids: int) -> _Impl:
    def merge_all(parts: list[Any]) -> Any:
        merged = parts[0].copy()
        for part in parts[1:]:
            merged.merge_inplace(part)  # what QuantileSketch.merge does, one at a time
        return merged

    return _Impl(
        name=f"fastdigest.TDigest({max_centroids} centroids)",
        new=lambda: TDigest(max_centroids=max_centroids),
        add_batch=lambda s, a: s.batch_update(a),
        add_one=lambda s, v: s.update(v),
        merge_all=merge_all,
        to_bytes=lambda s: s.to_bytes(),
        from_bytes=TDigest.from_bytes,
        quantile=lambda s, q: float(s.quantile(q)),
    )


def _hub_impl() -> _Impl:
    def merge_all(parts: list[Any]) -> Any:
        merged = QuantileSketch()
        for part in parts:
            merged.merge(part)
        return merged

    return _Impl(
        name=f"hub QuantileSketch (fastdigest {MAX_CENTROIDS})",
        new=QuantileSketch,
        add_batch=lambda s, a: s.add_many(a),
        add_one=lambda s, v: s.add(v),
        merge_all=merge_all,
        to_bytes=lambda s: s.to_bytes(),
        from_bytes=QuantileSketch.from_bytes,
        quantile=lambda s, q: s.quantile(q),
    )


def _timed(fn: Callable[[], Any], budget_s: float = 0.3, max_runs: int = 5) -> tuple[float, Any]:
    """Best of a few runs (fewer when one run is slow): the min is the least noisy figure."""
    best, result, spent, runs = math.inf, None, 0.0, 0
    while runs < max_runs and (runs == 0 or spent < budget_s):
        start = time.perf_counter()
        result = fn()
        took = time.perf_counter() - start
        best, spent, runs = min(best, took), spent + took, runs + 1
    return best, result


def _rel_errors(impl: _Impl, sketch: Any, truth: dict[float, float]) -> list[float]:
    return [abs(impl.quantile(sketch, q) - truth[q]) / truth[q] for q in QUANTILES]


def _bench_one(impl: _Impl, values: np.ndarray, truth: dict[float, float]) -> dict[str, Any]:
    n = values.size

    def batch() -> Any:
        sketch = impl.new()
        impl.add_batch(sketch, values)
        return sketch

    def one_by_one() -> Any:
        sketch = impl.new()
        for value in floats:
            impl.add_one(sketch, value)
        return sketch

    floats = values.tolist()
    batch_s, sketch = _timed(batch)
    single_s, single = _timed(one_by_one, budget_s=0.0)
    parts = []
    for chunk in np.array_split(values, MERGED_PARTS):
        part = impl.new()
        impl.add_batch(part, chunk)
        parts.append(part)
    blobs = [impl.to_bytes(part) for part in parts]
    merge_s, merged = _timed(lambda: impl.merge_all(parts))
    load_merge_s, _ = _timed(lambda: impl.merge_all([impl.from_bytes(b) for b in blobs]))
    p50, p95, p99 = _rel_errors(impl, sketch, truth)
    return {
        "name": impl.name,
        "batch_values_per_s": n / batch_s,
        "single_values_per_s": n / single_s,
        "merge_60_ms": merge_s * 1e3,
        "load_merge_60_ms": load_merge_s * 1e3,
        "bytes": len(impl.to_bytes(sketch)),
        "part_bytes": int(np.mean([len(b) for b in blobs])),
        "p50_rel_err": p50,
        "p95_rel_err": p95,
        "p99_rel_err": p99,
        "single_p99_rel_err": _rel_errors(impl, single, truth)[2],
        "merged_p99_rel_err": _rel_errors(impl, merged, truth)[2],
        "note": "",
    }


def run_sketch_bench(n_values: int = 100_000, seed: int = 0) -> list[dict[str, Any]]:
    """One row per sketch: ingest (batch and per value), merge of 60, bytes, accuracy.

    Data: ``n_values`` lognormal latencies (median ~800 ms, sigma 0.5); errors are
    relative to ``numpy.percentile`` (linear) on exactly the same values. The merge
    inputs are 60 sketches of consecutive 1/60 slices, like 60 one-minute windows.
    """
    rng = np.random.default_rng(seed)
    values = rng.lognormal(math.log(800.0), 0.5, n_values)
    truth = dict(zip(QUANTILES, np.percentile(values, [q * 100 for q in QUANTILES]), strict=True))
    rows: list[dict[str, Any]] = []
    baseline = _tdigest_impl()
    if baseline is None:
        rows.append(
            {
                "name": "tdigest (pure Python)",
                "note": "skipped: not installed (pip install -e '.[bench]')",
            }
        )
    for impl in (baseline, _fastdigest_impl(200), _fastdigest_impl(MAX_CENTROIDS), _hub_impl()):
        if impl is not None:
            rows.append(_bench_one(impl, values, truth))
    return rows


_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("batch_values_per_s", "batch val/s", "{:,.0f}"),
    ("single_values_per_s", "1-by-1 val/s", "{:,.0f}"),
    ("merge_60_ms", "merge 60 ms", "{:.2f}"),
    ("load_merge_60_ms", "+load ms", "{:.2f}"),
    ("bytes", "bytes", "{:,}"),
    ("part_bytes", "part B", "{:,}"),
    ("p50_rel_err", "p50 err", "{:.3%}"),
    ("p95_rel_err", "p95 err", "{:.3%}"),
    ("p99_rel_err", "p99 err", "{:.3%}"),
    ("merged_p99_rel_err", "merged p99", "{:.3%}"),
)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Fixed-width table; 'part B' is one of the 60 merge inputs, '+load' adds from_bytes."""
    width = max([len(r.get("name", "")) for r in rows] + [6])
    header = f"{'sketch':{width}} " + " ".join(f"{title:>13}" for _, title, _ in _COLUMNS)
    lines = [header]
    for row in rows:
        if "batch_values_per_s" not in row:
            lines.append(f"{row.get('name', '?'):{width}} {row.get('note') or row.get('error')}")
            continue
        cells = " ".join(f"{fmt.format(row[key]):>13}" for key, _, fmt in _COLUMNS)
        lines.append(f"{row['name']:{width}} {cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.windows.sketch_bench", description=__doc__
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    opts = parser.parse_args(argv)
    print(format_table(run_sketch_bench(opts.n, opts.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
