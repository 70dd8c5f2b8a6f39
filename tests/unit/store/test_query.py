"""pipeline/store/query.py: parsing, fills, cross-series aggregation, paging; expected values are
worked out by hand or with numpy from the inputs, never with the module's own helpers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from pipeline.models.metrics import TimeWindow
from pipeline.models.timeseries import TimeSeriesQuery
from pipeline.store.query import (
    MAX_BUCKETS,
    Aggregate,
    Fill,
    QueryError,
    QuerySpec,
    SeriesRows,
    auto_resolution,
    fill_series,
    parse_aggregate,
    parse_csv,
    parse_fill,
    parse_resolution,
    parse_tag_filters,
    parse_time,
    percentile,
    run_query,
)

MIN = 60_000
T0 = 1_790_000_040_000  # minute-aligned epoch ms
NOW = T0 + 3_600_000


def _stats(value: float, count: int = 10) -> dict[str, object]:
    return {
        "avg": value,
        "min": value - 1,
        "max": value + 1,
        "p50": value,
        "p95": value * 2,
        "p99": value * 3,
        "stddev": 1.0,
        "count": count,
        "sum": value * count,
    }


def _spec(**kw: object) -> QuerySpec:
    base: dict[str, object] = {
        "metric": "llm_latency.total_latency_ms",
        "start_ms": T0,
        "end_ms": T0 + 10 * MIN,
        "resolution": TimeWindow.one_minute,
        "fields": ("avg",),
    }
    base.update(kw)
    return QuerySpec(**base)  # type: ignore[arg-type]


# --- parsing ---------------------------------------------------------------------------------


def test_parse_time_forms() -> None:
    assert parse_time("start", "now", NOW) == NOW
    assert parse_time("start", "now-1h", NOW) == NOW - 3_600_000
    assert parse_time("start", "-15m", NOW) == NOW - 900_000
    assert parse_time("start", "-90s", NOW) == NOW - 90_000
    assert parse_time("start", "-2d", NOW) == NOW - 2 * 86_400_000
    assert parse_time("start", "1790000040000", NOW) == T0
    assert parse_time("start", "2026-09-21T12:00:00Z", NOW) == int(
        datetime(2026, 9, 21, 12, tzinfo=UTC).timestamp() * 1000
    )
    assert parse_time("end", "2026-09-21T14:00:00+02:00", NOW) == int(
        datetime(2026, 9, 21, 12, tzinfo=UTC).timestamp() * 1000
    )


@pytest.mark.parametrize("bad", ["yesterday", "2026-09-21T12:00:00", "now-1y", "-"])
def test_parse_time_rejects_with_the_forms_it_takes(bad: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_time("start", bad, NOW)
    assert err.value.param == "start"
    assert "RFC 3339" in err.value.message and "now-1h" in err.value.message


def test_parse_resolution() -> None:
    assert parse_resolution("5m", 0, 1) is TimeWindow.five_minutes
    assert parse_resolution("30d", 0, 1) is TimeWindow.one_month
    assert parse_resolution("1M", 0, 1) is TimeWindow.one_month
    assert parse_resolution("one_hour", 0, 1) is TimeWindow.one_hour
    with pytest.raises(QueryError, match="1m, 5m, 15m, 1h, 6h, 1d, 1w, 30d"):
        parse_resolution("2m", 0, 1)


def test_auto_resolution_is_the_finest_within_the_target() -> None:
    # 1500 one-minute windows fit 25 hours; one more minute needs 5m windows.
    assert auto_resolution(0, 1500 * MIN) is TimeWindow.one_minute
    assert auto_resolution(0, 1501 * MIN) is TimeWindow.five_minutes
    assert auto_resolution(0, 90 * 86_400_000) is TimeWindow.six_hours
    assert parse_resolution(None, 0, 1501 * MIN) is TimeWindow.five_minutes


def test_parse_aggregate() -> None:
    assert parse_aggregate("avg") == Aggregate("mean")
    assert parse_aggregate("MEAN") == Aggregate("mean")
    assert parse_aggregate("p95") == Aggregate("percentile", 95.0)
    assert parse_aggregate("percentile:99") == Aggregate("percentile", 99.0)
    assert parse_aggregate(None) is None and parse_aggregate(" ") is None
    with pytest.raises(QueryError, match="pick the resolution instead"):
        parse_aggregate("first")
    with pytest.raises(QueryError, match="avg \\(mean\\), sum"):
        parse_aggregate("p101")


def test_parse_fill() -> None:
    assert parse_fill("linear") == Fill("linear")
    assert parse_fill("null") == Fill("null")
    assert parse_fill("-3") == Fill("value", -3)
    assert parse_fill("value:7") == Fill("value", 7)
    assert parse_fill(None) is None and parse_fill("none") is None
    with pytest.raises(QueryError, match="integer constant"):
        parse_fill("0.5")


def test_parse_tags_and_csv() -> None:
    assert parse_tag_filters(["model_id:gpt-4o", "url:http://x:1"]) == {
        "model_id": "gpt-4o",
        "url": "http://x:1",
    }
    with pytest.raises(QueryError, match="key:value"):
        parse_tag_filters(["model_id=gpt-4o"])
    with pytest.raises(QueryError, match="given twice"):
        parse_tag_filters(["a:1", "a:2"])
    assert parse_csv(["p95,avg", "p95", " count ,"]) == ["p95", "avg", "count"]


# --- fills -----------------------------------------------------------------------------------

STARTS = [0, 60, 120, 180, 240, 300]


def _values(points: list) -> list[float | None]:
    return [p.value for p in points]


def test_no_fill_returns_only_known_windows() -> None:
    points = fill_series({60: 1.0, 240: 4.0}, STARTS, None)
    assert [(p.timestamp_ms, p.value) for p in points] == [(60, 1.0), (240, 4.0)]


def test_fill_strategies_by_hand() -> None:
    known = {60: 1.0, 240: 4.0}
    assert _values(fill_series(known, STARTS, Fill("null"))) == [None, 1.0, None, None, 4.0, None]
    assert _values(fill_series(known, STARTS, Fill("zero"))) == [0.0, 1.0, 0.0, 0.0, 4.0, 0.0]
    assert _values(fill_series(known, STARTS, Fill("value", -1))) == [-1, 1, -1, -1, 4, -1]
    assert _values(fill_series(known, STARTS, Fill("previous"))) == [None, 1, 1, 1, 4, 4]
    # Linear between (60, 1) and (240, 4): slope 1/60 per ms -> 2 at 120, 3 at 180.
    assert _values(fill_series(known, STARTS, Fill("linear"))) == [None, 1, 2, 3, 4, None]
    flags = [p.filled for p in fill_series(known, STARTS, Fill("zero"))]
    assert flags == [True, False, True, True, False, True]


def test_linear_fill_matches_numpy_interp() -> None:
    rng = np.random.default_rng(7)
    starts = list(range(0, 60 * 40, 60))
    chosen = sorted(rng.choice(starts[1:-1], size=9, replace=False).tolist())
    known = {t: float(rng.normal(100, 20)) for t in chosen}
    filled = fill_series(known, starts, Fill("linear"))
    xs, ys = np.array(chosen, dtype=float), np.array([known[t] for t in chosen])
    for point in filled:
        if chosen[0] <= point.timestamp_ms <= chosen[-1]:
            assert point.value == pytest.approx(float(np.interp(point.timestamp_ms, xs, ys)))
        else:
            assert point.value is None


# --- queries ---------------------------------------------------------------------------------


def _rows() -> list[SeriesRows]:
    """Three series over 10 minutes with gaps; values are hand-picked."""
    a = {"model_id": "gpt-4o", "region": "eu"}
    b = {"model_id": "gpt-4o", "region": "us"}
    c = {"model_id": "haiku", "region": "eu"}
    return [
        SeriesRows(b, [(T0 + i * MIN, _stats(200.0 + i)) for i in (0, 1, 2, 5)]),
        SeriesRows(a, [(T0 + i * MIN, _stats(100.0 + i)) for i in (0, 1, 3, 5)]),
        SeriesRows(c, [(T0 + i * MIN, _stats(50.0 * (i + 1))) for i in (0, 3, 4)]),
    ]


def test_without_aggregate_every_series_comes_back_sorted_by_tags() -> None:
    out = run_query(_spec(fields=("p95", "count")), _rows())
    assert [(s.name, s.tags["region"], s.tags["model_id"]) for s in out.series] == [
        ("llm_latency.total_latency_ms.p95", "eu", "gpt-4o"),
        ("llm_latency.total_latency_ms.p95", "us", "gpt-4o"),
        ("llm_latency.total_latency_ms.p95", "eu", "haiku"),
        ("llm_latency.total_latency_ms.count", "eu", "gpt-4o"),
        ("llm_latency.total_latency_ms.count", "us", "gpt-4o"),
        ("llm_latency.total_latency_ms.count", "eu", "haiku"),
    ]
    first = out.series[0]
    assert [(p.timestamp_ms - T0) // MIN for p in first.points] == [0, 1, 3, 5]
    assert _values(first.points) == [200.0, 202.0, 206.0, 210.0]  # p95 = 2 * (100 + i)
    assert out.series_scanned == 3 and out.records_scanned == 11
    assert out.records_returned == 22


@pytest.mark.parametrize(
    ("name", "numpy_fn"),
    [
        ("mean", np.mean),
        ("sum", np.sum),
        ("min", np.min),
        ("max", np.max),
        ("median", np.median),
        ("stddev", np.std),
        ("count", len),
        ("p90", lambda v: np.percentile(v, 90)),
    ],
)
def test_aggregate_across_all_series_matches_numpy(name: str, numpy_fn) -> None:
    rows = _rows()
    out = run_query(_spec(aggregate=parse_aggregate(name)), rows)
    (series,) = out.series
    assert series.tags == {}
    expected: dict[int, list[float]] = {}
    for row in rows:
        for ts, values in row.points:
            expected.setdefault(ts, []).append(float(values["avg"]))  # type: ignore[arg-type]
    assert [p.timestamp_ms for p in series.points] == sorted(expected)
    for point in series.points:
        assert point.value == pytest.approx(float(numpy_fn(np.array(expected[point.timestamp_ms]))))
        assert point.series == len(expected[point.timestamp_ms])


def test_group_by_then_fill() -> None:
    out = run_query(
        _spec(aggregate=Aggregate("sum"), group_by=("region",), fill=Fill("zero")), _rows()
    )
    assert [s.tags for s in out.series] == [{"region": "eu"}, {"region": "us"}]
    eu, us = out.series
    # eu: gpt-4o avg 100+i at 0,1,3,5 and haiku 50*(i+1) at 0,3,4; ten windows 0..9.
    assert _values(eu.points) == [150.0, 101.0, 0.0, 303.0, 250.0, 105.0, 0.0, 0.0, 0.0, 0.0]
    assert _values(us.points) == [200.0, 201.0, 202.0, 0.0, 0.0, 205.0, 0.0, 0.0, 0.0, 0.0]
    assert [p.series for p in eu.points[:6]] == [2, 1, None, 2, 1, 1]


def test_group_by_a_missing_tag_groups_those_series_without_it() -> None:
    rows = [*_rows(), SeriesRows({"model_id": "x"}, [(T0, _stats(7.0))])]
    out = run_query(_spec(aggregate=Aggregate("count"), group_by=("region",)), rows)
    assert [s.tags for s in out.series] == [{}, {"region": "eu"}, {"region": "us"}]
    assert _values(out.series[0].points) == [1.0]


def test_limit_and_offset_page_each_series() -> None:
    out = run_query(_spec(fill=Fill("previous"), offset=2, limit=3), _rows())
    first = out.series[0]  # eu gpt-4o: 100, 101, (101), 103, (103), 105, ...
    assert [(p.timestamp_ms - T0) // MIN for p in first.points] == [2, 3, 4]
    assert _values(first.points) == [101.0, 103.0, 103.0]
    assert out.records_returned == 9


def test_range_is_the_windows_overlapping_start_end() -> None:
    # start mid-window 1, end at the start of window 5 (exclusive).
    out = run_query(_spec(start_ms=T0 + MIN + 30_000, end_ms=T0 + 5 * MIN), _rows())
    assert [(p.timestamp_ms - T0) // MIN for p in out.series[0].points] == [1, 3]


def test_counter_fields_and_a_wrong_field_is_explained() -> None:
    rows = [SeriesRows({"m": "a"}, [(T0, {"value": 12, "rate": 0.2})])]
    out = run_query(_spec(metric="security_threats.count", fields=("value", "rate")), rows)
    assert [s.points[0].value for s in out.series] == [12.0, 0.2]
    with pytest.raises(QueryError, match="counter metric without p95; its fields are value, rate"):
        run_query(_spec(metric="security_threats.count", fields=("p95",)), rows)
    gauge = [
        SeriesRows(
            {}, [(T0, {"value": 3.5, "delta": None}), (T0 + MIN, {"value": 4.0, "delta": 0.5})]
        )
    ]
    out = run_query(_spec(fields=("delta",)), gauge)
    assert _values(out.series[0].points) == [0.5]  # a null delta is no value


def test_spec_errors_name_the_parameter() -> None:
    cases = {
        "end": _spec(end_ms=T0),
        "group_by": _spec(group_by=("region",)),
        "fields": _spec(fields=("p42",)),
        "resolution": _spec(end_ms=T0 + (MAX_BUCKETS + 1) * MIN),
    }
    for param, spec in cases.items():
        with pytest.raises(QueryError) as err:
            run_query(spec, [])
        assert err.value.param == param, err.value.message


def test_no_matching_series_warns() -> None:
    out = run_query(_spec(), [])
    assert out.series == [] and "no series" in out.warnings[0]


def test_echoed_spec_query_is_valid_wire_json() -> None:
    spec = _spec(
        aggregate=Aggregate("percentile", 95.0),
        group_by=("region",),
        fill=Fill("value", 0),
        tag_filters={"model_id": "gpt-4o"},
        limit=10,
    )
    wire = spec.to_spec().to_wire()
    back = TimeSeriesQuery.from_wire(wire)
    assert back.to_wire() == wire
    assert '"aggregation":{"function":{"percentile":95},"window":"1m"' in wire
    assert '"fill":{"value":0}' in wire


def test_percentile_matches_numpy_linear() -> None:
    rng = np.random.default_rng(11)
    values = rng.lognormal(3, 1, 37).tolist()
    for q in (0, 1, 25, 50, 90, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
