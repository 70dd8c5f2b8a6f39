"""The accuracy envelope of QuantileSketch that the tests hold it to: the spec's targets.

Up to EXACT_LIMIT values percentiles are exact (numpy's linear interpolation).
Beyond it a 1,000-centroid t-digest takes over, and roll-ups merge digests; at
every count, merged or not, it meets the spec's targets against numpy: p50/p95
within 0.5 %, p99 within 1 % (measured worst cases in docs/BENCHMARKS.md).
"""

from pipeline.windows.sketch import EXACT_LIMIT


def percentile_tolerance(count: int, q: float) -> float:
    if count <= EXACT_LIMIT:
        return 1e-12
    return 0.01 if q >= 99 else 0.005
