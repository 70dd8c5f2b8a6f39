"""Histogram buckets of durations and token counts, with OpenTelemetry GenAI boundaries.

Bucket counts are exact: each value is counted into its bucket as it is added, and
roll-ups add counts. Buckets follow OpenTelemetry's explicit-bucket rule: bucket
``i`` holds values in ``(bounds[i-1], bounds[i]]``, the last one everything above
the last bound; on the wire that last bucket's ``upper_bound`` is the largest finite
double (JSON has no infinity). Counts are per bucket, not cumulative.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from pipeline.models.metrics import HistogramBucket, HistogramMetric, StatisticalMeasures
from pipeline.windows.engine import WindowResult

OPERATION_DURATION_S = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""``gen_ai.client.operation.duration`` advisory boundaries, seconds."""
TIME_TO_FIRST_TOKEN_S = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
"""``gen_ai.server.time_to_first_token`` advisory boundaries, seconds."""
TOKEN_USAGE = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
"""``gen_ai.client.token.usage`` advisory boundaries, tokens."""

OVERFLOW_BOUND = sys.float_info.max


def _ms(bounds_s: tuple[float, ...]) -> tuple[float, ...]:
    """Our duration fields are in milliseconds."""
    return tuple(round(b * 1000.0, 6) for b in bounds_s)


_DURATION_MS = _ms(OPERATION_DURATION_S)
_TOKENS = tuple(float(b) for b in TOKEN_USAGE)

HISTOGRAM_BOUNDS: dict[tuple[str, str], tuple[float, ...]] = {
    ("llm_latency", "total_latency_ms"): _DURATION_MS,
    ("llm_latency", "ttft_ms"): _ms(TIME_TO_FIRST_TOKEN_S),
    ("llm_latency", "queue_time_ms"): _DURATION_MS,
    ("llm_latency", "processing_time_ms"): _DURATION_MS,
    ("llm_token_usage", "prompt_tokens"): _TOKENS,
    ("llm_token_usage", "completion_tokens"): _TOKENS,
    ("llm_token_usage", "total_tokens"): _TOKENS,
    ("cost_tokens", "prompt_tokens"): _TOKENS,
    ("cost_tokens", "completion_tokens"): _TOKENS,
    ("cost_tokens", "total_tokens"): _TOKENS,
}
"""Fields that also get a histogram per window, and their upper bounds."""


def histogram_metric(result: WindowResult, name: str, tags: dict[str, str]) -> HistogramMetric:
    """The wire format's HistogramMetric of one closed window (``timestamp`` = window end)."""
    sketch = result.sketch
    bounds = HISTOGRAM_BOUNDS[(result.measurement, result.field)]
    counts = sketch.complete_buckets
    if counts is None:
        raise ValueError(f"{name}: the window's bucket counts are incomplete")
    uppers = [*bounds, OVERFLOW_BOUND]
    return HistogramMetric(
        metric_type="histogram",
        name=name,
        stats=StatisticalMeasures(**sketch.measures()),
        # Bounds are our constants and counts whole numbers from numpy: nothing to
        # validate, and validating ~17 buckets per window was most of the publish cost.
        buckets=[
            HistogramBucket.model_construct(upper_bound=upper, count=count)
            for upper, count in zip(uppers, counts.tolist(), strict=True)
        ],
        tags=tags,
        timestamp=datetime.fromtimestamp(result.end, UTC),
    )
