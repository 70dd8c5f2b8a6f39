"""Correlation models of WIRE_FORMAT.md §7 and the anomaly stream messages of §11.

Meaning: SEED_DATA_MODELS.md, "Correlation Schemas". Every time window of §7 is a
:class:`~pipeline.models.metrics.TimeRange` object (``{start, end}``), not the
TimeWindow enum. Correlation ids are bare uuid strings. Fields are declared in the
spec's write order because the writer follows declaration order.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, ClassVar

from pydantic import Field

from pipeline.models.base import F64, I64, OMIT, U32, U64, Bool, Str, Timestamp, Uuid, WireModel
from pipeline.models.events import EventType, Severity, SourceModule, _RankedEnum
from pipeline.models.metrics import CodeBuiltModel, TimeRange

__all__ = [
    "AlertThresholds",
    "AnomalyCorrelation",
    "AnomalyEvent",
    "AnomalyResult",
    "AnomalySeverity",
    "AnomalyType",
    "BusinessImpact",
    "CausalLink",
    "CausalRelationship",
    "CorrelatedEvent",
    "CorrelationConfig",
    "CorrelationPattern",
    "CorrelationQuery",
    "CorrelationType",
    "CostImpact",
    "EdgeRelationship",
    "EventCorrelation",
    "EventEdge",
    "EventGraph",
    "EventNode",
    "EventRole",
    "GraphMetadata",
    "ImpactAssessment",
    "ImpactSeverity",
    "MetricPoint",
    "PatternStep",
    "PerformanceImpact",
    "ReputationRisk",
    "RootCauseAnalysis",
    "SecurityImpact",
    "TimeRange",
]


# --- enums -----------------------------------------------------------------------------------


class CorrelationType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    CAUSAL_CHAIN = "causal_chain"
    TEMPORAL = "temporal"
    PATTERN_MATCH = "pattern_match"
    ANOMALY = "anomaly"
    COST_IMPACT = "cost_impact"
    SECURITY_INCIDENT = "security_incident"
    PERFORMANCE_DEGRADATION = "performance_degradation"
    COMPLIANCE_CASCADE = "compliance_cascade"


class EventRole(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    ROOT_CAUSE = "root_cause"
    CONTRIBUTOR = "contributor"
    EFFECT = "effect"
    RELATED = "related"


class AnomalyType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    SPIKE = "spike"
    DROP = "drop"
    PATTERN_DEVIATION = "pattern_deviation"
    FREQUENCY_ANOMALY = "frequency_anomaly"
    DISTRIBUTION_SHIFT = "distribution_shift"


class CausalRelationship(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    DIRECT_CAUSE = "direct_cause"
    INDIRECT_CAUSE = "indirect_cause"
    CORRELATION = "correlation"
    AMPLIFICATION = "amplification"


class ImpactSeverity(_RankedEnum):
    """§7.3: ``negligible < low < medium < high < critical``."""

    NEGLIGIBLE = "negligible"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ReputationRisk(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """``ReputationRisk.NONE`` is the string ``"none"``, never JSON ``null``."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    SEVERE = "severe"


class EdgeRelationship(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    CAUSES = "causes"
    TRIGGERED_BY = "triggered_by"
    RELATED_TO = "related_to"
    PRECEDES = "precedes"
    FOLLOWS = "follows"
    CORRELATES_WITH = "correlates_with"
    AMPLIFIES = "amplifies"
    MITIGATES = "mitigates"


class AnomalySeverity(_RankedEnum):
    """§11 AnomalyResult severity: capitalised, unlike every other enum. Low < … < Critical."""

    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    CRITICAL = "Critical"


# --- §7.1 Event correlation ------------------------------------------------------------------


class PatternStep(WireModel):
    step_number: U32
    module: SourceModule
    event_type: EventType
    time_offset_ms: I64 | None = None
    """Offset from the previous step; written as ``null`` when unset."""
    conditions: dict[str, Str]


class CorrelationPattern(WireModel):
    pattern_id: Str
    name: Str
    description: Str
    modules: list[SourceModule]
    sequence: list[PatternStep]


class CorrelatedEvent(WireModel):
    event_id: Uuid
    source_module: SourceModule
    event_type: EventType
    severity: Severity
    timestamp: Timestamp
    role: EventRole
    summary: Str
    metrics: dict[str, F64] = Field(default_factory=dict)


class EventCorrelation(WireModel):
    correlation_id: Uuid
    correlation_type: CorrelationType
    events: list[CorrelatedEvent]
    strength: F64
    confidence: F64
    time_window: TimeRange
    pattern: Annotated[CorrelationPattern | None, OMIT] = None
    detected_at: Timestamp
    metadata: dict[str, Str] = Field(default_factory=dict)


# --- §7.2 Anomalies and root cause -----------------------------------------------------------


class AnomalyEvent(WireModel):
    event_id: Uuid
    source_module: SourceModule
    anomaly_type: AnomalyType
    anomaly_score: F64
    baseline: F64
    observed: F64
    deviation: F64
    timestamp: Timestamp
    metric: Str


class CausalLink(WireModel):
    from_event_id: Uuid
    to_event_id: Uuid
    relationship: CausalRelationship
    strength: F64
    time_delta_ms: I64


class RootCauseAnalysis(WireModel):
    root_event_id: Uuid
    confidence: F64
    causal_chain: list[CausalLink]
    contributing_factors: list[Str]
    recommendations: list[Str]


# --- §7.3 Impact assessment ------------------------------------------------------------------


class PerformanceImpact(WireModel):
    latency_increase_percent: F64
    throughput_decrease_percent: F64
    error_rate_increase_percent: F64
    affected_requests: U64


class CostImpact(WireModel):
    additional_cost_usd: F64
    cost_increase_percent: F64
    wasted_resources_usd: F64


class SecurityImpact(WireModel):
    threats_detected: U64
    vulnerabilities_exposed: U64
    data_at_risk: Bool
    compliance_violations: U64


class BusinessImpact(WireModel):
    users_affected: U64
    sla_violations: U64
    revenue_impact_usd: F64 | None = None
    reputation_risk: ReputationRisk


class ImpactAssessment(WireModel):
    severity: ImpactSeverity
    affected_modules: list[SourceModule]
    performance_impact: Annotated[PerformanceImpact | None, OMIT] = None
    cost_impact: Annotated[CostImpact | None, OMIT] = None
    security_impact: Annotated[SecurityImpact | None, OMIT] = None
    business_impact: Annotated[BusinessImpact | None, OMIT] = None


class AnomalyCorrelation(WireModel):
    correlation_id: Uuid
    anomalies: list[AnomalyEvent]
    strength: F64
    root_cause: Annotated[RootCauseAnalysis | None, OMIT] = None
    impact: ImpactAssessment
    detected_at: Timestamp


# --- §7.4 Event graph ------------------------------------------------------------------------


class EventNode(WireModel):
    node_id: Str
    event_id: Uuid
    source_module: SourceModule
    event_type: EventType
    timestamp: Timestamp
    attributes: dict[str, Str]


class EventEdge(WireModel):
    edge_id: Str
    from_node: Str
    to_node: Str
    relationship_type: EdgeRelationship
    weight: F64
    properties: dict[str, Str]


class GraphMetadata(WireModel):
    node_count: U64
    edge_count: U64
    connected_components: U64
    avg_degree: F64
    density: F64


class EventGraph(WireModel):
    graph_id: Str
    time_range: TimeRange
    nodes: list[EventNode]
    edges: list[EventEdge]
    metadata: GraphMetadata


# --- §7.5 Queries and configuration ----------------------------------------------------------


class CorrelationQuery(WireModel):
    """Only ``seed_event_id`` and ``time_window_minutes`` are required; the rest default."""

    seed_event_id: Uuid
    time_window_minutes: I64
    min_strength: F64 = 0.7
    correlation_types: list[CorrelationType] = Field(default_factory=list)
    include_modules: list[SourceModule] = Field(default_factory=list)
    max_depth: U32 = 5


class AlertThresholds(WireModel):
    min_correlation_strength: F64
    min_anomaly_score: F64
    critical_impact_threshold: F64


def _default_thresholds() -> AlertThresholds:
    return AlertThresholds(
        min_correlation_strength=0.8, min_anomaly_score=0.7, critical_impact_threshold=0.9
    )


class CorrelationConfig(CodeBuiltModel):
    """All keys required on read; ``CorrelationConfig()`` fills the §7.5 constructor default."""

    auto_detect: Bool
    patterns: list[CorrelationPattern]
    correlation_window_minutes: I64
    min_events: U64
    alert_thresholds: AlertThresholds

    _code_defaults: ClassVar[dict[str, Callable[[], Any]]] = {
        "auto_detect": lambda: True,
        "patterns": list,
        "correlation_window_minutes": lambda: 60,
        "min_events": lambda: 2,
        "alert_thresholds": _default_thresholds,
    }

    @classmethod
    def default(cls) -> CorrelationConfig:
        """Auto-detect on, no patterns, 60-minute window, 2 events, thresholds 0.8/0.7/0.9."""
        return cls()


# --- §11 Anomaly stream messages -------------------------------------------------------------


class MetricPoint(WireModel):
    """Input of the anomaly detector (topic ``llm-metrics``); ``tags`` is required."""

    timestamp: Timestamp
    metric_name: Str
    value: F64
    tags: dict[str, Str]


class AnomalyResult(WireModel):
    """Output of the anomaly detector (topic ``llm-anomalies``)."""

    timestamp: Timestamp
    metric_name: Str
    value: F64
    expected_range: tuple[F64, F64]
    """(mean - 2 sigma, mean + 2 sigma), written as a two-number array."""
    z_score: F64
    severity: AnomalySeverity
    detection_method: Str
