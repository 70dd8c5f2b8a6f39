"""The analytics event envelope and every payload of WIRE_FORMAT.md §1-§2.

An event is one flat JSON object (no ``"common"`` wrapper). Its ``payload`` is
``{"payload_type": <kind>, "data": {<inner tag>: <variant>, ...}}``; both levels are
pydantic discriminated unions, so a missing or unknown tag is rejected with a
precise message. Fields are declared in the spec's write order because the writer
(:class:`~pipeline.models.base.WireModel`) follows declaration order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, Literal, Self
from uuid import uuid4

from pydantic import (
    AfterValidator,
    Field,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from pipeline.models.base import (
    ANY_JSON_VALUES,
    F64,
    OMIT,
    U32,
    U64,
    AnyJson,
    Bool,
    Str,
    Timestamp,
    Uuid,
    WireModel,
)

__all__ = [
    "DEFAULT_SCHEMA_VERSION",
    "SUPPORTED_SCHEMA_MAJOR",
    "VARIANT_MODELS",
    "AnalyticsEvent",
    "ApiCostEvent",
    "AuthAction",
    "AuthEvent",
    "BudgetAlertEvent",
    "BudgetAlertType",
    "ComplianceCheckEvent",
    "ComplianceFinding",
    "ComplianceStatus",
    "ComplianceViolationEvent",
    "CostData",
    "CostPayload",
    "CustomData",
    "CustomPayload",
    "DataLineageEvent",
    "DataOperation",
    "ErrorRateMetrics",
    "EventPayload",
    "EventType",
    "FiniteAnyJson",
    "GovernanceData",
    "GovernancePayload",
    "LatencyBreakdown",
    "LatencyMetrics",
    "MitigationStatus",
    "ModelPerformanceMetrics",
    "OpenResourceType",
    "OpenThreatType",
    "OtherVariant",
    "PolicyViolationEvent",
    "PolicyViolationSeverity",
    "PrivacyEvent",
    "PrivacyOperation",
    "RemediationStatus",
    "ResourceConsumptionEvent",
    "ResourceType",
    "SecurityData",
    "SecurityPayload",
    "Severity",
    "SourceModule",
    "TelemetryData",
    "TelemetryPayload",
    "ThreatEvent",
    "ThreatLevel",
    "ThreatType",
    "ThroughputMetrics",
    "TokenCostEvent",
    "TokenUsageMetrics",
    "VulnerabilityEvent",
]

SUPPORTED_SCHEMA_MAJOR = 1
"""The only ``schema_version`` major this hub reads (``1.x.y``)."""
DEFAULT_SCHEMA_VERSION = "1.0.0"

_SCHEMA_VERSION = re.compile(rf"{SUPPORTED_SCHEMA_MAJOR}\.[0-9]+\.[0-9]+")


# --------------------------------------------------------------------------- enums


class _RankedEnum(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """A string enum whose declaration order is meaningful (``a < b < c`` in the spec).

    Comparisons use the rank, never the alphabetical order of the values. A plain
    string operand is converted first (``Severity.ERROR >= "warning"``); comparing
    two different ranked enums raises ``TypeError``.
    """

    @property
    def rank(self) -> int:
        """0 for the lowest member, increasing in declaration order."""
        return type(self)._member_names_.index(self.name)

    def _other_rank(self, other: object) -> int | None:
        if isinstance(other, type(self)):
            return other.rank
        if isinstance(other, str) and not isinstance(other, Enum):
            return type(self)(other).rank
        return None

    def __lt__(self, other: object) -> bool:
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank < rank

    def __le__(self, other: object) -> bool:
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank <= rank

    def __gt__(self, other: object) -> bool:
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank > rank

    def __ge__(self, other: object) -> bool:
        rank = self._other_rank(other)
        return NotImplemented if rank is None else self.rank >= rank

    def at_least(self, threshold: Self | str) -> bool:
        """True when this value ranks at or above ``threshold``."""
        return self >= threshold


class SourceModule(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """§1.1 (kebab-case). The cost module is ``llm-cost-ops``."""

    LLM_OBSERVATORY = "llm-observatory"
    LLM_SENTINEL = "llm-sentinel"
    LLM_COST_OPS = "llm-cost-ops"
    LLM_GOVERNANCE_DASHBOARD = "llm-governance-dashboard"
    LLM_REGISTRY = "llm-registry"
    LLM_POLICY_ENGINE = "llm-policy-engine"
    LLM_ANALYTICS_HUB = "llm-analytics-hub"


class EventType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """§1.2 (snake_case); independent of ``payload_type`` (§12 #1)."""

    TELEMETRY = "telemetry"
    SECURITY = "security"
    COST = "cost"
    GOVERNANCE = "governance"
    LIFECYCLE = "lifecycle"
    AUDIT = "audit"
    ALERT = "alert"


class Severity(_RankedEnum):
    """§1.3: ``debug < info < warning < error < critical``."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class ThreatType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """§2.7, the known values; unknown ones are written ``{"other": ...}`` (OtherVariant)."""

    PROMPT_INJECTION = "prompt_injection"
    DATA_EXFILTRATION = "data_exfiltration"
    MODEL_POISONING = "model_poisoning"
    DENIAL_OF_SERVICE = "denial_of_service"
    UNAUTHORIZED_ACCESS = "unauthorized_access"
    MALICIOUS_INPUT = "malicious_input"


class ThreatLevel(_RankedEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class MitigationStatus(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    DETECTED = "detected"
    BLOCKED = "blocked"
    MITIGATED = "mitigated"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"


class RemediationStatus(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    IDENTIFIED = "identified"
    PATCH_AVAILABLE = "patch_available"
    PATCHING = "patching"
    PATCHED = "patched"
    ACCEPTED = "accepted"


class AuthAction(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    LOGIN = "login"
    LOGOUT = "logout"
    ACCESS_ATTEMPT = "access_attempt"
    PERMISSION_DENIED = "permission_denied"
    TOKEN_GENERATED = "token_generated"
    TOKEN_REVOKED = "token_revoked"


class PrivacyOperation(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    DATA_ACCESS = "data_access"
    DATA_COLLECTION = "data_collection"
    DATA_SHARING = "data_sharing"
    DATA_DELETION = "data_deletion"
    CONSENT_UPDATE = "consent_update"


class ResourceType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """§2.7, the known values; unknown ones are written ``{"other": ...}`` (OtherVariant)."""

    COMPUTE = "compute"
    STORAGE = "storage"
    NETWORK = "network"
    MEMORY = "memory"
    GPU = "gpu"


class BudgetAlertType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    WARNING = "warning"
    CRITICAL = "critical"
    EXCEEDED = "exceeded"


class PolicyViolationSeverity(_RankedEnum):
    """Its own enum (§2.5), unrelated to the envelope Severity."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ComplianceStatus(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    MANUAL = "manual"


class DataOperation(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    TRANSFORM = "transform"
    AGGREGATE = "aggregate"


class OtherVariant(WireModel):
    """The catch-all of the open enums ThreatType and ResourceType: ``{"other": "<string>"}``.

    ``OtherVariant(other="gpu")`` is a different value from ``ResourceType.GPU`` and is
    preserved as read (§12 #14). A bare unknown string is not an OtherVariant.
    """

    other: Str


def _open_enum_schema(enum_cls: type[Enum]) -> dict[str, Any]:
    """What :func:`_open_enum_validator` takes, as JSON Schema."""
    other = {"type": "object", "properties": {"other": {"type": "string"}}, "required": ["other"]}
    return {"anyOf": [{"type": "string", "enum": [m.value for m in enum_cls]}, other]}


def _open_enum_validator(enum_cls: type[Enum]) -> Callable[[Any], Any]:
    """Validate ``KnownEnum | OtherVariant`` with one error at the field itself.

    A plain pydantic union would report one error per branch, with branch labels in
    the error location (``threat_type.OtherVariant``) that are not JSON keys.
    """
    known = ", ".join(repr(member.value) for member in enum_cls)
    expected = f'one of {known}, or {{"other": "<string>"}}'

    def validate(value: Any) -> Any:
        if isinstance(value, (enum_cls, OtherVariant)):
            return value
        if isinstance(value, str):
            try:
                return enum_cls(value)
            except ValueError:
                raise ValueError(
                    f"unknown {enum_cls.__name__} {value!r}: expected {expected}"
                ) from None
        if isinstance(value, dict):
            try:
                return OtherVariant.model_validate(value)
            except ValidationError as exc:
                details = []
                for error in exc.errors(include_url=False):
                    msg = str(error["msg"]).removeprefix("Value error, ")
                    loc = ".".join(str(part) for part in error["loc"])
                    if error["type"] not in ("missing", "value_error"):
                        msg = f"{msg} (got {error['input']!r})"
                    details.append(f"{loc}: {msg}" if loc else msg)
                raise ValueError("; ".join(details)) from None
        raise ValueError(f"expected {expected} (got {value!r})"[:300])

    return validate


OpenThreatType = Annotated[
    ThreatType | OtherVariant,
    PlainValidator(_open_enum_validator(ThreatType)),
    WithJsonSchema(_open_enum_schema(ThreatType)),
]
"""ThreatType, or the catch-all ``{"other": "<string>"}``."""
OpenResourceType = Annotated[
    ResourceType | OtherVariant,
    PlainValidator(_open_enum_validator(ResourceType)),
    WithJsonSchema(_open_enum_schema(ResourceType)),
]
"""ResourceType, or the catch-all ``{"other": "<string>"}``."""


def _reject_non_finite(value: Any) -> Any:
    """Any-JSON values must stay finite (§12 #5).

    The strict reader turns an overflowing literal such as ``1e400`` into ``inf``,
    which would be written back as ``null``; refuse it instead.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("number out of range: non-finite values are not JSON")
    if isinstance(value, dict):
        for item in value.values():
            _reject_non_finite(item)
    elif isinstance(value, list):
        for item in value:
            _reject_non_finite(item)
    return value


FiniteAnyJson = Annotated[AnyJson, AfterValidator(_reject_non_finite)]
"""``any JSON`` (objects written with sorted keys) whose numbers are all finite."""


# ------------------------------------------------------------------ telemetry §2.2


class LatencyBreakdown(WireModel):
    queue_time_ms: F64
    processing_time_ms: F64
    network_time_ms: F64
    other_ms: F64


class LatencyMetrics(WireModel):
    telemetry_type: Literal["latency"] = "latency"
    model_id: Str
    request_id: Str
    total_latency_ms: F64
    ttft_ms: Annotated[F64 | None, OMIT] = None
    tokens_per_second: Annotated[F64 | None, OMIT] = None
    breakdown: Annotated[LatencyBreakdown | None, OMIT] = None


class ThroughputMetrics(WireModel):
    telemetry_type: Literal["throughput"] = "throughput"
    model_id: Str
    requests_per_second: F64
    tokens_per_second: F64
    concurrent_requests: U32
    window_duration_seconds: U32


class ErrorRateMetrics(WireModel):
    telemetry_type: Literal["error_rate"] = "error_rate"
    model_id: Str
    total_requests: U64
    failed_requests: U64
    error_rate_percent: F64
    error_breakdown: dict[str, U64]
    window_duration_seconds: U32


class TokenUsageMetrics(WireModel):
    telemetry_type: Literal["token_usage"] = "token_usage"
    model_id: Str
    request_id: Str
    prompt_tokens: U32
    completion_tokens: U32
    total_tokens: U32


class ModelPerformanceMetrics(WireModel):
    telemetry_type: Literal["model_performance"] = "model_performance"
    model_id: Str
    accuracy: F64 | None = None
    quality_score: F64 | None = None
    user_satisfaction: F64 | None = None
    custom_metrics: dict[str, F64]


TelemetryData = Annotated[
    LatencyMetrics
    | ThroughputMetrics
    | ErrorRateMetrics
    | TokenUsageMetrics
    | ModelPerformanceMetrics,
    Field(discriminator="telemetry_type"),
]


# ------------------------------------------------------------------- security §2.3


class ThreatEvent(WireModel):
    security_type: Literal["threat"] = "threat"
    threat_id: Str
    threat_type: OpenThreatType
    threat_level: ThreatLevel
    source_ip: Str | None = None
    target_resource: Str
    attack_vector: Str
    mitigation_status: MitigationStatus
    indicators_of_compromise: list[Str]


class VulnerabilityEvent(WireModel):
    security_type: Literal["vulnerability"] = "vulnerability"
    vulnerability_id: Str
    cve_id: Str | None = None
    severity_score: F64
    affected_component: Str
    description: Str
    remediation_status: RemediationStatus


class ComplianceViolationEvent(WireModel):
    security_type: Literal["compliance_violation"] = "compliance_violation"
    violation_id: Str
    regulation: Str
    requirement: Str
    violation_description: Str
    affected_data_types: list[Str]
    remediation_required: Bool


class AuthEvent(WireModel):
    security_type: Literal["auth"] = "auth"
    user_id: Str
    action: AuthAction
    resource: Str
    success: Bool
    failure_reason: Str | None = None


class PrivacyEvent(WireModel):
    security_type: Literal["privacy"] = "privacy"
    data_type: Str
    operation: PrivacyOperation
    user_consent: Bool
    data_subjects: list[Str]
    purpose: Str


SecurityData = Annotated[
    ThreatEvent | VulnerabilityEvent | ComplianceViolationEvent | AuthEvent | PrivacyEvent,
    Field(discriminator="security_type"),
]


# ----------------------------------------------------------------------- cost §2.4


class TokenCostEvent(WireModel):
    cost_type: Literal["token_cost"] = "token_cost"
    model_id: Str
    request_id: Str
    prompt_tokens: U32
    completion_tokens: U32
    total_tokens: U32
    cost_per_prompt_token: F64
    cost_per_completion_token: F64
    total_cost_usd: F64
    currency: Str


class ApiCostEvent(WireModel):
    cost_type: Literal["api_cost"] = "api_cost"
    provider: Str
    api_endpoint: Str
    request_count: U64
    cost_per_request: F64
    total_cost_usd: F64
    billing_period: Str


class ResourceConsumptionEvent(WireModel):
    cost_type: Literal["resource_consumption"] = "resource_consumption"
    resource_type: OpenResourceType
    resource_id: Str
    quantity: F64
    unit: Str
    cost_usd: F64
    utilization_percent: F64


class BudgetAlertEvent(WireModel):
    cost_type: Literal["budget_alert"] = "budget_alert"
    budget_id: Str
    budget_name: Str
    budget_limit_usd: F64
    current_spend_usd: F64
    threshold_percent: F64
    alert_type: BudgetAlertType


CostData = Annotated[
    TokenCostEvent | ApiCostEvent | ResourceConsumptionEvent | BudgetAlertEvent,
    Field(discriminator="cost_type"),
]


# ----------------------------------------------------------------- governance §2.5


class ComplianceFinding(WireModel):
    control_id: Str
    status: ComplianceStatus
    description: Str
    evidence: Str | None = None


class PolicyViolationEvent(WireModel):
    governance_type: Literal["policy_violation"] = "policy_violation"
    policy_id: Str
    policy_name: Str
    violation_description: Str
    violated_rules: list[Str]
    resource_id: Str
    user_id: Str | None = None
    severity: PolicyViolationSeverity
    auto_remediated: Bool


class AuditTrailEvent(WireModel):
    governance_type: Literal["audit_trail"] = "audit_trail"
    action: Str
    actor: Str
    resource_type: Str  # free text, not the ResourceType enum
    resource_id: Str
    changes: Annotated[dict[str, FiniteAnyJson], ANY_JSON_VALUES]
    ip_address: Str | None = None
    user_agent: Str | None = None


class ComplianceCheckEvent(WireModel):
    governance_type: Literal["compliance_check"] = "compliance_check"
    check_id: Str
    framework: Str
    controls_checked: list[Str]
    passed: Bool
    findings: list[ComplianceFinding]
    score: F64


class DataLineageEvent(WireModel):
    governance_type: Literal["data_lineage"] = "data_lineage"
    data_asset_id: Str
    operation: DataOperation
    source: Str | None = None
    destination: Str | None = None
    transformation: Str | None = None
    lineage_path: list[Str]


GovernanceData = Annotated[
    PolicyViolationEvent | AuditTrailEvent | ComplianceCheckEvent | DataLineageEvent,
    Field(discriminator="governance_type"),
]


# ------------------------------------------------------------------- payloads §2.1


class TelemetryPayload(WireModel):
    payload_type: Literal["telemetry"] = "telemetry"
    data: TelemetryData

    @property
    def variant(self) -> str:
        return self.data.telemetry_type


class SecurityPayload(WireModel):
    payload_type: Literal["security"] = "security"
    data: SecurityData

    @property
    def variant(self) -> str:
        return self.data.security_type


class CostPayload(WireModel):
    payload_type: Literal["cost"] = "cost"
    data: CostData

    @property
    def variant(self) -> str:
        return self.data.cost_type


class GovernancePayload(WireModel):
    payload_type: Literal["governance"] = "governance"
    data: GovernanceData

    @property
    def variant(self) -> str:
        return self.data.governance_type


class CustomData(WireModel):
    """§2.6: no inner tag; ``data`` is required but may be any JSON, ``null`` included."""

    custom_type: Str
    data: FiniteAnyJson


class CustomPayload(WireModel):
    payload_type: Literal["custom"] = "custom"
    data: CustomData

    @property
    def variant(self) -> str | None:
        return None


EventPayload = Annotated[
    TelemetryPayload | SecurityPayload | CostPayload | GovernancePayload | CustomPayload,
    Field(discriminator="payload_type"),
]

VARIANT_MODELS: dict[str, type[WireModel]] = {
    **{f"telemetry.{m.model_fields['telemetry_type'].default}": m for m in (
        LatencyMetrics, ThroughputMetrics, ErrorRateMetrics, TokenUsageMetrics,
        ModelPerformanceMetrics,
    )},
    **{f"security.{m.model_fields['security_type'].default}": m for m in (
        ThreatEvent, VulnerabilityEvent, ComplianceViolationEvent, AuthEvent, PrivacyEvent,
    )},
    **{f"cost.{m.model_fields['cost_type'].default}": m for m in (
        TokenCostEvent, ApiCostEvent, ResourceConsumptionEvent, BudgetAlertEvent,
    )},
    **{f"governance.{m.model_fields['governance_type'].default}": m for m in (
        PolicyViolationEvent, AuditTrailEvent, ComplianceCheckEvent, DataLineageEvent,
    )},
    "custom": CustomData,
}  # fmt: skip
"""Payload variant name (``"<payload_type>.<inner tag>"`` or ``"custom"``) -> data model."""


# ------------------------------------------------------------------- envelope §1


class AnalyticsEvent(WireModel):
    """One event: the common fields at the top level (keys 1-10), then ``payload``."""

    event_id: Uuid = Field(default_factory=uuid4)
    timestamp: Timestamp
    source_module: SourceModule
    event_type: EventType
    correlation_id: Annotated[Uuid | None, OMIT] = None
    parent_event_id: Annotated[Uuid | None, OMIT] = None
    schema_version: Str = Field(
        DEFAULT_SCHEMA_VERSION, json_schema_extra={"pattern": f"^{_SCHEMA_VERSION.pattern}$"}
    )
    severity: Severity
    environment: Str
    tags: dict[str, Str] = Field(default_factory=dict)
    payload: EventPayload

    @field_validator("schema_version")
    @classmethod
    def _supported_schema_version(cls, value: str) -> str:
        if _SCHEMA_VERSION.fullmatch(value) is None:
            raise ValueError(
                f"unsupported schema_version {value!r}: this hub reads {SUPPORTED_SCHEMA_MAJOR}.x.y"
            )
        return value

    @property
    def payload_variant(self) -> str:
        """``"<payload_type>.<inner tag>"``, e.g. ``"telemetry.latency"``; ``"custom"``."""
        variant = self.payload.variant
        kind = self.payload.payload_type
        return kind if variant is None else f"{kind}.{variant}"

    def model_key(self) -> str | None:
        """The payload's ``model_id`` when it has one (telemetry, token cost), else None."""
        model_id: Any = getattr(self.payload.data, "model_id", None)
        return model_id if isinstance(model_id, str) else None
