"""Event-time tumbling windows: alignment, watermark closing, lateness, idleness."""

import numpy as np
import pytest

from pipeline.windows import SeriesField, WindowAggregator, series_id_of, window_start

KEY = SeriesField("m|a=b", "m", "f", (("a", "b"),))


def test_windows_are_epoch_aligned() -> None:
    assert window_start(0.0, 60) == 0
    assert window_start(59.999, 60) == 0
    assert window_start(60.0, 60) == 60
    assert window_start(1_700_000_123.5, 300) == 1_700_000_100
    assert window_start(-0.5, 60) == -60


def test_window_closes_once_watermark_passes_end_plus_grace() -> None:
    agg = WindowAggregator(size_s=60, allowed_lateness_s=5, grace_s=2)
    for ts in (600.0, 610.0, 659.0):
        assert agg.add(KEY, ts, ts)
        agg.observe_event_time(ts)
    agg.observe_event_time(666.0)  # watermark 661 < 600 + 60 + 2
    assert agg.close_due() == []
    agg.observe_event_time(667.0)  # watermark 662 == end + grace
    closed = agg.close_due()
    assert [(c.start, c.end, c.sketch.count) for c in closed] == [(600, 660, 3)]
    assert agg.close_due() == []  # emitted exactly once


def test_late_values_are_refused_and_counted() -> None:
    agg = WindowAggregator(size_s=60, allowed_lateness_s=0)
    agg.add(KEY, 10.0, 1.0)
    agg.observe_event_time(130.0)
    assert [c.start for c in agg.close_due()] == [0]
    assert agg.add(KEY, 30.0, 1.0) is False
    assert agg.late_count == 1
    assert agg.add(KEY, 125.0, 1.0) is True  # window [120,180) still open


def test_idle_partition_advances_from_wall_clock() -> None:
    agg = WindowAggregator(size_s=60, allowed_lateness_s=5)
    agg.add(KEY, 1000.0, 1.0)
    agg.observe_event_time(1000.0)
    assert agg.close_due() == []
    agg.advance_idle(wall_now=1086.0)
    assert [c.start for c in agg.close_due()] == [960]


def test_batch_add_matches_numpy() -> None:
    rng = np.random.default_rng(5)
    ts = rng.uniform(0, 600, 5000)
    vals = rng.gamma(2.0, 100.0, 5000)
    agg = WindowAggregator(size_s=60)
    assert agg.add_many(KEY, ts.tolist(), vals.tolist()) == 0
    closed = {c.start: c.sketch for c in agg.close_all()}
    for start in range(0, 600, 60):
        mask = (ts >= start) & (ts < start + 60)
        assert closed[start].count == int(mask.sum())
        assert closed[start].total == pytest.approx(vals[mask].sum(), rel=1e-12)


def test_series_id_ignores_tag_order() -> None:
    assert series_id_of("m", [("b", "2"), ("a", "1")]) == series_id_of(
        "m", [("a", "1"), ("b", "2")]
    )
    assert series_id_of("m", [("a", "1")]) != series_id_of("n", [("a", "1")])
