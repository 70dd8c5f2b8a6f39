"""Event envelope and payloads: WIRE_FORMAT.md §1-§3, §10 and §12.

Expected values come from the spec (its examples, tables and rules), never from the
code under test. Documents are hand-written JSON so the bytes are the spec's, not ours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from pipeline.models.events import (
    SUPPORTED_SCHEMA_MAJOR,
    VARIANT_MODELS,
    AnalyticsEvent,
    ApiCostEvent,
    AuditTrailEvent,
    AuthAction,
    AuthEvent,
    BudgetAlertEvent,
    ComplianceCheckEvent,
    ComplianceStatus,
    ComplianceViolationEvent,
    CustomData,
    CustomPayload,
    DataLineageEvent,
    ErrorRateMetrics,
    EventType,
    LatencyBreakdown,
    LatencyMetrics,
    ModelPerformanceMetrics,
    OtherVariant,
    PolicyViolationEvent,
    PolicyViolationSeverity,
    PrivacyEvent,
    ResourceConsumptionEvent,
    ResourceType,
    Severity,
    SourceModule,
    TelemetryPayload,
    ThreatEvent,
    ThreatLevel,
    ThreatType,
    ThroughputMetrics,
    TokenCostEvent,
    TokenUsageMetrics,
    VulnerabilityEvent,
)
from pipeline.models.issues import issues_from_error
from pipeline.wire.json_codec import WireDecodeError, loads

# --------------------------------------------------------------------------- fixtures

# §10, byte-exact: the reference producers read these and write them back unchanged.
LATENCY_EXAMPLE = (
    b'{"event_id":"3f2b8c1e-7d4a-4e9b-a1c2-5d6e7f809a1b","timestamp":"2024-03-02T08:15:27.250Z",'
    b'"source_module":"llm-observatory","event_type":"telemetry",'
    b'"correlation_id":"9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f","schema_version":"1.0.0",'
    b'"severity":"info","environment":"staging","tags":{"region":"eu-west-1"},'
    b'"payload":{"payload_type":"telemetry","data":{"telemetry_type":"latency",'
    b'"model_id":"claude-3-haiku","request_id":"req-7731","total_latency_ms":842.0,'
    b'"ttft_ms":96.5,"tokens_per_second":61.25,"breakdown":{"queue_time_ms":12.0,'
    b'"processing_time_ms":790.75,"network_time_ms":39.25,"other_ms":0.0}}}}'
)
TOKEN_COST_EXAMPLE = (
    b'{"event_id":"b7e4d9a0-1c2f-4a3b-9d8e-6f5a4b3c2d1e","timestamp":"2024-03-02T08:15:28Z",'
    b'"source_module":"llm-cost-ops","event_type":"cost",'
    b'"correlation_id":"9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f",'
    b'"parent_event_id":"3f2b8c1e-7d4a-4e9b-a1c2-5d6e7f809a1b","schema_version":"1.0.0",'
    b'"severity":"info","environment":"staging","tags":{},"payload":{"payload_type":"cost",'
    b'"data":{"cost_type":"token_cost","model_id":"claude-3-haiku","request_id":"req-7731",'
    b'"prompt_tokens":1200,"completion_tokens":350,"total_tokens":1550,'
    b'"cost_per_prompt_token":2.5e-7,"cost_per_completion_token":1.25e-6,'
    b'"total_cost_usd":0.0007375,"currency":"USD"}}}'
)

ENVELOPE_KEYS = [
    "event_id",
    "timestamp",
    "source_module",
    "event_type",
    "correlation_id",
    "parent_event_id",
    "schema_version",
    "severity",
    "environment",
    "tags",
    "payload",
]

_MODULE_OF = {
    "telemetry": ("llm-observatory", "telemetry"),
    "security": ("llm-sentinel", "security"),
    "cost": ("llm-cost-ops", "cost"),
    "governance": ("llm-governance-dashboard", "governance"),
    "custom": ("llm-registry", "lifecycle"),
}


def event_bytes(payload_type: str, data: str, *, severity: str = "info") -> bytes:
    """A compact event in write order (§1), around a hand-written ``data`` object."""
    module, event_type = _MODULE_OF[payload_type]
    return (
        '{"event_id":"550e8400-e29b-41d4-a716-446655440000",'
        '"timestamp":"2024-01-15T10:30:00Z",'
        f'"source_module":"{module}","event_type":"{event_type}",'
        f'"schema_version":"1.0.0","severity":"{severity}","environment":"production",'
        f'"tags":{{}},"payload":{{"payload_type":"{payload_type}","data":{data}}}}}'
    ).encode()


# One hand-written document per variant (§2.2-§2.6), fields in the spec's write order.
VARIANT_DOCS: dict[str, tuple[str, type]] = {
    "telemetry.latency": (
        '{"telemetry_type":"latency","model_id":"gpt-4","request_id":"req-abc123",'
        '"total_latency_ms":1523.45}',
        LatencyMetrics,
    ),
    "telemetry.throughput": (
        '{"telemetry_type":"throughput","model_id":"gpt-4","requests_per_second":12.5,'
        '"tokens_per_second":850.0,"concurrent_requests":8,"window_duration_seconds":60}',
        ThroughputMetrics,
    ),
    "telemetry.error_rate": (
        '{"telemetry_type":"error_rate","model_id":"gpt-4","total_requests":1000,'
        '"failed_requests":12,"error_rate_percent":1.2,"error_breakdown":{"timeout":12},'
        '"window_duration_seconds":300}',
        ErrorRateMetrics,
    ),
    "telemetry.token_usage": (
        '{"telemetry_type":"token_usage","model_id":"gpt-4","request_id":"req-1",'
        '"prompt_tokens":500,"completion_tokens":300,"total_tokens":800}',
        TokenUsageMetrics,
    ),
    "telemetry.model_performance": (
        '{"telemetry_type":"model_performance","model_id":"gpt-4","accuracy":0.92,'
        '"quality_score":null,"user_satisfaction":4.5,"custom_metrics":{"bleu":0.41}}',
        ModelPerformanceMetrics,
    ),
    "security.threat": (
        '{"security_type":"threat","threat_id":"threat-789xyz","threat_type":"prompt_injection",'
        '"threat_level":"high","source_ip":"192.168.1.100",'
        '"target_resource":"api/v1/chat/completions","attack_vector":"Malicious prompt",'
        '"mitigation_status":"blocked","indicators_of_compromise":["ioc1","ioc2"]}',
        ThreatEvent,
    ),
    "security.vulnerability": (
        '{"security_type":"vulnerability","vulnerability_id":"vuln-1","cve_id":"CVE-2024-12345",'
        '"severity_score":7.5,"affected_component":"tokenizer","description":"heap overflow",'
        '"remediation_status":"patch_available"}',
        VulnerabilityEvent,
    ),
    "security.compliance_violation": (
        '{"security_type":"compliance_violation","violation_id":"cv-1","regulation":"GDPR",'
        '"requirement":"Art. 5","violation_description":"PII retained",'
        '"affected_data_types":["email"],"remediation_required":true}',
        ComplianceViolationEvent,
    ),
    "security.auth": (
        '{"security_type":"auth","user_id":"u-1","action":"permission_denied",'
        '"resource":"dashboard","success":false,"failure_reason":"insufficient scope"}',
        AuthEvent,
    ),
    "security.privacy": (
        '{"security_type":"privacy","data_type":"pii","operation":"consent_update",'
        '"user_consent":true,"data_subjects":["s-1","s-2"],"purpose":"support"}',
        PrivacyEvent,
    ),
    "cost.token_cost": (
        '{"cost_type":"token_cost","model_id":"gpt-4","request_id":"req-cost-123",'
        '"prompt_tokens":500,"completion_tokens":300,"total_tokens":800,'
        '"cost_per_prompt_token":0.00003,"cost_per_completion_token":0.00006,'
        '"total_cost_usd":0.033,"currency":"USD"}',
        TokenCostEvent,
    ),
    "cost.api_cost": (
        '{"cost_type":"api_cost","provider":"openai","api_endpoint":"/v1/chat/completions",'
        '"request_count":1500,"cost_per_request":0.002,"total_cost_usd":3.0,'
        '"billing_period":"2024-03"}',
        ApiCostEvent,
    ),
    "cost.resource_consumption": (
        '{"cost_type":"resource_consumption","resource_type":"gpu","resource_id":"gpu-node-7",'
        '"quantity":24.0,"unit":"gpu_hours","cost_usd":52.8,"utilization_percent":87.5}',
        ResourceConsumptionEvent,
    ),
    "cost.budget_alert": (
        '{"cost_type":"budget_alert","budget_id":"b-1","budget_name":"research",'
        '"budget_limit_usd":10000.0,"current_spend_usd":9650.25,"threshold_percent":95.0,'
        '"alert_type":"critical"}',
        BudgetAlertEvent,
    ),
    "governance.policy_violation": (
        '{"governance_type":"policy_violation","policy_id":"pol-1","policy_name":"PII",'
        '"violation_description":"email in prompt","violated_rules":["no-pii"],'
        '"resource_id":"app-1","user_id":null,"severity":"high","auto_remediated":true}',
        PolicyViolationEvent,
    ),
    "governance.audit_trail": (
        '{"governance_type":"audit_trail","action":"update","actor":"admin",'
        '"resource_type":"policy","resource_id":"pol-1",'
        '"changes":{"threshold":{"new":0.9,"old":0.8}},"ip_address":"10.0.0.1",'
        '"user_agent":null}',
        AuditTrailEvent,
    ),
    "governance.compliance_check": (
        '{"governance_type":"compliance_check","check_id":"chk-1","framework":"SOC2",'
        '"controls_checked":["AC-2","AU-2"],"passed":false,"findings":['
        '{"control_id":"AC-2","status":"pass","description":"ok","evidence":null},'
        '{"control_id":"AU-2","status":"fail","description":"no logs","evidence":"s3://e/au-2"}'
        '],"score":50.0}',
        ComplianceCheckEvent,
    ),
    "governance.data_lineage": (
        '{"governance_type":"data_lineage","data_asset_id":"asset-1","operation":"transform",'
        '"source":"s3://raw","destination":"warehouse.t","transformation":"pii_redaction",'
        '"lineage_path":["s3://raw","etl","warehouse.t"]}',
        DataLineageEvent,
    ),
    "custom": (
        '{"custom_type":"model_deployed","data":{"model":"gpt-4o","replicas":3}}',
        CustomData,
    ),
}

# The variant list of §2.2-§2.6, spelled out independently of the code.
SPEC_VARIANTS = {
    "telemetry.latency",
    "telemetry.throughput",
    "telemetry.error_rate",
    "telemetry.token_usage",
    "telemetry.model_performance",
    "security.threat",
    "security.vulnerability",
    "security.compliance_violation",
    "security.auth",
    "security.privacy",
    "cost.token_cost",
    "cost.api_cost",
    "cost.resource_consumption",
    "cost.budget_alert",
    "governance.policy_violation",
    "governance.audit_trail",
    "governance.compliance_check",
    "governance.data_lineage",
    "custom",
}


def variant_bytes(variant: str) -> bytes:
    data, _ = VARIANT_DOCS[variant]
    return event_bytes(variant.split(".")[0], data)


def mutated(raw: bytes, path: str, value: Any = ...) -> bytes:
    """Set (or, with ``...``, delete) a dotted key of a document; stdlib JSON output."""
    doc = json.loads(raw)
    node = doc
    *parents, leaf = path.split(".")
    for name in parents:
        node = node[int(name)] if isinstance(node, list) else node[name]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return json.dumps(doc).encode()


def read(raw: bytes) -> AnalyticsEvent:
    return AnalyticsEvent.from_wire(raw)


def rejection(raw: bytes) -> list[tuple[str, str]]:
    """Assert the document is rejected; return its (path, reason) issues."""
    try:
        doc = loads(raw)
    except WireDecodeError as exc:
        return [(i.path, i.reason) for i in issues_from_error(exc)]
    with pytest.raises(ValidationError) as info:
        AnalyticsEvent.model_validate(doc)
    return [(i.path, i.reason) for i in issues_from_error(info.value, doc)]


def threat_bytes(threat_type: str) -> bytes:
    data = VARIANT_DOCS["security.threat"][0].replace('"prompt_injection"', threat_type)
    return event_bytes("security", data)


def resource_bytes(resource_type: str) -> bytes:
    data = VARIANT_DOCS["cost.resource_consumption"][0].replace('"gpu"', resource_type, 1)
    return event_bytes("cost", data)


# ------------------------------------------------------------------ §10 examples


@pytest.mark.parametrize("raw", [LATENCY_EXAMPLE, TOKEN_COST_EXAMPLE], ids=["latency", "cost"])
def test_spec_examples_are_written_back_byte_for_byte(raw: bytes) -> None:
    event = read(raw)
    assert event.to_wire_bytes() == raw
    assert read(event.to_wire_bytes()) == event


def test_latency_example_values() -> None:
    event = read(LATENCY_EXAMPLE)
    assert event.event_id == UUID("3f2b8c1e-7d4a-4e9b-a1c2-5d6e7f809a1b")
    assert event.timestamp == datetime(2024, 3, 2, 8, 15, 27, 250000, tzinfo=UTC)
    assert event.source_module is SourceModule.LLM_OBSERVATORY
    assert event.event_type is EventType.TELEMETRY
    assert event.correlation_id == UUID("9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f")
    assert event.parent_event_id is None
    assert event.severity is Severity.INFO
    assert event.environment == "staging"
    assert event.tags == {"region": "eu-west-1"}
    data = event.payload.data
    assert isinstance(data, LatencyMetrics)
    assert (data.model_id, data.request_id) == ("claude-3-haiku", "req-7731")
    assert (data.total_latency_ms, data.ttft_ms, data.tokens_per_second) == (842.0, 96.5, 61.25)
    assert data.breakdown == LatencyBreakdown(
        queue_time_ms=12.0, processing_time_ms=790.75, network_time_ms=39.25, other_ms=0.0
    )
    assert event.payload_variant == "telemetry.latency"
    assert event.model_key() == "claude-3-haiku"
    assert b'"parent_event_id"' not in event.to_wire_bytes()


def test_token_cost_example_values() -> None:
    event = read(TOKEN_COST_EXAMPLE)
    assert event.parent_event_id == UUID("3f2b8c1e-7d4a-4e9b-a1c2-5d6e7f809a1b")
    assert event.tags == {}
    data = event.payload.data
    assert isinstance(data, TokenCostEvent)
    assert (data.prompt_tokens, data.completion_tokens, data.total_tokens) == (1200, 350, 1550)
    assert data.cost_per_prompt_token == 2.5e-7
    assert data.cost_per_completion_token == 1.25e-6
    assert data.total_cost_usd == 0.0007375
    assert event.payload_variant == "cost.token_cost"
    assert event.model_key() == "claude-3-haiku"


def test_minimal_input_gets_defaults() -> None:
    doc = json.loads(LATENCY_EXAMPLE)
    for key in ("event_id", "schema_version", "tags"):
        del doc[key]
    raw = json.dumps(doc).encode()
    first, second = read(raw), read(raw)
    assert first.event_id.version == 4
    assert first.event_id != second.event_id  # a fresh uuid at each read (§12 #2)
    assert first.schema_version == "1.0.0"
    assert first.tags == {}
    written = json.loads(first.to_wire())
    assert written["schema_version"] == "1.0.0"
    assert written["tags"] == {}
    assert written["event_id"] == str(first.event_id)
    assert b'"tags":{}' in first.to_wire_bytes()
    assert list(written) == [k for k in ENVELOPE_KEYS if k != "parent_event_id"]


# ------------------------------------------------------------------ every variant


def test_variant_table_matches_the_spec() -> None:
    assert set(VARIANT_DOCS) == SPEC_VARIANTS
    assert set(VARIANT_MODELS) == SPEC_VARIANTS


@pytest.mark.parametrize("variant", sorted(VARIANT_DOCS))
def test_every_variant_round_trips(variant: str) -> None:
    raw = variant_bytes(variant)
    event = read(raw)
    _, model = VARIANT_DOCS[variant]
    assert type(event.payload.data) is model
    assert VARIANT_MODELS[variant] is model
    assert event.payload_variant == variant
    assert event.to_wire_bytes() == raw  # hand-written in write order: byte-exact
    assert read(event.to_wire_bytes()) == event


@pytest.mark.parametrize(
    "variant, model_key",
    [
        ("telemetry.latency", "gpt-4"),
        ("telemetry.model_performance", "gpt-4"),
        ("cost.token_cost", "gpt-4"),
        ("security.threat", None),
        ("cost.api_cost", None),
        ("custom", None),
    ],
)
def test_model_key(variant: str, model_key: str | None) -> None:
    assert read(variant_bytes(variant)).model_key() == model_key


@pytest.mark.parametrize(
    "body",
    ["null", "42", '"text"', "[1,2.5,null]", '{"a":{"b":[true]}}', "true"],
)
def test_custom_inner_data_may_be_any_json(body: str) -> None:
    raw = event_bytes("custom", f'{{"custom_type":"probe","data":{body}}}')
    event = read(raw)
    assert isinstance(event.payload, CustomPayload)
    assert event.payload.data.data == json.loads(body)
    assert event.payload_variant == "custom"
    assert event.to_wire_bytes() == raw


def test_any_json_keys_sorted_and_number_kinds_kept() -> None:
    raw = event_bytes(
        "custom",
        '{"custom_type":"t","data":{"z":5,"a":5.0,"m":{"old":1,"new":2},'
        '"big":18446744073709551616}}',
    )
    event = read(raw)
    value = event.payload.data.data
    assert value["z"] == 5 and type(value["z"]) is int
    assert type(value["a"]) is float
    assert type(value["big"]) is float  # beyond the 64-bit ranges (§3.6)
    assert (
        b'"data":{"custom_type":"t","data":{"a":5.0,"big":1.8446744073709552e19,'
        b'"m":{"new":2,"old":1},"z":5}}' in event.to_wire_bytes()
    )


def test_audit_changes_values_are_sorted_any_json() -> None:
    data = VARIANT_DOCS["governance.audit_trail"][0].replace(
        '{"new":0.9,"old":0.8}', '{"old":0.8,"new":0.9}'
    )
    event = read(event_bytes("governance", data))
    assert b'"changes":{"threshold":{"new":0.9,"old":0.8}}' in event.to_wire_bytes()


def test_nullable_keys_absent_on_read_are_written_as_null() -> None:
    data = VARIANT_DOCS["security.vulnerability"][0].replace('"cve_id":"CVE-2024-12345",', "")
    event = read(event_bytes("security", data))
    assert event.payload.data.cve_id is None
    assert b'"cve_id":null' in event.to_wire_bytes()


def test_optional_keys_null_on_read_are_omitted_on_write() -> None:
    doc = json.loads(LATENCY_EXAMPLE)
    doc["correlation_id"] = None
    doc["parent_event_id"] = None
    doc["payload"]["data"]["ttft_ms"] = None
    doc["payload"]["data"]["breakdown"] = None
    event = read(json.dumps(doc).encode())
    assert event.correlation_id is None and event.parent_event_id is None
    written = json.loads(event.to_wire())
    assert "correlation_id" not in written and "parent_event_id" not in written
    assert list(written["payload"]["data"]) == [
        "telemetry_type",
        "model_id",
        "request_id",
        "total_latency_ms",
        "tokens_per_second",
    ]


def test_unknown_keys_are_ignored_at_every_level() -> None:
    doc = json.loads(LATENCY_EXAMPLE)
    doc["common"] = {"x": 1}
    doc["payload"]["extra"] = True
    doc["payload"]["data"]["extra"] = [1]
    doc["payload"]["data"]["breakdown"]["extra"] = None
    assert read(json.dumps(doc).encode()).to_wire_bytes() == LATENCY_EXAMPLE


def test_read_order_is_free_and_write_order_is_fixed() -> None:
    doc = json.loads(LATENCY_EXAMPLE)
    data = doc["payload"]["data"]
    data = dict(reversed(list(data.items())))  # inner tag last
    shuffled = {"data": data, "payload_type": "telemetry"}  # data before payload_type
    rest = {k: v for k, v in reversed(list(doc.items())) if k != "payload"}
    raw = json.dumps({"payload": shuffled, **rest}).encode()
    assert read(raw).to_wire_bytes() == LATENCY_EXAMPLE


def test_event_and_payload_type_are_not_cross_checked() -> None:
    raw = LATENCY_EXAMPLE.replace(b'"event_type":"telemetry"', b'"event_type":"cost"')
    raw = raw.replace(b'"llm-observatory"', b'"llm-sentinel"')
    event = read(raw)
    assert event.event_type is EventType.COST
    assert event.payload_variant == "telemetry.latency"


def test_non_ascii_written_raw_and_surrogate_pairs_accepted() -> None:
    raw = TOKEN_COST_EXAMPLE.replace(b'"staging"', b'"produ\\u00e7\\u00e3o \\ud83d\\ude00 a\\/b"')
    event = read(raw)
    assert event.environment == "produção \U0001f600 a/b"
    assert '"environment":"produção \U0001f600 a/b"'.encode() in event.to_wire_bytes()


def test_integer_literal_in_f64_reads_as_float() -> None:
    raw = LATENCY_EXAMPLE.replace(b'"total_latency_ms":842.0', b'"total_latency_ms":842')
    event = read(raw)
    assert event.payload.data.total_latency_ms == 842.0
    assert type(event.payload.data.total_latency_ms) is float
    assert event.to_wire_bytes() == LATENCY_EXAMPLE


# ------------------------------------------------------------------ duplicates §3.2


def _dup(raw: bytes, key_value: bytes) -> bytes:
    assert key_value in raw
    return raw.replace(key_value, key_value + b"," + key_value, 1)


@pytest.mark.parametrize(
    "raw, path, key",
    [
        (_dup(LATENCY_EXAMPLE, b'"severity":"info"'), "", "severity"),
        (_dup(LATENCY_EXAMPLE, b'"environment":"staging"'), "", "environment"),
        (_dup(LATENCY_EXAMPLE, b'"tags":{"region":"eu-west-1"}'), "", "tags"),
        (_dup(LATENCY_EXAMPLE, b'"payload_type":"telemetry"'), "payload", "payload_type"),
        (_dup(LATENCY_EXAMPLE, b'"telemetry_type":"latency"'), "payload.data", "telemetry_type"),
        (_dup(LATENCY_EXAMPLE, b'"model_id":"claude-3-haiku"'), "payload.data", "model_id"),
        (_dup(LATENCY_EXAMPLE, b'"other_ms":0.0'), "payload.data.breakdown", "other_ms"),
        (_dup(TOKEN_COST_EXAMPLE, b'"cost_type":"token_cost"'), "payload.data", "cost_type"),
        (
            threat_bytes('{"other":"jailbreak","other":"x"}'),
            "payload.data.threat_type",
            "other",
        ),
        (
            event_bytes("custom", '{"custom_type":"a","custom_type":"b","data":1}'),
            "payload.data",
            "custom_type",
        ),
    ],
    ids=[
        "envelope-severity",
        "envelope-environment",
        "envelope-tags",
        "payload_type",
        "inner-tag",
        "variant-field",
        "sub-object",
        "cost-tag",
        "other-variant",
        "custom-field",
    ],
)
def test_duplicated_named_key_is_rejected(raw: bytes, path: str, key: str) -> None:
    issues = rejection(raw)
    assert (path, f"duplicate key {key!r} in object") in issues


def test_duplicated_map_keys_keep_the_last_value() -> None:
    raw = LATENCY_EXAMPLE.replace(
        b'"tags":{"region":"eu-west-1"}', b'"tags":{"region":"us-east-1","region":"eu-west-1"}'
    )
    assert read(raw).tags == {"region": "eu-west-1"}
    assert read(raw).to_wire_bytes() == LATENCY_EXAMPLE

    data = VARIANT_DOCS["telemetry.error_rate"][0].replace(
        '{"timeout":12}', '{"timeout":3,"timeout":12}'
    )
    assert read(event_bytes("telemetry", data)).payload.data.error_breakdown == {"timeout": 12}

    raw = event_bytes("custom", '{"custom_type":"t","data":{"k":1,"k":2}}')
    assert read(raw).payload.data.data == {"k": 2}

    data = VARIANT_DOCS["governance.audit_trail"][0].replace(
        '"changes":{', '"changes":{"threshold":null,'
    )
    event = read(event_bytes("governance", data))
    assert event.payload.data.changes == {"threshold": {"new": 0.9, "old": 0.8}}


# ------------------------------------------------------------------ rejections §1-§3

# (id, document, JSON path of the issue); every rule of §1-§3 for events has a case.
_LAT = LATENCY_EXAMPLE
_COST = TOKEN_COST_EXAMPLE
REJECTED: list[tuple[str, bytes, str]] = [
    # null for defaulted keys (§1, §3.1)
    ("null-event_id", mutated(_LAT, "event_id", None), "event_id"),
    ("null-schema_version", mutated(_LAT, "schema_version", None), "schema_version"),
    ("null-tags", mutated(_LAT, "tags", None), "tags"),
    # null for required keys
    ("null-timestamp", mutated(_LAT, "timestamp", None), "timestamp"),
    ("null-severity", mutated(_LAT, "severity", None), "severity"),
    ("null-environment", mutated(_LAT, "environment", None), "environment"),
    ("null-payload", mutated(_LAT, "payload", None), "payload"),
    ("null-f64", mutated(_LAT, "payload.data.total_latency_ms", None),
     "payload.data.total_latency_ms"),
    ("null-list", mutated(threat_bytes('"malicious_input"'),
                          "payload.data.indicators_of_compromise", None),
     "payload.data.indicators_of_compromise"),
    ("null-tag-value", mutated(_LAT, "tags.region", None), "tags.region"),
    # source modules (§1.1)
    ("module-llm-costops", mutated(_COST, "source_module", "llm-costops"), "source_module"),
    ("module-llm_cost_ops", mutated(_COST, "source_module", "llm_cost_ops"), "source_module"),
    ("module-LlmCostOps", mutated(_COST, "source_module", "LlmCostOps"), "source_module"),
    ("module-upper", mutated(_COST, "source_module", "LLM-COST-OPS"), "source_module"),
    ("module-unknown", mutated(_COST, "source_module", "llm-billing"), "source_module"),
    # wrong-case enums and tags (§1.3, §3.3)
    ("severity-INFO", mutated(_LAT, "severity", "INFO"), "severity"),
    ("severity-Info", mutated(_LAT, "severity", "Info"), "severity"),
    ("severity-unknown", mutated(_LAT, "severity", "fatal"), "severity"),
    ("event_type-Telemetry", mutated(_LAT, "event_type", "Telemetry"), "event_type"),
    ("payload_type-Telemetry", mutated(_LAT, "payload.payload_type", "Telemetry"), "payload"),
    ("inner-tag-Latency", mutated(_LAT, "payload.data.telemetry_type", "Latency"),
     "payload.data"),
    ("threat_level-High", mutated(variant_bytes("security.threat"),
                                  "payload.data.threat_level", "High"),
     "payload.data.threat_level"),
    ("threat_type-camel", threat_bytes('"PromptInjection"'), "payload.data.threat_type"),
    ("data_operation-READ", mutated(variant_bytes("governance.data_lineage"),
                                    "payload.data.operation", "READ"),
     "payload.data.operation"),
    ("finding-status-PASS", mutated(variant_bytes("governance.compliance_check"),
                                    "payload.data.findings.1.status", "PASS"),
     "payload.data.findings[1].status"),
    ("budget-alert-Exceeded", mutated(variant_bytes("cost.budget_alert"),
                                      "payload.data.alert_type", "Exceeded"),
     "payload.data.alert_type"),
    # missing required keys, lists and maps included (§3.1)
    ("missing-timestamp", mutated(_LAT, "timestamp"), "timestamp"),
    ("missing-source_module", mutated(_LAT, "source_module"), "source_module"),
    ("missing-event_type", mutated(_LAT, "event_type"), "event_type"),
    ("missing-severity", mutated(_LAT, "severity"), "severity"),
    ("missing-environment", mutated(_LAT, "environment"), "environment"),
    ("missing-payload", mutated(_LAT, "payload"), "payload"),
    ("missing-total_latency_ms", mutated(_LAT, "payload.data.total_latency_ms"),
     "payload.data.total_latency_ms"),
    ("missing-breakdown-field", mutated(_LAT, "payload.data.breakdown.other_ms"),
     "payload.data.breakdown.other_ms"),
    ("missing-ioc-list", mutated(variant_bytes("security.threat"),
                                 "payload.data.indicators_of_compromise"),
     "payload.data.indicators_of_compromise"),
    ("missing-error_breakdown", mutated(variant_bytes("telemetry.error_rate"),
                                        "payload.data.error_breakdown"),
     "payload.data.error_breakdown"),
    ("missing-custom_metrics", mutated(variant_bytes("telemetry.model_performance"),
                                       "payload.data.custom_metrics"),
     "payload.data.custom_metrics"),
    ("missing-changes", mutated(variant_bytes("governance.audit_trail"),
                                "payload.data.changes"),
     "payload.data.changes"),
    ("missing-findings", mutated(variant_bytes("governance.compliance_check"),
                                 "payload.data.findings"),
     "payload.data.findings"),
    ("missing-lineage_path", mutated(variant_bytes("governance.data_lineage"),
                                     "payload.data.lineage_path"),
     "payload.data.lineage_path"),
    ("missing-data_subjects", mutated(variant_bytes("security.privacy"),
                                      "payload.data.data_subjects"),
     "payload.data.data_subjects"),
    ("missing-custom-inner-data", mutated(variant_bytes("custom"), "payload.data.data"),
     "payload.data.data"),
    ("missing-custom_type", mutated(variant_bytes("custom"), "payload.data.custom_type"),
     "payload.data.custom_type"),
    ("missing-payload_type", mutated(_LAT, "payload.payload_type"), "payload"),
    ("missing-data", mutated(_LAT, "payload.data"), "payload.data"),
    # payload shapes (§2.1, §12 #12)
    ("data-null", mutated(_LAT, "payload.data", None), "payload.data"),
    ("custom-data-null", mutated(variant_bytes("custom"), "payload.data", None), "payload.data"),
    ("payload-empty", mutated(_LAT, "payload", {}), "payload"),
    ("payload-string", mutated(_LAT, "payload", "telemetry"), "payload"),
    ("inner-tag-missing", mutated(_LAT, "payload.data.telemetry_type"), "payload.data"),
    ("inner-tag-unknown", mutated(_LAT, "payload.data.telemetry_type", "bogus"), "payload.data"),
    ("inner-tag-of-other-kind", mutated(_LAT, "payload.data.telemetry_type", "token_cost"),
     "payload.data"),
    ("custom-data-overflow", event_bytes("custom", '{"custom_type":"t","data":[1,1e400]}'),
     "payload.data.data"),
    ("changes-overflow", mutated(variant_bytes("governance.audit_trail"),
                                 "payload.data.changes.threshold", {"new": 1e400}).replace(
        b"Infinity", b"1e400"), "payload.data.changes.threshold"),
    ("payload_type-unknown", mutated(_LAT, "payload.payload_type", "metrics"), "payload"),
    # open variants (§2.7)
    ("threat-bare-unknown", threat_bytes('"jailbreak"'), "payload.data.threat_type"),
    ("threat-other-not-string", threat_bytes('{"other":5}'), "payload.data.threat_type"),
    ("threat-other-empty-object", threat_bytes("{}"), "payload.data.threat_type"),
    ("threat-other-null", threat_bytes('{"other":null}'), "payload.data.threat_type"),
    ("resource-bare-unknown", resource_bytes('"tpu"'), "payload.data.resource_type"),
    ("resource-wrong-case", resource_bytes('"GPU"'), "payload.data.resource_type"),
    # integers (§3.6)
    ("int-100.0", mutated(_COST, "payload.data.prompt_tokens", 100.0),
     "payload.data.prompt_tokens"),
    ("int-1e3", _COST.replace(b'"prompt_tokens":1200', b'"prompt_tokens":1e3'),
     "payload.data.prompt_tokens"),
    ("int-negative-u32", mutated(_COST, "payload.data.prompt_tokens", -1),
     "payload.data.prompt_tokens"),
    ("int-u32-overflow", mutated(_COST, "payload.data.total_tokens", 2**32),
     "payload.data.total_tokens"),
    ("int-string", mutated(_COST, "payload.data.prompt_tokens", "100"),
     "payload.data.prompt_tokens"),
    ("int-true", mutated(_COST, "payload.data.prompt_tokens", True),
     "payload.data.prompt_tokens"),
    ("int-false", mutated(_COST, "payload.data.completion_tokens", False),
     "payload.data.completion_tokens"),
    ("u64-overflow", mutated(variant_bytes("telemetry.error_rate"),
                             "payload.data.total_requests", 2**64),
     "payload.data.total_requests"),
    ("u64-negative", mutated(variant_bytes("telemetry.error_rate"),
                             "payload.data.failed_requests", -5),
     "payload.data.failed_requests"),
    ("u64-map-value-float", mutated(variant_bytes("telemetry.error_rate"),
                                    "payload.data.error_breakdown.timeout", 1.5),
     "payload.data.error_breakdown.timeout"),
    ("u32-bool", mutated(variant_bytes("telemetry.throughput"),
                         "payload.data.concurrent_requests", True),
     "payload.data.concurrent_requests"),
    # f64 (§3.6)
    ("f64-string", mutated(_LAT, "payload.data.total_latency_ms", "842.0"),
     "payload.data.total_latency_ms"),
    ("f64-true", mutated(_LAT, "payload.data.total_latency_ms", True),
     "payload.data.total_latency_ms"),
    ("f64-false-optional", mutated(_LAT, "payload.data.ttft_ms", False),
     "payload.data.ttft_ms"),
    ("f64-map-value-string", mutated(variant_bytes("telemetry.model_performance"),
                                     "payload.data.custom_metrics.bleu", "0.41"),
     "payload.data.custom_metrics.bleu"),
    ("f64-overflow-1e400", _LAT.replace(b"842.0", b"1e400"), "payload.data.total_latency_ms"),
    ("f64-nullable-bool", mutated(variant_bytes("telemetry.model_performance"),
                                  "payload.data.accuracy", True),
     "payload.data.accuracy"),
    # other scalar kinds
    ("bool-string", mutated(variant_bytes("security.auth"), "payload.data.success", "false"),
     "payload.data.success"),
    ("bool-int", mutated(variant_bytes("security.auth"), "payload.data.success", 0),
     "payload.data.success"),
    ("string-int", mutated(_LAT, "environment", 5), "environment"),
    ("tag-value-int", mutated(_LAT, "tags.region", 1), "tags.region"),
    ("tags-list", mutated(_LAT, "tags", ["region"]), "tags"),
    ("list-of-int", mutated(variant_bytes("security.privacy"), "payload.data.data_subjects",
                            [1]), "payload.data.data_subjects[0]"),
    # timestamps (§3.4)
    ("ts-no-offset", mutated(_COST, "timestamp", "2024-01-15T10:30:00"), "timestamp"),
    ("ts-date-only", mutated(_COST, "timestamp", "2024-01-15"), "timestamp"),
    ("ts-no-seconds", mutated(_COST, "timestamp", "2024-01-15T10:30Z"), "timestamp"),
    ("ts-comma-fraction", mutated(_COST, "timestamp", "2024-01-15T10:30:00,5Z"), "timestamp"),
    ("ts-epoch-number", mutated(_COST, "timestamp", 1705314600), "timestamp"),
    ("ts-invalid-date", mutated(_COST, "timestamp", "2024-02-30T10:30:00Z"), "timestamp"),
    # uuids (§3.5)
    ("uuid-short", mutated(_COST, "event_id", "550e8400-e29b-41d4-a716"), "event_id"),
    ("uuid-non-hex", mutated(_COST, "event_id", "550e8400-e29b-41d4-a716-44665544000g"),
     "event_id"),
    ("uuid-int", mutated(_COST, "correlation_id", 5), "correlation_id"),
    ("uuid-garbage", mutated(_COST, "parent_event_id", "not-a-uuid"), "parent_event_id"),
    # wrong envelope shapes (§1, §12 #12)
    ("common-wrapper", json.dumps({
        "common": {k: v for k, v in json.loads(_LAT).items() if k != "payload"},
        "payload": json.loads(_LAT)["payload"],
    }).encode(), "timestamp"),
    ("top-level-payload_type", json.dumps({
        **{k: v for k, v in json.loads(_LAT).items() if k != "payload"},
        **json.loads(_LAT)["payload"],
    }).encode(), "payload"),
    # schema_version (hub policy: major 1 only)
    ("schema-2.0.0", mutated(_COST, "schema_version", "2.0.0"), "schema_version"),
    ("schema-0.9.0", mutated(_COST, "schema_version", "0.9.0"), "schema_version"),
    ("schema-10.0.0", mutated(_COST, "schema_version", "10.0.0"), "schema_version"),
    ("schema-1.0", mutated(_COST, "schema_version", "1.0"), "schema_version"),
    ("schema-garbage", mutated(_COST, "schema_version", "v1"), "schema_version"),
    ("schema-number", mutated(_COST, "schema_version", 1), "schema_version"),
]  # fmt: skip


@pytest.mark.parametrize("raw, path", [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected_with_path(raw: bytes, path: str) -> None:
    issues = rejection(raw)
    assert issues, "a rejection must explain itself"
    assert path in [p for p, _ in issues], issues


@pytest.mark.parametrize(
    "raw, reason",
    [
        (_LAT.replace(b"842.0", b"NaN"), "non-finite"),
        (_LAT.replace(b"842.0", b"Infinity"), "non-finite"),
        (_LAT.replace(b"842.0", b"-Infinity"), "non-finite"),
        (_LAT.replace(b'"staging"', b'"\\ud800"'), "lone surrogate"),
        (_LAT.replace(b'"staging"', b'"a\\udc00b"'), "lone surrogate"),
        (_LAT.replace(b'"staging"', '"stagé"'.encode("latin-1")), "UTF-8"),
        (_LAT[:-1], "malformed JSON"),
    ],
    ids=["nan", "inf", "-inf", "lone-high", "lone-low", "latin-1", "truncated"],
)
def test_undecodable_documents(raw: bytes, reason: str) -> None:
    with pytest.raises(WireDecodeError, match=reason):
        read(raw)
    assert issues_from_error(WireDecodeError(reason))[0].path == ""


def test_non_finite_values_are_rejected_in_code() -> None:
    with pytest.raises(ValidationError):
        LatencyMetrics(model_id="m", request_id="r", total_latency_ms=float("nan"))
    with pytest.raises(ValidationError):
        LatencyMetrics(model_id="m", request_id="r", total_latency_ms=1.0, ttft_ms=float("inf"))


# ------------------------------------------------------------------ issue paths


@pytest.mark.parametrize(
    "raw, path, reason_part",
    [
        (
            mutated(_COST, "payload.data.prompt_tokens", 1200.0),
            "payload.data.prompt_tokens",
            "integer",
        ),
        (mutated(_COST, "source_module", "llm-costops"), "source_module", "llm-cost-ops"),
        (
            mutated(_LAT, "payload.data.total_latency_ms"),
            "payload.data.total_latency_ms",
            "required field is missing",
        ),
        (mutated(_COST, "timestamp", "2024-03-02T08:15:28"), "timestamp", "invalid timestamp"),
        (mutated(_LAT, "payload.data.telemetry_type", "bogus"), "payload.data", "bogus"),
        (mutated(_LAT, "payload.data.telemetry_type"), "payload.data", "telemetry_type"),
    ],
    ids=["float-in-int", "module", "missing", "naive-ts", "unknown-tag", "missing-tag"],
)
def test_issue_paths_and_reasons(raw: bytes, path: str, reason_part: str) -> None:
    issues = rejection(raw)
    assert len(issues) == 1, issues
    assert issues[0][0] == path
    assert reason_part in issues[0][1]


# ------------------------------------------------------------------ accepted variants


@pytest.mark.parametrize(
    "text, moment, written",
    [
        ("2024-01-15T12:30:00+02:00", datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
         "2024-01-15T10:30:00Z"),
        ("2024-01-15T05:00:00-05:30", datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
         "2024-01-15T10:30:00Z"),
        ("2024-01-15 10:30:00Z", datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
         "2024-01-15T10:30:00Z"),
        ("2024-01-15T10:30:00.123456789Z", datetime(2024, 1, 15, 10, 30, 0, 123456, tzinfo=UTC),
         "2024-01-15T10:30:00.123456Z"),
        ("2024-01-15T10:30:00.999999999Z", datetime(2024, 1, 15, 10, 30, 0, 999999, tzinfo=UTC),
         "2024-01-15T10:30:00.999999Z"),
        ("2024-01-15T10:30:00.5Z", datetime(2024, 1, 15, 10, 30, 0, 500000, tzinfo=UTC),
         "2024-01-15T10:30:00.500Z"),
        ("2024-01-15T10:30:00.1234Z", datetime(2024, 1, 15, 10, 30, 0, 123400, tzinfo=UTC),
         "2024-01-15T10:30:00.123400Z"),
        ("2024-01-15T10:30:00+00:00", datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
         "2024-01-15T10:30:00Z"),
    ],
    ids=["plus-offset", "minus-offset", "space", "nanos-truncated", "nanos-not-rounded",
         "one-digit", "four-digits", "zero-offset"],
)  # fmt: skip
def test_accepted_timestamps(text: str, moment: datetime, written: str) -> None:
    event = read(mutated(_COST, "timestamp", text))
    assert event.timestamp == moment
    assert f'"timestamp":"{written}"'.encode() in event.to_wire_bytes()


@pytest.mark.parametrize(
    "text",
    [
        "B7E4D9A0-1C2F-4A3B-9D8E-6F5A4B3C2D1E",
        "b7e4d9a01c2f4a3b9d8e6f5a4b3c2d1e",
        "{b7e4d9a0-1c2f-4a3b-9d8e-6f5a4b3c2d1e}",
        "urn:uuid:b7e4d9a0-1c2f-4a3b-9d8e-6f5a4b3c2d1e",
        "urn:uuid:B7E4D9A0-1C2F-4A3B-9D8E-6F5A4B3C2D1E",
    ],
    ids=["upper", "bare", "braced", "urn", "urn-upper"],
)
def test_accepted_uuid_forms_are_written_canonically(text: str) -> None:
    event = read(mutated(_COST, "event_id", text))
    assert event.event_id == UUID("b7e4d9a0-1c2f-4a3b-9d8e-6f5a4b3c2d1e")
    assert event.to_wire_bytes() == TOKEN_COST_EXAMPLE


def test_nil_uuid_and_any_version_are_valid() -> None:
    event = read(mutated(_COST, "correlation_id", "00000000-0000-0000-0000-000000000000"))
    assert event.correlation_id == UUID(int=0)
    event = read(mutated(_COST, "parent_event_id", "550e8400-e29b-11d4-0716-446655440000"))
    assert str(event.parent_event_id) == "550e8400-e29b-11d4-0716-446655440000"


@pytest.mark.parametrize("version", ["1.0.0", "1.7.3", "1.10.25"])
def test_schema_major_1_is_accepted_and_kept(version: str) -> None:
    event = read(mutated(_COST, "schema_version", version))
    assert SUPPORTED_SCHEMA_MAJOR == 1
    assert event.schema_version == version
    assert f'"schema_version":"{version}"'.encode() in event.to_wire_bytes()


@pytest.mark.parametrize("version", ["2.0.0", "0.9.0"])
def test_unsupported_schema_version_message(version: str) -> None:
    issues = rejection(mutated(_COST, "schema_version", version))
    assert issues == [
        ("schema_version", f"unsupported schema_version '{version}': this hub reads 1.x.y")
    ]


# ------------------------------------------------------------------ open variants


def test_other_threat_type_is_preserved() -> None:
    raw = threat_bytes('{"other":"jailbreak"}')
    event = read(raw)
    assert event.payload.data.threat_type == OtherVariant(other="jailbreak")
    assert event.to_wire_bytes() == raw
    assert b'"threat_type":{"other":"jailbreak"}' in raw


def test_other_with_known_name_stays_distinct() -> None:
    known = read(resource_bytes('"gpu"')).payload.data.resource_type
    other = read(resource_bytes('{"other":"gpu"}')).payload.data.resource_type
    assert known is ResourceType.GPU
    assert isinstance(other, OtherVariant) and other.other == "gpu"
    assert known != other
    assert (
        b'"resource_type":{"other":"gpu"}'
        in read(resource_bytes('{"other":"gpu"}')).to_wire_bytes()
    )
    assert b'"resource_type":"gpu"' in read(resource_bytes('"gpu"')).to_wire_bytes()


@pytest.mark.parametrize("value", [t.value for t in ThreatType])
def test_every_known_threat_type_reads(value: str) -> None:
    assert read(threat_bytes(f'"{value}"')).payload.data.threat_type is ThreatType(value)


# ------------------------------------------------------------------ enums


def test_enum_spellings_match_the_spec() -> None:
    assert [m.value for m in SourceModule] == [
        "llm-observatory",
        "llm-sentinel",
        "llm-cost-ops",
        "llm-governance-dashboard",
        "llm-registry",
        "llm-policy-engine",
        "llm-analytics-hub",
    ]
    assert [m.value for m in EventType] == [
        "telemetry", "security", "cost", "governance", "lifecycle", "audit", "alert"
    ]  # fmt: skip
    assert [m.value for m in Severity] == ["debug", "info", "warning", "error", "critical"]
    assert [m.value for m in ThreatType] == [
        "prompt_injection",
        "data_exfiltration",
        "model_poisoning",
        "denial_of_service",
        "unauthorized_access",
        "malicious_input",
    ]
    assert [m.value for m in ResourceType] == ["compute", "storage", "network", "memory", "gpu"]
    assert [m.value for m in AuthAction] == [
        "login", "logout", "access_attempt", "permission_denied", "token_generated",
        "token_revoked",
    ]  # fmt: skip
    assert [m.value for m in ComplianceStatus] == ["pass", "fail", "not_applicable", "manual"]


def test_severity_is_ordered_by_rank_not_alphabet() -> None:
    order = ["debug", "info", "warning", "error", "critical"]
    assert [Severity(v).rank for v in order] == [0, 1, 2, 3, 4]
    assert sorted(Severity(v) for v in reversed(order)) == [Severity(v) for v in order]
    assert Severity.CRITICAL > Severity.DEBUG  # alphabetically "critical" < "debug"
    assert Severity.ERROR > Severity.WARNING
    assert Severity.INFO <= Severity.INFO
    assert Severity.WARNING >= "info"
    assert Severity.DEBUG < "error"
    assert Severity.ERROR.at_least(Severity.WARNING)
    assert not Severity.INFO.at_least("warning")
    assert max(Severity) is Severity.CRITICAL
    with pytest.raises(ValueError):
        _ = Severity.INFO < "INFO"
    with pytest.raises(TypeError):
        _ = Severity.INFO < ThreatLevel.LOW


def test_threat_level_and_policy_severity_are_ordered() -> None:
    assert ThreatLevel.LOW < ThreatLevel.MEDIUM < ThreatLevel.HIGH < ThreatLevel.CRITICAL
    assert (
        PolicyViolationSeverity.LOW
        < PolicyViolationSeverity.MEDIUM
        < PolicyViolationSeverity.HIGH
        < PolicyViolationSeverity.CRITICAL
    )


# ------------------------------------------------------------------ building in code


def test_building_in_code_writes_tags_first_and_spec_order() -> None:
    event = AnalyticsEvent(
        event_id=UUID("3f2b8c1e-7d4a-4e9b-a1c2-5d6e7f809a1b"),
        timestamp=datetime(2024, 3, 2, 8, 15, 27, 250000, tzinfo=UTC),
        source_module=SourceModule.LLM_OBSERVATORY,
        event_type=EventType.TELEMETRY,
        correlation_id=UUID("9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"),
        severity=Severity.INFO,
        environment="staging",
        tags={"region": "eu-west-1"},
        payload=TelemetryPayload(
            data=LatencyMetrics(
                model_id="claude-3-haiku",
                request_id="req-7731",
                total_latency_ms=842.0,
                ttft_ms=96.5,
                tokens_per_second=61.25,
                breakdown=LatencyBreakdown(
                    queue_time_ms=12.0,
                    processing_time_ms=790.75,
                    network_time_ms=39.25,
                    other_ms=0.0,
                ),
            )
        ),
    )
    assert event.to_wire_bytes() == LATENCY_EXAMPLE


def test_building_custom_payload_in_code() -> None:
    event = AnalyticsEvent(
        event_id=UUID("550e8400-e29b-41d4-a716-446655440000"),
        timestamp=datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
        source_module=SourceModule.LLM_REGISTRY,
        event_type=EventType.LIFECYCLE,
        severity=Severity.INFO,
        environment="production",
        payload=CustomPayload(
            data=CustomData(custom_type="model_deployed", data={"replicas": 3, "model": "gpt-4o"})
        ),
    )
    assert event.to_wire_bytes() == variant_bytes("custom")


def test_naive_datetime_is_rejected_in_code() -> None:
    with pytest.raises(ValidationError):
        AnalyticsEvent(
            timestamp=datetime(2024, 1, 15, 10, 30),
            source_module=SourceModule.LLM_REGISTRY,
            event_type=EventType.LIFECYCLE,
            severity=Severity.INFO,
            environment="production",
            payload=CustomPayload(data=CustomData(custom_type="x", data=None)),
        )
