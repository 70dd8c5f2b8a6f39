"""The mixed-traffic bench's own arithmetic: the backlog it builds and how it checks what
the worker published (the run itself needs the broker: `hub bench --mixed-only`)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from agents.bench.mixed_bench import (
    MAX_DISORDER_S,
    SPAN_S,
    _exact,
    _Seen,
    make_mixed,
)
from pipeline.sim.simulate import VARIANTS


def test_the_backlog_holds_every_payload_type_an_hour_of_time_and_a_little_disorder() -> None:
    traffic = make_mixed(6_000, seed=4)
    assert set(traffic.variants) == set(VARIANTS)
    assert traffic.times.max() - traffic.times.min() <= SPAN_S
    ahead = np.maximum.accumulate(traffic.times) - traffic.times  # behind the latest sent
    assert 0 < int((ahead > 0).sum()) < 200 and ahead.max() <= MAX_DISORDER_S + 1e-6
    latency = make_mixed(500, seed=4, only="telemetry.latency")
    assert set(latency.variants) == {"telemetry.latency"}
    assert int(np.isnan(latency.latencies).sum()) == 0


def _truth(traffic):  # type: ignore[no-untyped-def]
    seen = _Seen()
    minutes = (traffic.times // 60 * 60).astype(np.int64)
    seen.counts = Counter(dict(zip(*np.unique(minutes, return_counts=True), strict=True)))
    seen.counts = Counter({int(k): int(v) for k, v in seen.counts.items()})
    for minute, value in zip(minutes.tolist(), traffic.latencies.tolist(), strict=True):
        if not np.isnan(value):
            seen.latency_sum[minute] = seen.latency_sum.get(minute, 0.0) + value
    return seen


def test_published_counts_and_sums_are_checked_minute_by_minute() -> None:
    traffic = make_mixed(3_000, seed=5)
    seen = _truth(traffic)
    assert _exact(seen, traffic) == (True, True)
    minute = next(iter(seen.counts))
    seen.counts[minute] += 1
    assert _exact(seen, traffic)[0] is False
    seen = _truth(traffic)
    seen.latency_sum[next(iter(seen.latency_sum))] += 0.01
    assert _exact(seen, traffic) == (True, False)
