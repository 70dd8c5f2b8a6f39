"""Correlation models (WIRE_FORMAT.md §7) and anomaly stream messages (§11).

Expected JSON is written out by hand from the spec; maps with two or more keys are
compared as maps (§4.7, §12 #3), everything else byte for byte.
"""

from __future__ import annotations

import json
from uuid import UUID

import pytest
from pydantic import ValidationError

from pipeline.models.correlation import (
    AlertThresholds,
    AnomalyCorrelation,
    AnomalyEvent,
    AnomalyResult,
    AnomalySeverity,
    AnomalyType,
    BusinessImpact,
    CausalLink,
    CausalRelationship,
    CorrelatedEvent,
    CorrelationConfig,
    CorrelationPattern,
    CorrelationQuery,
    CorrelationType,
    CostImpact,
    EdgeRelationship,
    EventCorrelation,
    EventEdge,
    EventGraph,
    EventNode,
    EventRole,
    GraphMetadata,
    ImpactAssessment,
    ImpactSeverity,
    MetricPoint,
    PatternStep,
    PerformanceImpact,
    ReputationRisk,
    RootCauseAnalysis,
    SecurityImpact,
)
from pipeline.models.events import EventType, Severity, SourceModule
from pipeline.models.issues import FieldIssue, issues_from_error
from pipeline.models.metrics import TimeRange
from pipeline.wire.json_codec import WireDecodeError

REJECTED = (ValidationError, WireDecodeError)

U1 = "550e8400-e29b-41d4-a716-446655440000"
U2 = "3f2b8c1e-7d4a-4e9b-a1c2-5d6e7f809a1b"
U3 = "b7e4d9a0-1c2f-4a3b-9d8e-6f5a4b3c2d1e"
TS = "2024-01-15T10:30:00Z"
RANGE = '{"start":"2024-01-15T10:00:00Z","end":"2024-01-15T11:00:00Z"}'

STEP = (
    '{"step_number":1,"module":"llm-observatory","event_type":"telemetry",'
    '"time_offset_ms":null,"conditions":{"metric":"latency"}}'
)
STEP_2 = (
    '{"step_number":2,"module":"llm-cost-ops","event_type":"cost",'
    '"time_offset_ms":-1500,"conditions":{}}'
)
PATTERN = (
    '{"pattern_id":"p-1","name":"latency then cost","description":"slow model burns money",'
    f'"modules":["llm-observatory","llm-cost-ops"],"sequence":[{STEP},{STEP_2}]}}'
)
CORRELATED = (
    f'{{"event_id":"{U2}","source_module":"llm-observatory","event_type":"telemetry",'
    f'"severity":"warning","timestamp":"{TS}","role":"root_cause","summary":"p99 latency up",'
    '"metrics":{"latency_ms":842.0}}'
)
CORRELATED_2 = (
    f'{{"event_id":"{U3}","source_module":"llm-cost-ops","event_type":"cost",'
    '"severity":"info","timestamp":"2024-01-15T10:31:00.250Z","role":"effect",'
    '"summary":"cost up","metrics":{}}'
)
EVENT_CORRELATION = (
    f'{{"correlation_id":"{U1}","correlation_type":"causal_chain",'
    f'"events":[{CORRELATED},{CORRELATED_2}],"strength":0.85,"confidence":0.9,'
    f'"time_window":{RANGE},"pattern":{PATTERN},"detected_at":"{TS}",'
    '"metadata":{"detector":"v2"}}'
)
ANOMALY = (
    f'{{"event_id":"{U2}","source_module":"llm-observatory","anomaly_type":"spike",'
    '"anomaly_score":0.93,"baseline":120.0,"observed":842.0,"deviation":6.2,'
    f'"timestamp":"{TS}","metric":"latency_ms"}}'
)
LINK = (
    f'{{"from_event_id":"{U2}","to_event_id":"{U3}","relationship":"direct_cause",'
    '"strength":0.8,"time_delta_ms":60000}'
)
ROOT_CAUSE = (
    f'{{"root_event_id":"{U2}","confidence":0.75,"causal_chain":[{LINK}],'
    '"contributing_factors":["traffic burst"],"recommendations":["scale out","add cache"]}'
)
# The example `impact` of §7.3, verbatim.
IMPACT_EXAMPLE = (
    '{"severity":"negligible","affected_modules":["llm-cost-ops"],"cost_impact":'
    '{"additional_cost_usd":1.0,"cost_increase_percent":2.0,"wasted_resources_usd":0.0},'
    '"business_impact":{"users_affected":1,"sla_violations":0,"revenue_impact_usd":null,'
    '"reputation_risk":"none"}}'
)
PERF_IMPACT = (
    '{"latency_increase_percent":250.5,"throughput_decrease_percent":12.0,'
    '"error_rate_increase_percent":0.5,"affected_requests":18446744073709551615}'
)
SEC_IMPACT = (
    '{"threats_detected":3,"vulnerabilities_exposed":0,"data_at_risk":true,'
    '"compliance_violations":1}'
)
FULL_IMPACT = (
    '{"severity":"critical","affected_modules":["llm-observatory","llm-sentinel"],'
    f'"performance_impact":{PERF_IMPACT},'
    '"cost_impact":{"additional_cost_usd":1e-6,"cost_increase_percent":1e16,'
    '"wasted_resources_usd":0.00003},'
    f'"security_impact":{SEC_IMPACT},'
    '"business_impact":{"users_affected":1200,"sla_violations":2,'
    '"revenue_impact_usd":-4500.25,"reputation_risk":"severe"}}'
)
ANOMALY_CORRELATION = (
    f'{{"correlation_id":"{U1}","anomalies":[{ANOMALY}],"strength":0.7,'
    f'"root_cause":{ROOT_CAUSE},"impact":{IMPACT_EXAMPLE},"detected_at":"{TS}"}}'
)
NODE = (
    f'{{"node_id":"n1","event_id":"{U2}","source_module":"llm-sentinel",'
    f'"event_type":"security","timestamp":"{TS}","attributes":{{"ip":"10.0.0.1"}}}}'
)
NODE_2 = (
    f'{{"node_id":"n2","event_id":"{U3}","source_module":"llm-policy-engine",'
    f'"event_type":"governance","timestamp":"{TS}","attributes":{{}}}}'
)
EDGE = (
    '{"edge_id":"e1","from_node":"n1","to_node":"n2","relationship_type":"triggered_by",'
    '"weight":1.0,"properties":{"lag_ms":"20"}}'
)
GRAPH_META = (
    '{"node_count":2,"edge_count":1,"connected_components":1,"avg_degree":1.0,"density":0.5}'
)
GRAPH = (
    f'{{"graph_id":"g-1","time_range":{RANGE},"nodes":[{NODE},{NODE_2}],"edges":[{EDGE}],'
    f'"metadata":{GRAPH_META}}}'
)
QUERY_FULL = (
    f'{{"seed_event_id":"{U1}","time_window_minutes":15,"min_strength":0.5,'
    '"correlation_types":["temporal","anomaly"],"include_modules":["llm-sentinel"],'
    '"max_depth":2}'
)
CONFIG_DEFAULT = (
    '{"auto_detect":true,"patterns":[],"correlation_window_minutes":60,"min_events":2,'
    '"alert_thresholds":{"min_correlation_strength":0.8,"min_anomaly_score":0.7,'
    '"critical_impact_threshold":0.9}}'
)
CONFIG_WITH_PATTERN = (
    f'{{"auto_detect":false,"patterns":[{PATTERN}],"correlation_window_minutes":-5,'
    '"min_events":0,"alert_thresholds":{"min_correlation_strength":1.5,'
    '"min_anomaly_score":0.0,"critical_impact_threshold":-0.0}}'
)
METRIC_POINT = (
    f'{{"timestamp":"{TS}","metric_name":"latency_ms","value":842.5,"tags":{{"model_id":"gpt-4"}}}}'
)
ANOMALY_RESULT = (
    f'{{"timestamp":"{TS}","metric_name":"latency_ms","value":842.5,'
    '"expected_range":[100.25,300.75],"z_score":-3.5,"severity":"High",'
    '"detection_method":"z_score"}'
)

ROUND_TRIPS = [
    (PatternStep, STEP),
    (PatternStep, STEP_2),
    (CorrelationPattern, PATTERN),
    (CorrelatedEvent, CORRELATED),
    (CorrelatedEvent, CORRELATED_2),
    (EventCorrelation, EVENT_CORRELATION),
    (AnomalyEvent, ANOMALY),
    (CausalLink, LINK),
    (RootCauseAnalysis, ROOT_CAUSE),
    (ImpactAssessment, IMPACT_EXAMPLE),
    (ImpactAssessment, FULL_IMPACT),
    (PerformanceImpact, PERF_IMPACT),
    (SecurityImpact, SEC_IMPACT),
    (AnomalyCorrelation, ANOMALY_CORRELATION),
    (EventNode, NODE),
    (EventNode, NODE_2),
    (EventEdge, EDGE),
    (GraphMetadata, GRAPH_META),
    (EventGraph, GRAPH),
    (CorrelationQuery, QUERY_FULL),
    (CorrelationConfig, CONFIG_DEFAULT),
    (CorrelationConfig, CONFIG_WITH_PATTERN),
    (MetricPoint, METRIC_POINT),
    (AnomalyResult, ANOMALY_RESULT),
]


@pytest.mark.parametrize(
    "model, text", ROUND_TRIPS, ids=[f"{m.__name__}-{i}" for i, (m, _) in enumerate(ROUND_TRIPS)]
)
def test_round_trip_byte_exact(model: type, text: str) -> None:
    obj = model.from_wire(text)
    assert obj.to_wire() == text
    assert model.from_wire(obj.to_wire()) == obj
    assert obj.to_wire_bytes() == text.encode("utf-8")


# --- enums ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "enum, values",
    [
        (
            CorrelationType,
            [
                "causal_chain",
                "temporal",
                "pattern_match",
                "anomaly",
                "cost_impact",
                "security_incident",
                "performance_degradation",
                "compliance_cascade",
            ],
        ),
        (EventRole, ["root_cause", "contributor", "effect", "related"]),
        (
            AnomalyType,
            ["spike", "drop", "pattern_deviation", "frequency_anomaly", "distribution_shift"],
        ),
        (CausalRelationship, ["direct_cause", "indirect_cause", "correlation", "amplification"]),
        (ImpactSeverity, ["negligible", "low", "medium", "high", "critical"]),
        (ReputationRisk, ["none", "low", "medium", "high", "severe"]),
        (
            EdgeRelationship,
            [
                "causes",
                "triggered_by",
                "related_to",
                "precedes",
                "follows",
                "correlates_with",
                "amplifies",
                "mitigates",
            ],
        ),
        (AnomalySeverity, ["Low", "Medium", "High", "Critical"]),
    ],
)
def test_enum_values_in_declaration_order(enum: type, values: list[str]) -> None:
    assert [member.value for member in enum] == values
    assert all(isinstance(member, str) for member in enum)


def test_impact_severity_is_ordered() -> None:
    assert ImpactSeverity.NEGLIGIBLE < ImpactSeverity.LOW < ImpactSeverity.MEDIUM
    assert ImpactSeverity.MEDIUM < ImpactSeverity.HIGH < ImpactSeverity.CRITICAL
    # by rank, not alphabetically ("critical" < "low" as strings)
    assert ImpactSeverity.CRITICAL > ImpactSeverity.LOW
    assert max(ImpactSeverity) is ImpactSeverity.CRITICAL
    assert sorted([ImpactSeverity.HIGH, ImpactSeverity.NEGLIGIBLE, ImpactSeverity.MEDIUM]) == [
        ImpactSeverity.NEGLIGIBLE,
        ImpactSeverity.MEDIUM,
        ImpactSeverity.HIGH,
    ]


def test_anomaly_severity_is_ordered_and_capitalised() -> None:
    assert AnomalySeverity.LOW < AnomalySeverity.MEDIUM < AnomalySeverity.HIGH
    assert AnomalySeverity.HIGH < AnomalySeverity.CRITICAL


@pytest.mark.parametrize("bad", ["low", "LOW", "high", "critical", "Severe", "", None, 1])
def test_anomaly_result_rejects_non_capitalised_severity(bad: object) -> None:
    doc = json.loads(ANOMALY_RESULT)
    doc["severity"] = bad
    with pytest.raises(ValidationError):
        AnomalyResult.from_wire(json.dumps(doc))


@pytest.mark.parametrize("bad", ["Low", "NEGLIGIBLE", "none", "severe"])
def test_impact_severity_rejects_other_spellings(bad: str) -> None:
    doc = json.loads(IMPACT_EXAMPLE)
    doc["severity"] = bad
    with pytest.raises(ValidationError):
        ImpactAssessment.from_wire(json.dumps(doc))


def test_reputation_risk_none_is_a_string_not_null() -> None:
    business = ImpactAssessment.from_wire(IMPACT_EXAMPLE).business_impact
    assert business is not None
    assert business.reputation_risk is ReputationRisk.NONE
    assert business.revenue_impact_usd is None
    doc = json.loads(IMPACT_EXAMPLE)
    doc["business_impact"]["reputation_risk"] = None
    with pytest.raises(ValidationError):
        ImpactAssessment.from_wire(json.dumps(doc))
    doc["business_impact"]["reputation_risk"] = "None"
    with pytest.raises(ValidationError):
        ImpactAssessment.from_wire(json.dumps(doc))


# --- §7.1 event correlation -------------------------------------------------------------------


def test_event_correlation_values() -> None:
    corr = EventCorrelation.from_wire(EVENT_CORRELATION)
    assert corr.correlation_id == UUID(U1)
    assert corr.correlation_type is CorrelationType.CAUSAL_CHAIN
    assert isinstance(corr.time_window, TimeRange)
    assert corr.events[0].severity is Severity.WARNING
    assert corr.events[0].source_module is SourceModule.LLM_OBSERVATORY
    assert corr.events[1].event_type is EventType.COST
    assert corr.events[0].role is EventRole.ROOT_CAUSE
    assert corr.pattern is not None
    assert corr.pattern.sequence[0].time_offset_ms is None
    assert corr.pattern.sequence[1].time_offset_ms == -1500
    assert corr.metadata == {"detector": "v2"}


def test_event_correlation_minimal_defaults_written() -> None:
    text = (
        f'{{"correlation_id":"{U1}","correlation_type":"temporal","events":[],'
        f'"strength":1,"confidence":0,"time_window":{RANGE},"detected_at":"{TS}"}}'
    )
    expected = (
        f'{{"correlation_id":"{U1}","correlation_type":"temporal","events":[],'
        f'"strength":1.0,"confidence":0.0,"time_window":{RANGE},"detected_at":"{TS}",'
        '"metadata":{}}'
    )
    corr = EventCorrelation.from_wire(text)
    assert corr.pattern is None
    assert corr.metadata == {}
    assert corr.to_wire() == expected


def test_event_correlation_pattern_null_is_unset_and_omitted() -> None:
    doc = json.loads(EVENT_CORRELATION)
    doc["pattern"] = None
    corr = EventCorrelation.from_wire(json.dumps(doc))
    assert corr.pattern is None
    assert '"pattern"' not in corr.to_wire()


def test_correlated_event_metrics_default_and_map_compare() -> None:
    doc = json.loads(CORRELATED)
    del doc["metrics"]
    event = CorrelatedEvent.from_wire(json.dumps(doc))
    assert event.metrics == {}
    assert event.to_wire().endswith('"summary":"p99 latency up","metrics":{}}')
    doc["metrics"] = {"latency_ms": 842, "ttft_ms": 96.5, "tps": 61.25}
    event = CorrelatedEvent.from_wire(json.dumps(doc))
    written = json.loads(event.to_wire())
    assert written["metrics"] == {"latency_ms": 842.0, "ttft_ms": 96.5, "tps": 61.25}
    assert '"latency_ms":842.0' in event.to_wire()
    assert list(written) == [
        "event_id",
        "source_module",
        "event_type",
        "severity",
        "timestamp",
        "role",
        "summary",
        "metrics",
    ]


@pytest.mark.parametrize(
    "model, text, key",
    [
        (EventCorrelation, EVENT_CORRELATION, "metadata"),
        (CorrelatedEvent, CORRELATED, "metrics"),
        (CorrelationQuery, QUERY_FULL, "min_strength"),
        (CorrelationQuery, QUERY_FULL, "correlation_types"),
        (CorrelationQuery, QUERY_FULL, "include_modules"),
        (CorrelationQuery, QUERY_FULL, "max_depth"),
    ],
)
def test_null_on_defaulted_key_is_rejected(model: type, text: str, key: str) -> None:
    doc = json.loads(text)
    doc[key] = None
    with pytest.raises(ValidationError) as info:
        model.from_wire(json.dumps(doc))
    assert [issue.path for issue in issues_from_error(info.value, doc)] == [key]


def test_pattern_step_time_offset_absent_is_written_as_null() -> None:
    text = '{"step_number":3,"module":"llm-registry","event_type":"lifecycle","conditions":{}}'
    step = PatternStep.from_wire(text)
    assert step.to_wire() == (
        '{"step_number":3,"module":"llm-registry","event_type":"lifecycle",'
        '"time_offset_ms":null,"conditions":{}}'
    )


def test_pattern_step_conditions_map_compare() -> None:
    doc = json.loads(STEP)
    doc["conditions"] = {"metric": "latency", "op": ">", "threshold": "500"}
    step = PatternStep.from_wire(json.dumps(doc))
    assert json.loads(step.to_wire())["conditions"] == doc["conditions"]


def test_time_window_must_be_a_time_range_object() -> None:
    doc = json.loads(EVENT_CORRELATION)
    doc["time_window"] = "one_hour"
    with pytest.raises(ValidationError):
        EventCorrelation.from_wire(json.dumps(doc))


def test_timestamps_and_uuids_are_normalised_on_write() -> None:
    doc = json.loads(EVENT_CORRELATION)
    doc["correlation_id"] = "{" + U1.upper() + "}"
    doc["detected_at"] = "2024-01-15T12:30:00+02:00"
    doc["events"][0]["event_id"] = U2.replace("-", "")
    doc["time_window"]["start"] = "2024-01-15 10:00:00.000Z"
    assert EventCorrelation.from_wire(json.dumps(doc)).to_wire() == EVENT_CORRELATION


# --- §7.2 anomalies and root cause -------------------------------------------------------------


def test_anomaly_correlation_without_root_cause() -> None:
    text = (
        f'{{"correlation_id":"{U1}","anomalies":[],"strength":0.25,'
        f'"impact":{IMPACT_EXAMPLE},"detected_at":"{TS}"}}'
    )
    corr = AnomalyCorrelation.from_wire(text)
    assert corr.root_cause is None
    assert corr.to_wire() == text


@pytest.mark.parametrize(
    "key",
    ["root_event_id", "confidence", "causal_chain", "contributing_factors", "recommendations"],
)
def test_root_cause_keys_are_all_required(key: str) -> None:
    doc = json.loads(ROOT_CAUSE)
    del doc[key]
    with pytest.raises(ValidationError) as info:
        RootCauseAnalysis.from_wire(json.dumps(doc))
    assert issues_from_error(info.value, doc)[0].path == key
    assert issues_from_error(info.value, doc)[0].reason == "required field is missing"


@pytest.mark.parametrize("bad", [60000.0, "60000", True, 9223372036854775808])
def test_causal_link_time_delta_is_a_strict_i64(bad: object) -> None:
    doc = json.loads(LINK)
    doc["time_delta_ms"] = bad
    with pytest.raises(ValidationError):
        CausalLink.from_wire(json.dumps(doc))


def test_causal_link_time_delta_accepts_negative_i64_min() -> None:
    doc = json.loads(LINK)
    doc["time_delta_ms"] = -(2**63)
    assert CausalLink.from_wire(json.dumps(doc)).time_delta_ms == -(2**63)


def test_anomaly_event_integers_read_as_floats() -> None:
    doc = json.loads(ANOMALY)
    doc["baseline"] = 120
    doc["observed"] = 1523
    assert AnomalyEvent.from_wire(json.dumps(doc)).to_wire() == ANOMALY.replace(
        '"observed":842.0', '"observed":1523.0'
    )


# --- §7.3 impact assessment --------------------------------------------------------------------


def test_impact_example_values() -> None:
    impact = ImpactAssessment.from_wire(IMPACT_EXAMPLE)
    assert impact.severity is ImpactSeverity.NEGLIGIBLE
    assert impact.affected_modules == [SourceModule.LLM_COST_OPS]
    assert impact.performance_impact is None
    assert impact.security_impact is None
    assert impact.cost_impact == CostImpact(
        additional_cost_usd=1.0, cost_increase_percent=2.0, wasted_resources_usd=0.0
    )


def test_impact_built_in_code_omits_unset_impacts() -> None:
    impact = ImpactAssessment(
        severity=ImpactSeverity.NEGLIGIBLE,
        affected_modules=[SourceModule.LLM_COST_OPS],
        cost_impact=CostImpact(
            additional_cost_usd=1.0, cost_increase_percent=2.0, wasted_resources_usd=0.0
        ),
        business_impact=BusinessImpact(
            users_affected=1, sla_violations=0, reputation_risk=ReputationRisk.NONE
        ),
    )
    assert impact.to_wire() == IMPACT_EXAMPLE


@pytest.mark.parametrize("bad", [-1, 1.0, "3", False, 2**64])
def test_security_impact_counts_are_strict_u64(bad: object) -> None:
    doc = json.loads(SEC_IMPACT)
    doc["threats_detected"] = bad
    with pytest.raises(ValidationError):
        SecurityImpact.from_wire(json.dumps(doc))


def test_security_impact_data_at_risk_is_a_strict_bool() -> None:
    doc = json.loads(SEC_IMPACT)
    doc["data_at_risk"] = 1
    with pytest.raises(ValidationError):
        SecurityImpact.from_wire(json.dumps(doc))


def test_non_finite_f64_is_rejected() -> None:
    with pytest.raises(ValidationError):
        CostImpact.from_wire(
            '{"additional_cost_usd":1e400,"cost_increase_percent":2.0,"wasted_resources_usd":0.0}'
        )
    with pytest.raises(WireDecodeError):
        CostImpact.from_wire(
            '{"additional_cost_usd":NaN,"cost_increase_percent":2.0,"wasted_resources_usd":0.0}'
        )


# --- §7.4 event graph --------------------------------------------------------------------------


def test_event_graph_values() -> None:
    graph = EventGraph.from_wire(GRAPH)
    assert [node.node_id for node in graph.nodes] == ["n1", "n2"]
    assert graph.edges[0].relationship_type is EdgeRelationship.TRIGGERED_BY
    assert graph.metadata.node_count == 2
    assert graph.metadata.density == 0.5


@pytest.mark.parametrize(
    "model, text, key", [(EventNode, NODE, "attributes"), (EventEdge, EDGE, "properties")]
)
def test_graph_maps_are_required(model: type, text: str, key: str) -> None:
    doc = json.loads(text)
    del doc[key]
    with pytest.raises(ValidationError):
        model.from_wire(json.dumps(doc))


def test_graph_metadata_counts_are_integers() -> None:
    with pytest.raises(ValidationError):
        GraphMetadata.from_wire(GRAPH_META.replace('"node_count":2', '"node_count":2.0'))


# --- §7.5 queries and configuration ------------------------------------------------------------


def test_correlation_query_minimal_input_written_with_defaults() -> None:
    minimal = f'{{"seed_event_id":"{U1}","time_window_minutes":30}}'
    expected = (
        f'{{"seed_event_id":"{U1}","time_window_minutes":30,"min_strength":0.7,'
        '"correlation_types":[],"include_modules":[],"max_depth":5}'
    )
    query = CorrelationQuery.from_wire(minimal)
    assert query.min_strength == 0.7
    assert query.correlation_types == []
    assert query.include_modules == []
    assert query.max_depth == 5
    assert query.to_wire() == expected
    assert CorrelationQuery(seed_event_id=UUID(U1), time_window_minutes=30).to_wire() == expected


@pytest.mark.parametrize("key", ["seed_event_id", "time_window_minutes"])
def test_correlation_query_required_keys(key: str) -> None:
    doc = {"seed_event_id": U1, "time_window_minutes": 30}
    del doc[key]
    with pytest.raises(ValidationError):
        CorrelationQuery.from_wire(json.dumps(doc))


def test_correlation_query_rejects_unknown_enum_members() -> None:
    doc = json.loads(QUERY_FULL)
    doc["correlation_types"] = ["Temporal"]
    with pytest.raises(ValidationError):
        CorrelationQuery.from_wire(json.dumps(doc))
    doc = json.loads(QUERY_FULL)
    doc["include_modules"] = ["llm-costops"]
    with pytest.raises(ValidationError):
        CorrelationQuery.from_wire(json.dumps(doc))


def test_correlation_config_constructor_default() -> None:
    assert CorrelationConfig.default().to_wire() == CONFIG_DEFAULT
    assert CorrelationConfig().to_wire() == CONFIG_DEFAULT
    config = CorrelationConfig.default()
    assert config.alert_thresholds == AlertThresholds(
        min_correlation_strength=0.8, min_anomaly_score=0.7, critical_impact_threshold=0.9
    )
    # a fresh list each time
    config.patterns.append(CorrelationPattern.from_wire(PATTERN))
    assert CorrelationConfig.default().patterns == []


def test_correlation_config_constructor_overrides() -> None:
    config = CorrelationConfig(auto_detect=False, min_events=5)
    assert config.to_wire() == CONFIG_DEFAULT.replace("true", "false").replace(
        '"min_events":2', '"min_events":5'
    )


@pytest.mark.parametrize(
    "key",
    ["auto_detect", "patterns", "correlation_window_minutes", "min_events", "alert_thresholds"],
)
def test_correlation_config_keys_are_required_on_read(key: str) -> None:
    doc = json.loads(CONFIG_DEFAULT)
    del doc[key]
    with pytest.raises(ValidationError) as info:
        CorrelationConfig.from_wire(json.dumps(doc))
    assert issues_from_error(info.value, doc) == [FieldIssue(key, "required field is missing")]


def test_correlation_config_empty_object_is_rejected() -> None:
    with pytest.raises(ValidationError):
        CorrelationConfig.from_wire("{}")


def test_alert_thresholds_required() -> None:
    with pytest.raises(ValidationError):
        AlertThresholds.from_wire('{"min_correlation_strength":0.8,"min_anomaly_score":0.7}')


# --- §3.2 unknown and duplicate keys ----------------------------------------------------------


def test_unknown_keys_are_ignored_at_every_level() -> None:
    doc = json.loads(ANOMALY_CORRELATION)
    doc["future"] = {"x": 1}
    doc["impact"]["extra"] = True
    doc["anomalies"][0]["unit"] = "ms"
    assert AnomalyCorrelation.from_wire(json.dumps(doc)).to_wire() == ANOMALY_CORRELATION


def test_duplicate_named_key_is_rejected() -> None:
    text = LINK[:-1] + ',"strength":0.1}'
    with pytest.raises(ValidationError, match="duplicate key 'strength'"):
        CausalLink.from_wire(text)


def test_duplicate_map_key_keeps_last_value() -> None:
    text = STEP.replace('{"metric":"latency"}', '{"metric":"a","metric":"latency"}')
    assert PatternStep.from_wire(text).to_wire() == STEP


# --- §11 anomaly stream messages ---------------------------------------------------------------


def test_metric_point_values_and_required_tags() -> None:
    point = MetricPoint.from_wire(METRIC_POINT)
    assert point.value == 842.5
    assert point.tags == {"model_id": "gpt-4"}
    doc = json.loads(METRIC_POINT)
    del doc["tags"]
    with pytest.raises(ValidationError):
        MetricPoint.from_wire(json.dumps(doc))
    doc["tags"] = None
    with pytest.raises(ValidationError):
        MetricPoint.from_wire(json.dumps(doc))


def test_metric_point_integer_value_reads_as_float() -> None:
    text = f'{{"timestamp":"{TS}","metric_name":"requests","value":1523,"tags":{{}}}}'
    assert MetricPoint.from_wire(text).to_wire() == text.replace("1523", "1523.0")


def test_anomaly_result_values_and_order() -> None:
    result = AnomalyResult.from_wire(ANOMALY_RESULT)
    assert result.expected_range == (100.25, 300.75)
    assert result.z_score == -3.5
    assert result.severity is AnomalySeverity.HIGH
    assert result.detection_method == "z_score"
    assert list(json.loads(result.to_wire())) == [
        "timestamp",
        "metric_name",
        "value",
        "expected_range",
        "z_score",
        "severity",
        "detection_method",
    ]


@pytest.mark.parametrize("bad", [[1.0], [1.0, 2.0, 3.0], [1.0, "2"], None, {"low": 1.0}])
def test_anomaly_result_expected_range_is_two_numbers(bad: object) -> None:
    doc = json.loads(ANOMALY_RESULT)
    doc["expected_range"] = bad
    with pytest.raises(ValidationError):
        AnomalyResult.from_wire(json.dumps(doc))


def test_anomaly_result_built_in_code() -> None:
    result = AnomalyResult(
        timestamp="2024-01-15T10:30:00Z",
        metric_name="latency_ms",
        value=842.5,
        expected_range=(100.25, 300.75),
        z_score=-3.5,
        severity=AnomalySeverity.HIGH,
        detection_method="z_score",
    )
    assert result.to_wire() == ANOMALY_RESULT
    assert result.expected_range[0] < result.expected_range[1]
    assert result.severity.at_least(AnomalySeverity.MEDIUM)
    assert json.loads(result.to_wire())["expected_range"] == [100.25, 300.75]


def test_anomaly_result_integral_range_written_as_floats() -> None:
    doc = json.loads(ANOMALY_RESULT)
    doc["expected_range"] = [100, 300]
    assert '"expected_range":[100.0,300.0]' in AnomalyResult.from_wire(json.dumps(doc)).to_wire()
