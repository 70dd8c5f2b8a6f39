"""msgspec mirrors of the event models, for the fast decode paths.

One struct per payload variant of ``pipeline.models.events``, with the same field
names, types and bounds, so the normalisation mappers read either alike. They are
at least as strict as the models (the fast paths may decline what the models accept,
never the reverse; ``tests/unit/ingest/test_fast_paths.py`` checks that on every
variant). msgspec keeps the last of repeated keys where the models refuse some,
so the fast paths also count the keys a message holds against the keys its decoded
structs account for (:func:`total_keys`, :func:`value_keys`): any difference is a
repeated or unknown key, and the models judge that message.
"""

from __future__ import annotations

import sys
from enum import Enum
from functools import cache
from operator import attrgetter
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from msgspec import UNSET, UnsetType

from pipeline.models.events import (
    AuthAction,
    BudgetAlertType,
    ComplianceStatus,
    DataOperation,
    EventType,
    MitigationStatus,
    PolicyViolationSeverity,
    PrivacyOperation,
    RemediationStatus,
    ResourceType,
    Severity,
    SourceModule,
    ThreatLevel,
    ThreatType,
)

_FINITE = msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)
F64 = Annotated[float, _FINITE]
U32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
U64 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
"""Narrower than the models' (msgspec bounds fit an int64): larger counts take their path."""


def _names(enum: type[Enum]) -> Any:
    """The enum's values as a ``Literal``: decoded as plain strings, whose hashes are cached
    C work, where an ``Enum`` member hashes through Python code at every grouping."""
    return Literal[tuple(member.value for member in enum)]


SourceModuleName = _names(SourceModule)
EventTypeName = _names(EventType)
SeverityName = _names(Severity)


class _Struct(msgspec.Struct, gc=False):
    """Decoded data holds no cycles: no GC tracking (half the cost of building one)."""


class OtherStruct(_Struct):
    """The catch-all of the open enums: ``{"other": "<string>"}``."""

    other: str


# ------------------------------------------------------------------ telemetry


class BreakdownStruct(_Struct):
    queue_time_ms: F64
    processing_time_ms: F64
    network_time_ms: F64
    other_ms: F64


class LatencyStruct(_Struct, tag_field="telemetry_type", tag="latency"):
    model_id: str
    request_id: str
    total_latency_ms: F64
    ttft_ms: F64 | UnsetType | None = UNSET
    tokens_per_second: F64 | UnsetType | None = UNSET
    breakdown: BreakdownStruct | UnsetType | None = UNSET


class ThroughputStruct(_Struct, tag_field="telemetry_type", tag="throughput"):
    model_id: str
    requests_per_second: F64
    tokens_per_second: F64
    concurrent_requests: U32
    window_duration_seconds: U32


class ErrorRateStruct(_Struct, tag_field="telemetry_type", tag="error_rate"):
    model_id: str
    total_requests: U64
    failed_requests: U64
    error_rate_percent: F64
    error_breakdown: dict[str, U64]
    window_duration_seconds: U32


class TokenUsageStruct(_Struct, tag_field="telemetry_type", tag="token_usage"):
    model_id: str
    request_id: str
    prompt_tokens: U32
    completion_tokens: U32
    total_tokens: U32


class ModelPerformanceStruct(_Struct, tag_field="telemetry_type", tag="model_performance"):
    model_id: str
    custom_metrics: dict[str, F64]
    accuracy: F64 | UnsetType | None = UNSET
    quality_score: F64 | UnsetType | None = UNSET
    user_satisfaction: F64 | UnsetType | None = UNSET


# ------------------------------------------------------------------ security


class ThreatStruct(_Struct, tag_field="security_type", tag="threat"):
    threat_id: str
    threat_type: _names(ThreatType) | OtherStruct  # type: ignore[valid-type]
    threat_level: _names(ThreatLevel)  # type: ignore[valid-type]
    target_resource: str
    attack_vector: str
    mitigation_status: _names(MitigationStatus)  # type: ignore[valid-type]
    indicators_of_compromise: list[str]
    source_ip: str | UnsetType | None = UNSET


class VulnerabilityStruct(_Struct, tag_field="security_type", tag="vulnerability"):
    vulnerability_id: str
    severity_score: F64
    affected_component: str
    description: str
    remediation_status: _names(RemediationStatus)  # type: ignore[valid-type]
    cve_id: str | UnsetType | None = UNSET


class ComplianceViolationStruct(_Struct, tag_field="security_type", tag="compliance_violation"):
    violation_id: str
    regulation: str
    requirement: str
    violation_description: str
    affected_data_types: list[str]
    remediation_required: bool


class AuthStruct(_Struct, tag_field="security_type", tag="auth"):
    user_id: str
    action: _names(AuthAction)  # type: ignore[valid-type]
    resource: str
    success: bool
    failure_reason: str | UnsetType | None = UNSET


class PrivacyStruct(_Struct, tag_field="security_type", tag="privacy"):
    data_type: str
    operation: _names(PrivacyOperation)  # type: ignore[valid-type]
    user_consent: bool
    data_subjects: list[str]
    purpose: str


# ---------------------------------------------------------------------- cost


class TokenCostStruct(_Struct, tag_field="cost_type", tag="token_cost"):
    model_id: str
    request_id: str
    prompt_tokens: U32
    completion_tokens: U32
    total_tokens: U32
    cost_per_prompt_token: F64
    cost_per_completion_token: F64
    total_cost_usd: F64
    currency: str


class ApiCostStruct(_Struct, tag_field="cost_type", tag="api_cost"):
    provider: str
    api_endpoint: str
    request_count: U64
    cost_per_request: F64
    total_cost_usd: F64
    billing_period: str


class ResourceConsumptionStruct(_Struct, tag_field="cost_type", tag="resource_consumption"):
    resource_type: _names(ResourceType) | OtherStruct  # type: ignore[valid-type]
    resource_id: str
    quantity: F64
    unit: str
    cost_usd: F64
    utilization_percent: F64


class BudgetAlertStruct(_Struct, tag_field="cost_type", tag="budget_alert"):
    budget_id: str
    budget_name: str
    budget_limit_usd: F64
    current_spend_usd: F64
    threshold_percent: F64
    alert_type: _names(BudgetAlertType)  # type: ignore[valid-type]


# ---------------------------------------------------------------- governance


class FindingStruct(_Struct):
    control_id: str
    status: _names(ComplianceStatus)  # type: ignore[valid-type]
    description: str
    evidence: str | UnsetType | None = UNSET


class PolicyViolationStruct(_Struct, tag_field="governance_type", tag="policy_violation"):
    policy_id: str
    policy_name: str
    violation_description: str
    violated_rules: list[str]
    resource_id: str
    severity: _names(PolicyViolationSeverity)  # type: ignore[valid-type]
    auto_remediated: bool
    user_id: str | UnsetType | None = UNSET


class AuditTrailStruct(_Struct, tag_field="governance_type", tag="audit_trail"):
    action: str
    actor: str
    resource_type: str
    resource_id: str
    changes: dict[str, Any]  # any JSON: msgspec refuses 1e400, as the models do
    ip_address: str | UnsetType | None = UNSET
    user_agent: str | UnsetType | None = UNSET


class ComplianceCheckStruct(_Struct, tag_field="governance_type", tag="compliance_check"):
    check_id: str
    framework: str
    controls_checked: list[str]
    passed: bool
    findings: list[FindingStruct]
    score: F64


class DataLineageStruct(_Struct, tag_field="governance_type", tag="data_lineage"):
    data_asset_id: str
    operation: _names(DataOperation)  # type: ignore[valid-type]
    lineage_path: list[str]
    source: str | UnsetType | None = UNSET
    destination: str | UnsetType | None = UNSET
    transformation: str | UnsetType | None = UNSET


# ------------------------------------------------------------------ payloads


class CustomStruct(_Struct):
    custom_type: str
    data: Any


class TelemetryPayload(_Struct, tag_field="payload_type", tag="telemetry"):
    data: Union[  # noqa: UP007 (a union of types, as msgspec reads it)
        LatencyStruct, ThroughputStruct, ErrorRateStruct, TokenUsageStruct, ModelPerformanceStruct
    ]


class SecurityPayload(_Struct, tag_field="payload_type", tag="security"):
    data: Union[  # noqa: UP007
        ThreatStruct, VulnerabilityStruct, ComplianceViolationStruct, AuthStruct, PrivacyStruct
    ]


class CostPayload(_Struct, tag_field="payload_type", tag="cost"):
    data: Union[  # noqa: UP007
        TokenCostStruct, ApiCostStruct, ResourceConsumptionStruct, BudgetAlertStruct
    ]


class GovernancePayload(_Struct, tag_field="payload_type", tag="governance"):
    data: Union[  # noqa: UP007
        PolicyViolationStruct, AuditTrailStruct, ComplianceCheckStruct, DataLineageStruct
    ]


class CustomPayload(_Struct, tag_field="payload_type", tag="custom"):
    data: CustomStruct


class EventStruct(_Struct):
    timestamp: str
    source_module: SourceModuleName
    event_type: EventTypeName
    severity: SeverityName
    environment: str
    payload: Union[  # noqa: UP007
        TelemetryPayload, SecurityPayload, CostPayload, GovernancePayload, CustomPayload
    ]
    # Optional keys default to UNSET, so a key present with null still counts as a key.
    event_id: str | UnsetType = UNSET
    correlation_id: str | UnsetType | None = UNSET
    parent_event_id: str | UnsetType | None = UNSET
    schema_version: str | UnsetType = UNSET
    tags: dict[str, str] | UnsetType = UNSET


ONE = msgspec.json.Decoder(EventStruct)
MANY = msgspec.json.Decoder(list[EventStruct])

PAYLOADS = (TelemetryPayload, SecurityPayload, CostPayload, GovernancePayload, CustomPayload)
VARIANT_NAME: dict[type, str] = {
    data: f"{payload.__struct_config__.tag}.{data.__struct_config__.tag}"
    for payload in PAYLOADS[:-1]
    for data in get_args(msgspec.structs.fields(payload)[0].type)
}
"""Data struct -> payload variant (``"security.threat"``); custom events are ``"custom"``."""
VARIANT_NAME[CustomStruct] = "custom"


# ------------------------------------------------------------------ key counts


def value_keys(value: Any) -> int:
    """Keys of the JSON a decoded value came from (a struct's tag and given fields too)."""
    if isinstance(value, msgspec.Struct):
        keys = 1 if value.__struct_config__.tag_field is not None else 0
        for name in value.__struct_fields__:
            item = getattr(value, name)
            if item is not UNSET:
                keys += 1 + value_keys(item)
        return keys
    if isinstance(value, dict):
        return len(value) + sum(map(value_keys, value.values()))
    if isinstance(value, list):
        return sum(map(value_keys, value))
    return 0


def _holds_keys(annotation: Any) -> bool:
    """Whether a value of this type can hold keys of its own (objects, any JSON)."""
    if annotation is Any or annotation is dict:
        return True
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return True
    origin = get_origin(annotation)
    if origin is dict:
        return True
    return any(_holds_keys(arg) for arg in get_args(annotation) if not isinstance(arg, str))


@cache
def _field_plan(kind: type) -> tuple[int, tuple[tuple[attrgetter[Any], bool], ...]]:
    """A struct type's keys that every value has, and its other fields (getter, nested?)."""
    fixed = 1 if kind.__struct_config__.tag_field is not None else 0
    varying = []
    for info in msgspec.structs.fields(kind):
        nested = _holds_keys(info.type)
        if info.default is UNSET or nested:
            varying.append((attrgetter(info.name), nested))
        else:
            fixed += 1
    return fixed, tuple(varying)


def _given(value: Any) -> int:
    return 0 if value is UNSET else 1 + value_keys(value)


def column_keys(kind: type, values: list[Any]) -> int:
    """Keys of many decoded structs of one type, counted a column at a time."""
    fixed, varying = _field_plan(kind)
    keys = fixed * len(values)
    for getter, nested in varying:
        column = list(map(getter, values))
        keys += sum(map(_given, column)) if nested else len(column) - column.count(UNSET)
    return keys


_ENVELOPE_KEYS = 8
"""Keys every event has: six at the top level, then ``payload_type`` and ``data``."""
_OPTIONAL_SCALARS = tuple(
    map(attrgetter, ("event_id", "correlation_id", "parent_event_id", "schema_version"))
)
_TAGS = attrgetter("tags")


def total_keys(events: list[EventStruct], datas: list[Any]) -> int:
    """Keys of many decoded events whose payload data are ``datas``, a column at a time."""
    n = len(events)
    keys = _ENVELOPE_KEYS * n
    for getter in _OPTIONAL_SCALARS:
        keys += n - list(map(getter, events)).count(UNSET)
    tags = list(map(_TAGS, events))
    absent = tags.count(UNSET)
    if absent:
        tags = [t for t in tags if t is not UNSET]
    keys += n - absent + sum(map(len, tags))
    by_type: dict[type, list[Any]] = {}
    for data in datas:
        group = by_type.get(type(data))
        if group is None:
            group = by_type[type(data)] = []
        group.append(data)
    return keys + sum(column_keys(kind, group) for kind, group in by_type.items())


@cache
def _optional_fields(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in msgspec.structs.fields(kind) if f.default is UNSET)


def settle(datas: list[Any]) -> None:
    """Absent optional fields as None, as the models hold them (after the keys are counted:
    until then UNSET tells an absent key from a given null)."""
    for data in datas:
        for name in _optional_fields(type(data)):
            if getattr(data, name) is UNSET:
                setattr(data, name, None)
