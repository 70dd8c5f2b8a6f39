"""The measured accuracy envelope of QuantileSketch, shared by the tests.

Up to EXACT_LIMIT values percentiles are exact (numpy's linear interpolation).
Beyond it a 200-centroid t-digest takes over, and roll-ups merge digests, which
costs accuracy at mid-size counts: against numpy, p99 can be off by ~2-3 % for a
few thousand values merged from several children, while from about 20,000 values
the spec's targets (p50/p95 < 0.5 %, p99 < 1 %) hold (docs/BENCHMARKS.md).
"""

from pipeline.sketch import EXACT_LIMIT


def percentile_tolerance(count: int, q: float) -> float:
    if count <= EXACT_LIMIT:
        return 1e-12
    if count >= 20_000:
        return 0.01 if q >= 99 else 0.005
    return 0.03 if q >= 99 else 0.015
