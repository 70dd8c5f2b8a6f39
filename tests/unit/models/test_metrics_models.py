"""Metrics models against WIRE_FORMAT.md §5 (with §3 reading and §4 writing rules).

Expected JSON is written out by hand from the spec; maps with two or more keys are
compared as maps (§4.7, §12 #3).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from pipeline.models.metrics import (
    AggregatedMetric,
    AggregationFunction,
    ComponentMetric,
    CompositeMetric,
    CounterMetric,
    CounterValues,
    CrossModuleMetrics,
    GaugeMetric,
    GaugeValues,
    HistogramBucket,
    HistogramMetric,
    MetricQuery,
    MetricRollup,
    StatisticalMeasures,
    StatType,
    SummaryMetric,
    TimeRange,
    TimeWindow,
    metric_from_wire,
    metric_values_from_wire,
)
from pipeline.wire.json_codec import WireDecodeError

TS = '"2024-01-15T10:30:00Z"'
RANGE = '{"start":"2024-01-15T10:00:00Z","end":"2024-01-15T11:00:00Z"}'
STATS = (
    '{"avg":450.5,"min":50.0,"max":980.0,"p50":420.0,"p95":850.0,"p99":950.0,'
    '"count":100,"sum":45050.0}'
)
REJECTED = (ValidationError, WireDecodeError)


# --- §5.1 TimeWindow and TimeRange -----------------------------------------------------------

WINDOW_TABLE = [
    ("one_minute", "1m", 60),
    ("five_minutes", "5m", 300),
    ("fifteen_minutes", "15m", 900),
    ("one_hour", "1h", 3_600),
    ("six_hours", "6h", 21_600),
    ("one_day", "1d", 86_400),
    ("one_week", "1w", 604_800),
    ("one_month", "1M", 2_592_000),
]


@pytest.mark.parametrize("value, label, seconds", WINDOW_TABLE)
def test_time_window_table(value: str, label: str, seconds: int) -> None:
    window = TimeWindow(value)
    assert window.value == value
    assert window.label == label
    assert window.seconds == seconds
    assert TimeWindow.from_label(label) is window


def test_time_window_declaration_order() -> None:
    assert [w.value for w in TimeWindow] == [row[0] for row in WINDOW_TABLE]


def test_time_window_labels_are_case_sensitive_month_vs_minute() -> None:
    assert TimeWindow.from_label("1m") is TimeWindow.one_minute
    assert TimeWindow.from_label("1M") is TimeWindow.one_month
    assert TimeWindow.one_month.seconds == 30 * 86_400


@pytest.mark.parametrize("label", ["1H", "60s", "one_minute", "", "30d", "1mo"])
def test_time_window_from_label_rejects_unknown(label: str) -> None:
    with pytest.raises(ValueError):
        TimeWindow.from_label(label)


@pytest.mark.parametrize(
    "bad", ["1m", "1M", "5m", "OneMinute", "One_Minute", "ONE_MINUTE", "minute", 60, None]
)
def test_time_window_only_snake_case_values_on_the_wire(bad: object) -> None:
    doc = json.dumps(
        {
            "source_window": bad,
            "target_window": "one_hour",
            "aggregation": "avg",
            "retention_days": 30,
        }
    )
    with pytest.raises(ValidationError):
        MetricRollup.from_wire(doc)
    agg = (
        '{"name":"n","window":'
        + json.dumps(bad)
        + ',"window_start":'
        + TS
        + ',"window_end":'
        + TS
        + ',"values":{"value":1.0,"delta":null},"tags":{}}'
    )
    with pytest.raises(ValidationError):
        AggregatedMetric.from_wire(agg)


def test_time_range_round_trip_and_offset_conversion() -> None:
    assert TimeRange.from_wire(RANGE).to_wire() == RANGE
    shifted = TimeRange.from_wire(
        '{"start":"2024-01-15T12:30:00+02:00","end":"2024-01-15 11:00:00.5Z"}'
    )
    assert shifted.start == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert shifted.to_wire() == (
        '{"start":"2024-01-15T10:30:00Z","end":"2024-01-15T11:00:00.500Z"}'
    )


@pytest.mark.parametrize(
    "doc",
    [
        '{"start":"2024-01-15T10:00:00Z"}',
        '{"start":"2024-01-15T10:00:00Z","end":null}',
        '{"start":"2024-01-15T10:00:00","end":"2024-01-15T11:00:00Z"}',
        '{"start":"2024-01-15T10:00:00Z","start":"2024-01-15T10:00:00Z",'
        '"end":"2024-01-15T11:00:00Z"}',
    ],
)
def test_time_range_rejections(doc: str) -> None:
    with pytest.raises(ValidationError):
        TimeRange.from_wire(doc)


# --- §5.2 StatisticalMeasures ----------------------------------------------------------------


def test_statistical_measures_spec_example_is_byte_exact() -> None:
    stats = StatisticalMeasures.from_wire(STATS)
    assert stats.avg == 450.5 and stats.count == 100 and stats.stddev is None
    assert stats.to_wire() == STATS


def test_statistical_measures_constructor_default_is_zero_without_stddev() -> None:
    assert StatisticalMeasures().to_wire() == (
        '{"avg":0.0,"min":0.0,"max":0.0,"p50":0.0,"p95":0.0,"p99":0.0,"count":0,"sum":0.0}'
    )


def test_statistical_measures_stddev_written_between_p99_and_count() -> None:
    doc = (
        '{"avg":1.0,"min":1.0,"max":1.0,"p50":1.0,"p95":1.0,"p99":1.0,"stddev":0.25,'
        '"count":1,"sum":1.0}'
    )
    assert StatisticalMeasures.from_wire(doc).to_wire() == doc
    built = StatisticalMeasures(avg=2, count=3, stddev=0.00001)
    assert built.to_wire() == (
        '{"avg":2.0,"min":0.0,"max":0.0,"p50":0.0,"p95":0.0,"p99":0.0,"stddev":0.00001,'
        '"count":3,"sum":0.0}'
    )


def test_statistical_measures_null_stddev_is_unset_and_integers_read_as_floats() -> None:
    doc = '{"avg":1,"min":0,"max":2,"p50":1,"p95":2,"p99":2,"stddev":null,"count":3,"sum":3}'
    assert StatisticalMeasures.from_wire(doc).to_wire() == (
        '{"avg":1.0,"min":0.0,"max":2.0,"p50":1.0,"p95":2.0,"p99":2.0,"count":3,"sum":3.0}'
    )


@pytest.mark.parametrize("key", ["avg", "min", "max", "p50", "p95", "p99", "count", "sum"])
def test_statistical_measures_keys_are_required_on_read(key: str) -> None:
    doc = json.loads(STATS)
    del doc[key]
    with pytest.raises(ValidationError):
        StatisticalMeasures.from_wire(json.dumps(doc))
    doc[key] = None
    with pytest.raises(ValidationError):
        StatisticalMeasures.from_wire(json.dumps(doc))


def test_statistical_measures_empty_object_is_rejected() -> None:
    with pytest.raises(ValidationError):
        StatisticalMeasures.from_wire("{}")


@pytest.mark.parametrize("count", ["100.0", "1e2", "-1", '"100"', "true", "18446744073709551616"])
def test_statistical_measures_count_is_a_strict_u64(count: str) -> None:
    with pytest.raises(ValidationError):
        StatisticalMeasures.from_wire(STATS.replace('"count":100', f'"count":{count}'))


@pytest.mark.parametrize("avg", ['"450.5"', "true", "null"])
def test_statistical_measures_f64_rejects_strings_bools_null(avg: str) -> None:
    with pytest.raises(ValidationError):
        StatisticalMeasures.from_wire(STATS.replace('"avg":450.5', f'"avg":{avg}'))


def test_statistical_measures_rejects_non_finite_in_code() -> None:
    with pytest.raises(ValidationError):
        StatisticalMeasures(avg=float("nan"))


# --- §5.3 Metric -----------------------------------------------------------------------------

COUNTER_EXAMPLE = (
    '{"metric_type":"counter","name":"requests_total","value":12345,"rate":10.5,"tags":{},'
    '"timestamp":"2024-01-15T10:30:00Z"}'
)


def test_counter_spec_example_is_byte_exact() -> None:
    metric = metric_from_wire(COUNTER_EXAMPLE)
    assert isinstance(metric, CounterMetric)
    assert metric.value == 12345 and metric.rate == 10.5
    assert metric.to_wire() == COUNTER_EXAMPLE
    assert CounterMetric.from_wire(COUNTER_EXAMPLE).to_wire() == COUNTER_EXAMPLE


@pytest.mark.parametrize(
    "doc, cls",
    [
        (
            '{"metric_type":"counter","name":"c","value":0,"tags":{"k":"v"},"timestamp":'
            + TS
            + "}",
            CounterMetric,
        ),
        (
            '{"metric_type":"gauge","name":"cpu","value":0.75,"tags":{},"timestamp":' + TS + "}",
            GaugeMetric,
        ),
        (
            '{"metric_type":"gauge","name":"cpu","value":-3.0,"previous_value":1e-6,"tags":{},'
            '"timestamp":' + TS + "}",
            GaugeMetric,
        ),
        (
            '{"metric_type":"histogram","name":"latency","stats":'
            + STATS
            + ',"buckets":[{"upper_bound":100.0,"count":10},{"upper_bound":1e16,"count":90}],'
            '"tags":{},"timestamp":' + TS + "}",
            HistogramMetric,
        ),
        (
            '{"metric_type":"histogram","name":"h","stats":'
            + STATS
            + ',"buckets":[],"tags":{},"timestamp":'
            + TS
            + "}",
            HistogramMetric,
        ),
        (
            '{"metric_type":"summary","name":"s","stats":'
            + STATS
            + ',"percentiles":{"p99.9":990.0},"tags":{},"timestamp":'
            + TS
            + "}",
            SummaryMetric,
        ),
        (
            '{"metric_type":"summary","name":"s","stats":'
            + STATS
            + ',"tags":{},"timestamp":'
            + TS
            + "}",
            SummaryMetric,
        ),
    ],
)
def test_metric_variants_round_trip_byte_exact(doc: str, cls: type) -> None:
    metric = metric_from_wire(doc)
    assert type(metric) is cls
    assert metric.to_wire() == doc
    assert cls.from_wire(doc).to_wire() == doc


def test_metric_tag_is_written_first_and_defaults_apply() -> None:
    doc = '{"name":"g","timestamp":' + TS + ',"value":2,"metric_type":"gauge"}'
    metric = metric_from_wire(doc)
    assert metric.to_wire() == (
        '{"metric_type":"gauge","name":"g","value":2.0,"tags":{},"timestamp":' + TS + "}"
    )


def test_metric_optionals_null_are_unset_and_omitted() -> None:
    doc = (
        '{"metric_type":"counter","name":"c","value":1,"rate":null,"tags":{},"timestamp":'
        + TS
        + "}"
    )
    assert metric_from_wire(doc).to_wire() == (
        '{"metric_type":"counter","name":"c","value":1,"tags":{},"timestamp":' + TS + "}"
    )
    summary = (
        '{"metric_type":"summary","name":"s","stats":'
        + STATS
        + ',"percentiles":null,"tags":{},"timestamp":'
        + TS
        + "}"
    )
    assert "percentiles" not in metric_from_wire(summary).to_wire()


def test_metric_multi_key_maps_compare_as_maps() -> None:
    doc = (
        '{"metric_type":"summary","name":"s","stats":'
        + STATS
        + ',"percentiles":{"p50":1,"p90":2.5},"tags":{"a":"1","b":"2"},"timestamp":'
        + TS
        + "}"
    )
    out = json.loads(metric_from_wire(doc).to_wire())
    assert out["percentiles"] == {"p50": 1.0, "p90": 2.5}
    assert out["tags"] == {"a": "1", "b": "2"}
    assert list(out) == ["metric_type", "name", "stats", "percentiles", "tags", "timestamp"]


def test_metric_constructors_fill_the_tag() -> None:
    moment = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert CounterMetric(name="c", value=3, rate=0.5, timestamp=moment).to_wire() == (
        '{"metric_type":"counter","name":"c","value":3,"rate":0.5,"tags":{},"timestamp":' + TS + "}"
    )
    histogram = HistogramMetric(
        name="h",
        stats=StatisticalMeasures(),
        buckets=[HistogramBucket(upper_bound=1, count=2)],
        timestamp=moment,
    )
    assert histogram.to_wire() == (
        '{"metric_type":"histogram","name":"h","stats":{"avg":0.0,"min":0.0,"max":0.0,'
        '"p50":0.0,"p95":0.0,"p99":0.0,"count":0,"sum":0.0},'
        '"buckets":[{"upper_bound":1.0,"count":2}],"tags":{},"timestamp":' + TS + "}"
    )


@pytest.mark.parametrize(
    "doc",
    [
        # missing, unknown or misspelled tag
        '{"name":"c","value":1,"tags":{},"timestamp":' + TS + "}",
        '{"metric_type":"timer","name":"c","value":1,"tags":{},"timestamp":' + TS + "}",
        '{"metric_type":"Counter","name":"c","value":1,"tags":{},"timestamp":' + TS + "}",
        '{"metric_type":null,"name":"c","value":1,"tags":{},"timestamp":' + TS + "}",
        # duplicated tag and duplicated named key
        '{"metric_type":"counter","metric_type":"counter","name":"c","value":1,"timestamp":'
        + TS
        + "}",
        '{"metric_type":"counter","name":"c","name":"d","value":1,"timestamp":' + TS + "}",
        # null on a defaulted key
        '{"metric_type":"counter","name":"c","value":1,"tags":null,"timestamp":' + TS + "}",
        # counter value is a strict u64
        '{"metric_type":"counter","name":"c","value":1.5,"timestamp":' + TS + "}",
        '{"metric_type":"counter","name":"c","value":1.0,"timestamp":' + TS + "}",
        '{"metric_type":"counter","name":"c","value":-1,"timestamp":' + TS + "}",
        '{"metric_type":"counter","name":"c","value":"1","timestamp":' + TS + "}",
        '{"metric_type":"counter","name":"c","value":true,"timestamp":' + TS + "}",
        # tags values must be strings
        '{"metric_type":"counter","name":"c","value":1,"tags":{"n":1},"timestamp":' + TS + "}",
        # required keys
        '{"metric_type":"counter","name":"c","value":1}',
        '{"metric_type":"histogram","name":"h","stats":' + STATS + ',"timestamp":' + TS + "}",
        '{"metric_type":"summary","name":"s","timestamp":' + TS + "}",
        '{"metric_type":"gauge","name":"g","value":null,"timestamp":' + TS + "}",
        # bucket count is a u64
        '{"metric_type":"histogram","name":"h","stats":'
        + STATS
        + ',"buckets":[{"upper_bound":1.0,"count":2.0}],"timestamp":'
        + TS
        + "}",
    ],
)
def test_metric_rejections(doc: str) -> None:
    with pytest.raises(ValidationError):
        metric_from_wire(doc)


def test_metric_duplicate_tags_map_key_keeps_last() -> None:
    doc = (
        '{"metric_type":"counter","name":"c","value":1,"tags":{"k":"a","k":"b"},"timestamp":'
        + TS
        + "}"
    )
    assert metric_from_wire(doc).tags == {"k": "b"}


def test_histogram_bucket_round_trip() -> None:
    assert HistogramBucket.from_wire('{"upper_bound":250,"count":7}').to_wire() == (
        '{"upper_bound":250.0,"count":7}'
    )


# --- §5.4 AggregatedMetric and MetricValues --------------------------------------------------

VALUES_TABLE = [
    ('{"value":5}', GaugeValues, '{"value":5.0,"delta":null}'),
    ('{"value":5,"rate":0.5}', CounterValues, '{"value":5,"rate":0.5}'),
    ('{"value":5.5,"rate":0.5}', GaugeValues, '{"value":5.5,"delta":null}'),
    ('{"value":-1,"rate":0.5}', GaugeValues, '{"value":-1.0,"delta":null}'),
    ('{"value":5,"rate":null}', GaugeValues, '{"value":5.0,"delta":null}'),
    ('{"value":5,"delta":1}', GaugeValues, '{"value":5.0,"delta":1.0}'),
]


@pytest.mark.parametrize("given, shape, written", VALUES_TABLE)
def test_metric_values_table(given: str, shape: type, written: str) -> None:
    values = metric_values_from_wire(given)
    assert type(values) is shape
    assert values.to_wire() == written
    doc = (
        '{"name":"n","window":"one_minute","window_start":'
        + TS
        + ',"window_end":'
        + TS
        + ',"values":'
        + given
        + ',"tags":{}}'
    )
    assert AggregatedMetric.from_wire(doc).to_wire() == doc.replace(given, written)


def test_metric_values_table_rows_are_stable_after_one_pass() -> None:
    for _, shape, written in VALUES_TABLE:
        again = metric_values_from_wire(written)
        assert type(again) is shape
        assert again.to_wire() == written


def test_metric_values_stats_shape_wins_first() -> None:
    values = metric_values_from_wire(STATS)
    assert type(values) is StatisticalMeasures
    assert values.to_wire() == STATS
    # stats keys all present: the extra value/rate keys are ignored
    mixed = STATS[:-1] + ',"value":5,"rate":0.5}'
    assert type(metric_values_from_wire(mixed)) is StatisticalMeasures
    assert metric_values_from_wire(mixed).to_wire() == STATS


def test_metric_values_incomplete_stats_falls_through() -> None:
    partial = json.loads(STATS)
    del partial["sum"]
    partial.update(value=5, rate=0.5)
    values = metric_values_from_wire(json.dumps(partial))
    assert type(values) is CounterValues
    assert values.to_wire() == '{"value":5,"rate":0.5}'


def test_metric_values_extra_keys_ignored() -> None:
    assert metric_values_from_wire('{"value":5,"rate":0.5,"x":"y"}').to_wire() == (
        '{"value":5,"rate":0.5}'
    )
    assert metric_values_from_wire('{"delta":null,"value":7,"x":[1]}').to_wire() == (
        '{"value":7.0,"delta":null}'
    )


@pytest.mark.parametrize(
    "doc",
    [
        "{}",
        '{"rate":0.5}',
        '{"delta":1.0}',
        '{"value":null}',
        '{"value":"5"}',
        '{"value":true}',
        '{"value":5,"delta":"1"}',
        '{"value":5,"value":6}',
        '{"value":5,"rate":0.5,"rate":0.6}',
        "null",
        "[]",
        "5",
    ],
)
def test_metric_values_rejections(doc: str) -> None:
    with pytest.raises(ValidationError):
        metric_values_from_wire(doc)


def test_metric_values_constructors_keep_their_shape() -> None:
    assert GaugeValues(value=5).to_wire() == '{"value":5.0,"delta":null}'
    assert CounterValues(value=5, rate=0).to_wire() == '{"value":5,"rate":0.0}'
    with pytest.raises(ValidationError):
        CounterValues(value=5)


AGGREGATED = (
    '{"name":"llm_latency.total_latency_ms","window":"five_minutes",'
    '"window_start":"2024-01-15T10:30:00Z","window_end":"2024-01-15T10:35:00Z",'
    '"values":' + STATS + ',"tags":{"model_id":"gpt-4"}}'
)


def test_aggregated_metric_round_trip() -> None:
    metric = AggregatedMetric.from_wire(AGGREGATED)
    assert metric.window is TimeWindow.five_minutes
    assert isinstance(metric.values, StatisticalMeasures)
    assert metric.to_wire() == AGGREGATED


def test_aggregated_metric_tags_default_and_null_rejected() -> None:
    doc = AGGREGATED.replace(',"tags":{"model_id":"gpt-4"}', "")
    assert AggregatedMetric.from_wire(doc).to_wire() == doc[:-1] + ',"tags":{}}'
    with pytest.raises(ValidationError):
        AggregatedMetric.from_wire(doc[:-1] + ',"tags":null}')


@pytest.mark.parametrize("values", ["null", '"5"', "{}"])
def test_aggregated_metric_values_required_and_typed(values: str) -> None:
    with pytest.raises(ValidationError):
        AggregatedMetric.from_wire(AGGREGATED.replace(STATS, values))
    with pytest.raises(ValidationError):
        AggregatedMetric.from_wire(AGGREGATED.replace(',"values":' + STATS, ""))


def test_aggregated_metric_built_in_code() -> None:
    metric = AggregatedMetric(
        name="m",
        window=TimeWindow.one_minute,
        window_start=datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
        window_end=datetime(2024, 1, 15, 10, 31, tzinfo=UTC),
        values=GaugeValues(value=1.5, delta=-0.5),
    )
    assert metric.to_wire() == (
        '{"name":"m","window":"one_minute","window_start":"2024-01-15T10:30:00Z",'
        '"window_end":"2024-01-15T10:31:00Z","values":{"value":1.5,"delta":-0.5},"tags":{}}'
    )
    stats = AggregatedMetric(
        name="m",
        window="one_minute",
        window_start=metric.window_start,
        window_end=metric.window_end,
        values=StatisticalMeasures(count=1),
    )
    assert type(stats.values) is StatisticalMeasures


# --- §5.5 Composite and cross-module metrics -------------------------------------------------

COMPOSITE = (
    '{"metric_id":"cm-1","name":"cost_per_request","description":"Cost per request",'
    '"source_modules":["llm-cost-ops","llm-observatory"],'
    '"components":[{"name":"total_cost_usd","source_module":"llm-cost-ops","value":12.5,'
    '"weight":null},{"name":"request_count","source_module":"llm-observatory",'
    '"value":1000.0,"weight":0.5}],"value":0.0125,"formula":"total_cost / total_requests",'
    '"window":"one_hour","timestamp":"2024-01-15T10:30:00Z"}'
)


def test_composite_metric_round_trip() -> None:
    metric = CompositeMetric.from_wire(COMPOSITE)
    assert metric.components[0].weight is None
    assert metric.window is TimeWindow.one_hour
    assert metric.to_wire() == COMPOSITE


def test_component_metric_weight_nullable_and_module_free_text() -> None:
    doc = '{"name":"x","source_module":"not-a-known-module","value":1}'
    assert ComponentMetric.from_wire(doc).to_wire() == (
        '{"name":"x","source_module":"not-a-known-module","value":1.0,"weight":null}'
    )
    with pytest.raises(ValidationError):
        ComponentMetric.from_wire('{"name":"x","source_module":"m","weight":1.0}')


def test_composite_metric_window_must_be_snake_case() -> None:
    with pytest.raises(ValidationError):
        CompositeMetric.from_wire(COMPOSITE.replace('"one_hour"', '"1h"'))


def test_cross_module_metrics_all_nullable() -> None:
    nulls = (
        '{"cost_per_request":null,"error_adjusted_throughput":null,'
        '"compliance_weighted_performance":null,"security_adjusted_cost_efficiency":null,'
        '"system_health_score":null}'
    )
    assert CrossModuleMetrics.from_wire("{}").to_wire() == nulls
    assert CrossModuleMetrics().to_wire() == nulls
    full = (
        '{"cost_per_request":0.0125,"error_adjusted_throughput":98.5,'
        '"compliance_weighted_performance":0.9,"security_adjusted_cost_efficiency":0.75,'
        '"system_health_score":87.0}'
    )
    assert CrossModuleMetrics.from_wire(full).to_wire() == full
    with pytest.raises(ValidationError):
        CrossModuleMetrics.from_wire('{"system_health_score":"87"}')


# --- §5.6 MetricQuery ------------------------------------------------------------------------

QUERY_EXAMPLE = (
    '{"metric_name":"m","time_range":{"start":"2024-01-15T10:00:00Z",'
    '"end":"2024-01-15T11:00:00Z"},"window":null,"tag_filters":{},'
    '"include_stats":["p95","stddev"],"group_by":[]}'
)


def test_metric_query_spec_example_is_byte_exact() -> None:
    query = MetricQuery.from_wire(QUERY_EXAMPLE)
    assert query.window is None
    assert query.include_stats == [StatType.p95, StatType.stddev]
    assert query.to_wire() == QUERY_EXAMPLE


def test_metric_query_defaults_and_window() -> None:
    minimal = '{"metric_name":"m","time_range":' + RANGE + "}"
    assert MetricQuery.from_wire(minimal).to_wire() == (
        '{"metric_name":"m","time_range":'
        + RANGE
        + ',"window":null,"tag_filters":{},"include_stats":[],"group_by":[]}'
    )
    full = (
        '{"metric_name":"m","time_range":' + RANGE + ',"window":"six_hours",'
        '"tag_filters":{"env":"prod"},"include_stats":["avg","min","max","p50","p95","p99",'
        '"stddev","count","sum","rate"],"group_by":["model_id"]}'
    )
    assert MetricQuery.from_wire(full).to_wire() == full


def test_stat_type_declaration_order() -> None:
    assert [s.value for s in StatType] == [
        "avg",
        "min",
        "max",
        "p50",
        "p95",
        "p99",
        "stddev",
        "count",
        "sum",
        "rate",
    ]


@pytest.mark.parametrize(
    "patch",
    [
        '"tag_filters":null',
        '"include_stats":null',
        '"group_by":null',
        '"include_stats":["P95"]',
        '"include_stats":["median"]',
        '"window":"1h"',
        '"tag_filters":{"n":1}',
    ],
)
def test_metric_query_rejections(patch: str) -> None:
    with pytest.raises(ValidationError):
        MetricQuery.from_wire('{"metric_name":"m","time_range":' + RANGE + "," + patch + "}")


# --- §5.7 MetricRollup -----------------------------------------------------------------------


def test_metric_rollup_round_trip_and_enum_order() -> None:
    doc = (
        '{"source_window":"one_minute","target_window":"one_hour","aggregation":"avg",'
        '"retention_days":90}'
    )
    rollup = MetricRollup.from_wire(doc)
    assert rollup.aggregation is AggregationFunction.avg
    assert rollup.to_wire() == doc
    assert [f.value for f in AggregationFunction] == ["avg", "sum", "min", "max", "last", "first"]


@pytest.mark.parametrize(
    "patch",
    [
        '"aggregation":"mean"',
        '"aggregation":"AVG"',
        '"aggregation":{"percentile":95}',
        '"retention_days":-1',
        '"retention_days":4294967296',
        '"retention_days":90.0',
        '"retention_days":null',
    ],
)
def test_metric_rollup_rejections(patch: str) -> None:
    base = {
        "source_window": "one_minute",
        "target_window": "one_hour",
        "aggregation": "avg",
        "retention_days": 90,
    }
    key = patch.split(":", 1)[0].strip('"')
    base[key] = json.loads(patch.split(":", 1)[1])
    with pytest.raises(ValidationError):
        MetricRollup.from_wire(json.dumps(base))


def test_retention_days_accepts_u32_max() -> None:
    doc = (
        '{"source_window":"one_day","target_window":"one_month","aggregation":"last",'
        '"retention_days":4294967295}'
    )
    assert MetricRollup.from_wire(doc).to_wire() == doc


def test_malformed_json_is_a_decode_error() -> None:
    with pytest.raises(REJECTED):
        MetricRollup.from_wire('{"source_window":')
