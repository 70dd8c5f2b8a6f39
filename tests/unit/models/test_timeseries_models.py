"""Time-series models against WIRE_FORMAT.md §6 (with §3 reading and §4 writing rules).

Expected JSON is written out by hand from the spec; maps with two or more free-form
keys are compared as maps (§4.7, §12 #3).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from pipeline.models.timeseries import (
    Aggregation,
    ContinuousQuery,
    CostFields,
    DownsampleConfig,
    FieldSetShape,
    FillKind,
    FillValue,
    GenericFields,
    GovernanceFields,
    IndexConfig,
    Percentile,
    PerformanceFields,
    QueryMetadata,
    RetentionPolicy,
    SecurityFields,
    TagSet,
    TimeRange,
    TimeSeries,
    TimeSeriesBatch,
    TimeSeriesPoint,
    TimeSeriesQuery,
    TimeSeriesResult,
    TsAggregationName,
    TsDataPoint,
    field_set_from_wire,
)

TS = '"2024-01-15T10:30:00Z"'
MOMENT = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
RANGE = '{"start":"2024-01-15T10:00:00Z","end":"2024-01-15T11:00:00Z"}'
TAGS = '{"source_module":"llm-observatory","environment":"production"}'


# --- §6.2 TagSet -----------------------------------------------------------------------------


def test_tagset_named_keys_written_in_spec_order() -> None:
    given = (
        '{"source_module":"llm-observatory","environment":"production","model_id":"gpt-4",'
        '"region":"us-east-1"}'
    )
    assert TagSet.from_wire(given).to_wire() == (
        '{"source_module":"llm-observatory","environment":"production","region":"us-east-1",'
        '"model_id":"gpt-4"}'
    )
    full = (
        '{"version":"1.2","service":"chat","model_id":"m","region":"r",'
        '"environment":"e","source_module":"s"}'
    )
    assert TagSet.from_wire(full).to_wire() == (
        '{"source_module":"s","environment":"e","region":"r","model_id":"m","service":"chat",'
        '"version":"1.2"}'
    )


def test_tagset_custom_tags_follow_named_keys() -> None:
    given = '{"team":"ml","source_module":"x","customer":"acme","environment":"staging"}'
    tags = TagSet.from_wire(given)
    assert tags.custom == {"team": "ml", "customer": "acme"}
    out = tags.to_wire()
    assert out.startswith('{"source_module":"x","environment":"staging",')
    assert json.loads(out) == {
        "source_module": "x",
        "environment": "staging",
        "team": "ml",
        "customer": "acme",
    }
    one = '{"source_module":"x","environment":"staging","team":"ml"}'
    assert TagSet.from_wire(one).to_wire() == one


def test_tagset_source_module_is_free_text_and_null_optionals_are_unset() -> None:
    doc = '{"source_module":"anything goes","environment":"dev","region":null,"version":null}'
    assert (
        TagSet.from_wire(doc).to_wire() == '{"source_module":"anything goes","environment":"dev"}'
    )


def test_tagset_built_in_code_with_custom_tags() -> None:
    tags = TagSet(source_module="s", environment="e", service="api", tier="gold")
    assert tags.to_wire() == '{"source_module":"s","environment":"e","service":"api","tier":"gold"}'
    with pytest.raises(ValidationError):
        TagSet(source_module="s", environment="e", tier=1)


@pytest.mark.parametrize(
    "doc",
    [
        '{"source_module":"s","environment":"e","n":1}',
        '{"source_module":"s","environment":"e","n":null}',
        '{"source_module":"s","environment":"e","n":true}',
        '{"source_module":"s","environment":"e","n":["a"]}',
        '{"source_module":"s","environment":"e","region":5}',
        '{"environment":"e"}',
        '{"source_module":"s"}',
        '{"source_module":null,"environment":"e"}',
        '{"source_module":"s","source_module":"t","environment":"e"}',
        '{"source_module":"s","environment":"e","region":"a","region":"b"}',
    ],
)
def test_tagset_rejections(doc: str) -> None:
    with pytest.raises(ValidationError):
        TagSet.from_wire(doc)


def test_tagset_duplicate_custom_tag_keeps_last() -> None:
    tags = TagSet.from_wire('{"source_module":"s","environment":"e","k":"a","k":"b"}')
    assert tags.custom == {"k": "b"}


def test_tagset_refuses_to_write_an_extra_that_repeats_a_named_key() -> None:
    tags = TagSet(source_module="s", environment="e")
    assert tags.__pydantic_extra__ is not None
    tags.__pydantic_extra__["region"] = "shadow"
    with pytest.raises(ValueError):
        tags.to_wire()


# --- §6.3 FieldSet ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc, shape, written",
    [
        # the five shapes
        (
            '{"latency_ms":842.5,"throughput":61.25,"error_count":2,"success_count":98,'
            '"token_count":1550}',
            FieldSetShape.performance,
            '{"latency_ms":842.5,"throughput":61.25,"error_count":2,"success_count":98,'
            '"token_count":1550}',
        ),
        (
            '{"threat_count":2,"severity_score":7.5,"blocked_count":1,'
            '"vulnerability_count":0,"error_count":0.5}',
            FieldSetShape.security,
            '{"threat_count":2,"severity_score":7.5,"blocked_count":1,'
            '"vulnerability_count":0,"error_count":0.5}',
        ),
        (
            '{"error_count":-1,"cost_usd":0.0007375,"token_cost":2.5e-7,'
            '"utilization_percent":80,"threat_count":0.5}',
            FieldSetShape.cost,
            '{"cost_usd":0.0007375,"token_cost":2.5e-7,"utilization_percent":80.0,'
            '"error_count":-1.0,"threat_count":0.5}',
        ),
        (
            '{"error_count":-1,"threat_count":0.5,"cost_usd":"x"}',
            FieldSetShape.generic,
            '{"error_count":-1.0,"threat_count":0.5,"cost_usd":"x"}',
        ),
        # cost names only f64 keys, so every all-numeric object that gets past performance
        # and security fits cost: the governance shape is never the result of a read
        (
            '{"error_count":0.5,"threat_count":0.5,"violation_count":3,'
            '"compliance_score":0.92,"audit_count":12}',
            FieldSetShape.cost,
            '{"error_count":0.5,"threat_count":0.5,"violation_count":3.0,'
            '"compliance_score":0.92,"audit_count":12.0}',
        ),
        (
            '{"violation_count":3,"compliance_score":0.92,"audit_count":12}',
            FieldSetShape.performance,
            '{"violation_count":3.0,"compliance_score":0.92,"audit_count":12.0}',
        ),
        ('{"model":"gpt-4"}', FieldSetShape.generic, '{"model":"gpt-4"}'),
        # §6.3 consequences
        ('{"cost_usd":1.0}', FieldSetShape.performance, '{"cost_usd":1.0}'),
        ("{}", FieldSetShape.performance, "{}"),
        ('{"error_count":3.5}', FieldSetShape.security, '{"error_count":3.5}'),
        ('{"a":1}', FieldSetShape.performance, '{"a":1.0}'),
        ('{"latency_ms":5,"ok":true}', FieldSetShape.generic, '{"latency_ms":5.0,"ok":true}'),
        ('{"flag":false}', FieldSetShape.generic, '{"flag":false}'),
        # named keys are written in order, before extras; null named keys are unset
        (
            '{"z":2,"token_count":3,"latency_ms":1.5,"throughput":null}',
            FieldSetShape.performance,
            '{"latency_ms":1.5,"token_count":3,"z":2.0}',
        ),
        ('{"latency_ms":null}', FieldSetShape.performance, "{}"),
        (
            '{"severity_score":9,"threat_count":2}',
            FieldSetShape.performance,
            '{"severity_score":9.0,"threat_count":2.0}',
        ),
    ],
)
def test_fieldset_resolution_order_and_write_back(
    doc: str, shape: FieldSetShape, written: str
) -> None:
    fields = field_set_from_wire(doc)
    assert fields.shape is shape
    assert fields.to_wire() == written
    point = '{"measurement":"m","timestamp":' + TS + ',"tags":' + TAGS + ',"fields":' + doc + "}"
    back = TimeSeriesPoint.from_wire(point)
    assert back.fields.shape is shape
    assert back.to_wire() == point.replace(doc, written)


def test_fieldset_shapes_are_the_spec_classes() -> None:
    assert type(field_set_from_wire('{"latency_ms":1}')) is PerformanceFields
    assert type(field_set_from_wire('{"error_count":3.5}')) is SecurityFields
    assert type(field_set_from_wire('{"error_count":-1,"threat_count":0.5}')) is CostFields
    assert (
        type(field_set_from_wire('{"error_count":-1,"threat_count":0.5,"cost_usd":"x"}'))
        is GenericFields
    )
    assert (
        type(field_set_from_wire('{"error_count":0.5,"threat_count":0.5,"cost_usd":"x","a":1}'))
        is GenericFields
    )


def test_fieldset_extras_are_floats_in_numeric_shapes() -> None:
    fields = field_set_from_wire('{"a":1,"b":-2,"c":0.5}')
    assert fields.custom == {"a": 1.0, "b": -2.0, "c": 0.5}
    assert all(type(v) is float for v in fields.custom.values())
    assert json.loads(fields.to_wire()) == {"a": 1.0, "b": -2.0, "c": 0.5}
    assert fields.to_wire().count(".") == 3


def test_fieldset_generic_numbers_read_as_floats() -> None:
    fields = field_set_from_wire('{"count":5,"name":"x","big":18446744073709551615}')
    assert fields.shape is FieldSetShape.generic
    assert fields.custom == {"count": 5.0, "name": "x", "big": 1.8446744073709552e19}
    assert type(fields.custom["count"]) is float
    assert json.loads(fields.to_wire()) == {"count": 5.0, "name": "x", "big": 1.8446744073709552e19}
    assert '"count":5.0' in fields.to_wire()
    assert '"big":1.8446744073709552e19' in fields.to_wire()


def test_fieldset_built_shapes_write_named_then_extras_and_reread_per_spec() -> None:
    cost = CostFields(cost_usd=1, utilization_percent=0.5, extra_fee=2)
    assert cost.shape is FieldSetShape.cost
    assert cost.to_wire() == '{"cost_usd":1.0,"utilization_percent":0.5,"extra_fee":2.0}'
    # all-numeric output reads back as performance (§6.3)
    again = field_set_from_wire(cost.to_wire())
    assert again.shape is FieldSetShape.performance
    assert again.to_wire() == cost.to_wire()
    gov = GovernanceFields(violation_count=1, audit_count=2)
    assert gov.to_wire() == '{"violation_count":1,"audit_count":2}'
    assert field_set_from_wire(gov.to_wire()).shape is FieldSetShape.performance
    sec = SecurityFields(threat_count=4)
    assert sec.to_wire() == '{"threat_count":4}'
    perf = PerformanceFields(error_count=3, latency_ms=12)
    assert perf.to_wire() == '{"latency_ms":12.0,"error_count":3}'
    assert perf.as_dict() == {"latency_ms": 12.0, "error_count": 3}


def test_fieldset_instances_keep_their_shape_inside_a_point() -> None:
    point = TimeSeriesPoint(
        measurement="cost",
        timestamp=MOMENT,
        tags=TagSet(source_module="llm-cost-ops", environment="prod"),
        fields=CostFields(cost_usd=0.5),
    )
    assert point.fields.shape is FieldSetShape.cost
    assert point.to_wire() == (
        '{"measurement":"cost","timestamp":'
        + TS
        + ',"tags":{"source_module":"llm-cost-ops","environment":"prod"},'
        '"fields":{"cost_usd":0.5}}'
    )


@pytest.mark.parametrize(
    "doc",
    [
        '{"a":null}',
        '{"a":1,"b":null}',
        '{"latency_ms":null,"a":"x"}',
        '{"a":"x","b":null}',
        '{"a":[1]}',
        '{"a":{"b":1}}',
        '{"latency_ms":1,"latency_ms":2}',
        '{"error_count":1,"error_count":2}',
        '{"cost_usd":1,"cost_usd":2}',
        '{"audit_count":1,"audit_count":2,"s":"x"}',
        "null",
        "[]",
        '"x"',
    ],
)
def test_fieldset_rejections(doc: str) -> None:
    with pytest.raises(ValidationError):
        field_set_from_wire(doc)


def test_fieldset_duplicate_extra_key_keeps_last() -> None:
    assert field_set_from_wire('{"a":1,"a":2}').to_wire() == '{"a":2.0}'


def test_fieldset_numeric_extras_reject_non_finite_in_code() -> None:
    with pytest.raises(ValidationError):
        PerformanceFields(x=float("inf"))


# --- §6.4 FieldValue -------------------------------------------------------------------------


def test_field_value_numbers_read_as_floats_and_written_as_floats() -> None:
    doc = '{"timestamp":' + TS + ',"values":{"n":5}}'
    point = TsDataPoint.from_wire(doc)
    assert point.values == {"n": 5.0}
    assert type(point.values["n"]) is float
    assert point.to_wire() == '{"timestamp":' + TS + ',"values":{"n":5.0}}'


def test_field_value_u64_max_reads_as_float() -> None:
    doc = '{"timestamp":' + TS + ',"values":{"n":18446744073709551615}}'
    point = TsDataPoint.from_wire(doc)
    assert point.values["n"] == 1.8446744073709552e19
    assert point.to_wire() == '{"timestamp":' + TS + ',"values":{"n":1.8446744073709552e19}}'


def test_field_value_integers_built_in_code_are_written_as_integers() -> None:
    assert TsDataPoint(timestamp=MOMENT, values={"n": 5}).to_wire() == (
        '{"timestamp":' + TS + ',"values":{"n":5}}'
    )
    assert TsDataPoint(timestamp=MOMENT, values={"n": 5.0}).to_wire() == (
        '{"timestamp":' + TS + ',"values":{"n":5.0}}'
    )
    big = TsDataPoint(timestamp=MOMENT, values={"u": 2**64 - 1, "i": -(2**63)})
    assert json.loads(big.to_wire())["values"] == {"u": 2**64 - 1, "i": -(2**63)}
    assert GenericFields(n=7, s="x").to_wire() == '{"n":7,"s":"x"}'
    # ... and an integer passes through a read as a float
    assert GenericFields.from_wire(GenericFields(n=7, s="x").to_wire()).to_wire() == (
        '{"n":7.0,"s":"x"}'
    )


def test_field_value_strings_and_bools_pass_through() -> None:
    doc = '{"timestamp":' + TS + ',"values":{"b":true}}'
    assert TsDataPoint.from_wire(doc).to_wire() == doc
    doc = '{"timestamp":' + TS + ',"values":{"s":"é/\\n"}}'
    assert TsDataPoint.from_wire(doc).to_wire() == doc


@pytest.mark.parametrize("value", ["null", "[1]", '{"a":1}'])
def test_field_value_rejects_null_and_containers(value: str) -> None:
    with pytest.raises(ValidationError):
        TsDataPoint.from_wire('{"timestamp":' + TS + ',"values":{"n":' + value + "}}")


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, float("nan"), float("inf"), None, [1]])
def test_field_value_rejects_out_of_range_in_code(value: object) -> None:
    with pytest.raises(ValidationError):
        TsDataPoint(timestamp=MOMENT, values={"n": value})


def test_ts_data_point_values_required() -> None:
    with pytest.raises(ValidationError):
        TsDataPoint.from_wire('{"timestamp":' + TS + "}")
    with pytest.raises(ValidationError):
        TsDataPoint.from_wire('{"timestamp":' + TS + ',"values":null}')


# --- §6.1 TimeSeriesPoint --------------------------------------------------------------------


def test_time_series_point_round_trip_with_metadata() -> None:
    doc = (
        '{"measurement":"llm_latency","timestamp":"2024-01-15T10:30:00.123456Z","tags":'
        '{"source_module":"llm-observatory","environment":"production","model_id":"gpt-4"},'
        '"fields":{"latency_ms":842.0,"token_count":1550},"metadata":{"trace":"abc"}}'
    )
    point = TimeSeriesPoint.from_wire(doc)
    assert point.tags.model_id == "gpt-4"
    assert point.fields.shape is FieldSetShape.performance
    assert point.to_wire() == doc


def test_time_series_point_metadata_optional_omitted() -> None:
    doc = '{"measurement":"m","timestamp":' + TS + ',"tags":' + TAGS + ',"fields":{}}'
    assert TimeSeriesPoint.from_wire(doc).to_wire() == doc
    with_null = doc[:-1] + ',"metadata":null}'
    assert TimeSeriesPoint.from_wire(with_null).to_wire() == doc
    with_empty = doc[:-1] + ',"metadata":{}}'
    assert TimeSeriesPoint.from_wire(with_empty).to_wire() == with_empty


@pytest.mark.parametrize(
    "doc",
    [
        '{"measurement":"m","timestamp":' + TS + ',"tags":' + TAGS + "}",
        '{"measurement":"m","timestamp":' + TS + ',"fields":{}}',
        '{"measurement":"m","timestamp":' + TS + ',"tags":' + TAGS + ',"fields":null}',
        '{"measurement":"m","timestamp":'
        + TS
        + ',"tags":'
        + TAGS
        + ',"fields":{},"metadata":{"n":1}}',
        '{"measurement":"m","measurement":"m","timestamp":'
        + TS
        + ',"tags":'
        + TAGS
        + ',"fields":{}}',
        '{"measurement":"m","timestamp":"2024-01-15T10:30:00","tags":' + TAGS + ',"fields":{}}',
    ],
)
def test_time_series_point_rejections(doc: str) -> None:
    with pytest.raises(ValidationError):
        TimeSeriesPoint.from_wire(doc)


# --- §6.5 Retention and indexing -------------------------------------------------------------

DEFAULT_POLICY = (
    '{"name":"default","full_resolution_days":7,"downsample_configs":[{"after_days":7,'
    '"resolution_minutes":5},{"after_days":30,"resolution_minutes":60},{"after_days":90,'
    '"resolution_minutes":1440}],"max_retention_days":365,"shard_duration_hours":24}'
)
DEFAULT_INDEX = (
    '{"measurement":"","indexed_tags":["source_module","environment","model_id"],'
    '"shard_keys":["source_module","environment"],"time_partitioning":true,'
    '"partition_interval_hours":24}'
)


def test_retention_policy_default_is_the_spec_policy() -> None:
    assert RetentionPolicy.default().to_wire() == DEFAULT_POLICY
    assert RetentionPolicy().to_wire() == DEFAULT_POLICY
    assert RetentionPolicy.from_wire(DEFAULT_POLICY).to_wire() == DEFAULT_POLICY
    assert RetentionPolicy(name="short").to_wire() == DEFAULT_POLICY.replace('"default"', '"short"')


def test_retention_policy_defaults_are_not_shared_between_instances() -> None:
    first = RetentionPolicy.default()
    first.downsample_configs.append(DownsampleConfig(after_days=1, resolution_minutes=1))
    assert RetentionPolicy.default().to_wire() == DEFAULT_POLICY


@pytest.mark.parametrize(
    "key",
    [
        "name",
        "full_resolution_days",
        "downsample_configs",
        "max_retention_days",
        "shard_duration_hours",
    ],
)
def test_retention_policy_keys_required_on_read(key: str) -> None:
    doc = json.loads(DEFAULT_POLICY)
    del doc[key]
    with pytest.raises(ValidationError):
        RetentionPolicy.from_wire(json.dumps(doc))
    doc[key] = None
    with pytest.raises(ValidationError):
        RetentionPolicy.from_wire(json.dumps(doc))


@pytest.mark.parametrize(
    "doc",
    [
        "{}",
        '{"after_days":7}',
        '{"after_days":7.0,"resolution_minutes":5}',
        '{"after_days":-7,"resolution_minutes":5}',
        '{"after_days":7,"resolution_minutes":4294967296}',
    ],
)
def test_downsample_config_rejections(doc: str) -> None:
    with pytest.raises(ValidationError):
        DownsampleConfig.from_wire(doc)


def test_index_config_default_and_required_keys() -> None:
    assert IndexConfig.default().to_wire() == DEFAULT_INDEX
    assert IndexConfig.from_wire(DEFAULT_INDEX).to_wire() == DEFAULT_INDEX
    assert IndexConfig(measurement="llm_latency").to_wire() == DEFAULT_INDEX.replace(
        '"measurement":""', '"measurement":"llm_latency"'
    )
    with pytest.raises(ValidationError):
        IndexConfig.from_wire("{}")
    for key in json.loads(DEFAULT_INDEX):
        doc = json.loads(DEFAULT_INDEX)
        del doc[key]
        with pytest.raises(ValidationError):
            IndexConfig.from_wire(json.dumps(doc))
    with pytest.raises(ValidationError):
        IndexConfig.from_wire(DEFAULT_INDEX.replace("true", "1"))


# --- §6.6 TimeSeriesQuery, Aggregation, FillStrategy -----------------------------------------

QUERY_EXAMPLE = (
    '{"measurement":"m","time_range":{"start":"2024-01-15T10:00:00Z",'
    '"end":"2024-01-15T11:00:00Z"},"tag_filters":{},"select_fields":[],'
    '"aggregation":{"function":{"percentile":99},"window":"5m","fields":["x"]},'
    '"group_by":[],"fill":"null","limit":10}'
)


def test_time_series_query_spec_example_is_byte_exact() -> None:
    query = TimeSeriesQuery.from_wire(QUERY_EXAMPLE)
    assert query.fill is FillKind.null
    assert query.aggregation is not None
    assert query.aggregation.function == Percentile(percentile=99)
    assert query.limit == 10 and query.offset is None
    assert query.to_wire() == QUERY_EXAMPLE


def test_time_series_query_minimal_and_full() -> None:
    minimal = '{"measurement":"m","time_range":' + RANGE + "}"
    assert TimeSeriesQuery.from_wire(minimal).to_wire() == (
        '{"measurement":"m","time_range":'
        + RANGE
        + ',"tag_filters":{},"select_fields":[],"group_by":[]}'
    )
    full = (
        '{"measurement":"llm_latency","time_range":'
        + RANGE
        + ',"tag_filters":{"model_id":"gpt-4"},"select_fields":["latency_ms"],'
        '"aggregation":{"function":"mean","window":"5m","fields":["latency_ms"]},'
        '"group_by":["region"],"fill":"linear","limit":1000,"offset":18446744073709551615}'
    )
    assert TimeSeriesQuery.from_wire(full).to_wire() == full


def test_fill_json_null_is_unset_and_not_written() -> None:
    doc = '{"measurement":"m","time_range":' + RANGE + ',"fill":null,"limit":null,"offset":null}'
    query = TimeSeriesQuery.from_wire(doc)
    assert query.fill is None
    assert query.to_wire() == (
        '{"measurement":"m","time_range":'
        + RANGE
        + ',"tag_filters":{},"select_fields":[],"group_by":[]}'
    )


@pytest.mark.parametrize(
    "fill, expected",
    [
        ('"null"', FillKind.null),
        ('"previous"', FillKind.previous),
        ('"linear"', FillKind.linear),
        ('"zero"', FillKind.zero),
        ('{"value":-5}', FillValue(value=-5)),
        ('{"value":9223372036854775807}', FillValue(value=2**63 - 1)),
        ('{"value":-9223372036854775808}', FillValue(value=-(2**63))),
    ],
)
def test_fill_strategy_shapes_round_trip(fill: str, expected: object) -> None:
    doc = '{"measurement":"m","time_range":' + RANGE + ',"fill":' + fill + "}"
    query = TimeSeriesQuery.from_wire(doc)
    assert query.fill == expected
    assert query.fill is not None
    assert query.to_wire() == (
        '{"measurement":"m","time_range":'
        + RANGE
        + ',"tag_filters":{},"select_fields":[],"group_by":[],"fill":'
        + fill
        + "}"
    )


def test_fill_string_null_is_distinct_from_unset_in_code() -> None:
    unset = TimeSeriesQuery(measurement="m", time_range=TimeRange.from_wire(RANGE))
    string_null = TimeSeriesQuery(
        measurement="m", time_range=TimeRange.from_wire(RANGE), fill=FillKind.null
    )
    assert '"fill"' not in unset.to_wire()
    assert string_null.to_wire().endswith('"group_by":[],"fill":"null"}')
    assert [k.value for k in FillKind] == ["null", "previous", "linear", "zero"]


@pytest.mark.parametrize(
    "fill",
    [
        '"NULL"',
        '"Previous"',
        '"none"',
        '"value"',
        '{"value":1.5}',
        '{"value":1.0}',
        '{"value":"1"}',
        '{"value":null}',
        '{"value":9223372036854775808}',
        '{"value":1,"extra":2}',
        '{"zero":1}',
        "{}",
        "0",
        "true",
    ],
)
def test_fill_strategy_rejections(fill: str) -> None:
    with pytest.raises(ValidationError):
        TimeSeriesQuery.from_wire(
            '{"measurement":"m","time_range":' + RANGE + ',"fill":' + fill + "}"
        )


@pytest.mark.parametrize(
    "function",
    [
        f'"{name}"'
        for name in ["mean", "sum", "min", "max", "count", "first", "last", "stddev", "median"]
    ]
    + ['{"percentile":0}', '{"percentile":95}', '{"percentile":255}'],
)
def test_ts_aggregation_function_shapes_round_trip(function: str) -> None:
    doc = '{"function":' + function + ',"window":"1h","fields":["a","b"]}'
    assert Aggregation.from_wire(doc).to_wire() == doc


def test_ts_aggregation_names_in_declaration_order() -> None:
    assert [n.value for n in TsAggregationName] == [
        "mean",
        "sum",
        "min",
        "max",
        "count",
        "first",
        "last",
        "stddev",
        "median",
    ]
    agg = Aggregation(function=Percentile(percentile=50), window="1m", fields=[])
    assert agg.to_wire() == '{"function":{"percentile":50},"window":"1m","fields":[]}'
    agg = Aggregation(function=TsAggregationName.median, window="1M", fields=["x"])
    assert agg.to_wire() == '{"function":"median","window":"1M","fields":["x"]}'


@pytest.mark.parametrize(
    "function",
    [
        '{"percentile":300}',
        '{"percentile":256}',
        '{"percentile":-1}',
        '{"percentile":95.0}',
        '{"percentile":"95"}',
        '{"percentile":null}',
        '{"percentile":95,"extra":1}',
        '"percentile"',
        '"avg"',
        '"Mean"',
        '"p95"',
        "null",
    ],
)
def test_ts_aggregation_function_rejections(function: str) -> None:
    with pytest.raises(ValidationError):
        Aggregation.from_wire('{"function":' + function + ',"window":"1h","fields":[]}')


def test_aggregation_keys_required() -> None:
    with pytest.raises(ValidationError):
        Aggregation.from_wire('{"function":"mean","fields":[]}')
    with pytest.raises(ValidationError):
        Aggregation.from_wire('{"function":"mean","window":"1m"}')


@pytest.mark.parametrize(
    "patch",
    [
        '"tag_filters":null',
        '"select_fields":null',
        '"group_by":null',
        '"tag_filters":{"n":1}',
        '"limit":-1',
        '"limit":10.0',
        '"offset":"5"',
        '"offset":18446744073709551616',
        '"aggregation":{"function":"mean"}',
    ],
)
def test_time_series_query_rejections(patch: str) -> None:
    with pytest.raises(ValidationError):
        TimeSeriesQuery.from_wire('{"measurement":"m","time_range":' + RANGE + "," + patch + "}")


def test_time_series_query_duplicate_named_key_rejected() -> None:
    with pytest.raises(ValidationError):
        TimeSeriesQuery.from_wire(
            '{"measurement":"m","time_range":' + RANGE + ',"fill":"zero","fill":"linear"}'
        )


# --- §6.7 Other time-series objects ----------------------------------------------------------


def test_time_series_batch_round_trip() -> None:
    doc = (
        '{"batch_id":"b-1","measurement":"llm_latency","points":[{"measurement":"llm_latency",'
        '"timestamp":' + TS + ',"tags":' + TAGS + ',"fields":{"latency_ms":1.5}},'
        '{"measurement":"llm_latency","timestamp":'
        + TS
        + ',"tags":'
        + TAGS
        + ',"fields":{"status":"ok"}}],"created_at":"2024-01-15T10:31:00.500Z"}'
    )
    batch = TimeSeriesBatch.from_wire(doc)
    assert [p.fields.shape for p in batch.points] == [
        FieldSetShape.performance,
        FieldSetShape.generic,
    ]
    assert batch.to_wire() == doc


RESULT = (
    '{"measurement":"llm_latency","series":[{"tags":{"model_id":"gpt-4"},"points":['
    '{"timestamp":' + TS + ',"values":{"mean":842.0}},'
    '{"timestamp":"2024-01-15T10:35:00Z","values":{"label":"slow"}}]}],'
    '"metadata":{"execution_time_ms":12,"point_count":2,"series_count":1,"truncated":false,'
    '"warnings":["partial shard"]}}'
)


def test_time_series_result_round_trip() -> None:
    result = TimeSeriesResult.from_wire(RESULT)
    assert result.series[0].points[0].values == {"mean": 842.0}
    assert result.to_wire() == RESULT


def test_query_metadata_warnings_default() -> None:
    doc = '{"execution_time_ms":0,"point_count":0,"series_count":0,"truncated":true}'
    assert QueryMetadata.from_wire(doc).to_wire() == doc[:-1] + ',"warnings":[]}'
    with pytest.raises(ValidationError):
        QueryMetadata.from_wire(doc[:-1] + ',"warnings":null}')
    with pytest.raises(ValidationError):
        QueryMetadata.from_wire(doc.replace("true", '"true"'))
    with pytest.raises(ValidationError):
        QueryMetadata.from_wire(doc.replace('"point_count":0', '"point_count":0.0'))


def test_time_series_tags_required_and_built_in_code() -> None:
    with pytest.raises(ValidationError):
        TimeSeries.from_wire('{"points":[]}')
    with pytest.raises(ValidationError):
        TimeSeries.from_wire('{"tags":null,"points":[]}')
    series = TimeSeries(tags={}, points=[TsDataPoint(timestamp=MOMENT, values={"n": 1})])
    assert series.to_wire() == '{"tags":{},"points":[{"timestamp":' + TS + ',"values":{"n":1}}]}'


def test_continuous_query_round_trip() -> None:
    doc = (
        '{"query_id":"cq-1","name":"hourly latency","source_measurement":"llm_latency",'
        '"destination_measurement":"llm_latency_1h","query":{"measurement":"llm_latency",'
        '"time_range":' + RANGE + ',"tag_filters":{},"select_fields":["latency_ms"],'
        '"aggregation":{"function":"mean","window":"1h","fields":["latency_ms"]},'
        '"group_by":[],"fill":{"value":0}},"interval":"1h","enabled":true}'
    )
    assert ContinuousQuery.from_wire(doc).to_wire() == doc
    with pytest.raises(ValidationError):
        ContinuousQuery.from_wire(doc.replace('"enabled":true', '"enabled":1'))
    with pytest.raises(ValidationError):
        ContinuousQuery.from_wire(doc.replace(',"interval":"1h"', ""))
