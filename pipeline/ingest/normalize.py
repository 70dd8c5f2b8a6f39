"""Events to time-series points: which measurement, tags and fields each payload yields.

The mapping table lives here and in docs/MEASUREMENTS.md. Tags identify a
series (low cardinality); fields are the numbers aggregated per window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pipeline.models.events import AnalyticsEvent

_NAMED_EVENT_TAGS = ("region", "service", "version")


@dataclass(slots=True)
class Point:
    """One normalised observation; ``tags`` sorted by key so equal series compare equal.

    Not frozen: a frozen dataclass's ``__init__`` costs three times as much, and one
    is built per event on the hot path; nothing mutates points after normalisation."""

    measurement: str
    timestamp: float
    tags: tuple[tuple[str, str], ...]
    fields: dict[str, float]


def _tag_value(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    other = getattr(value, "other", None)
    if isinstance(other, str):
        return f"other:{other}"
    return str(value)


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


LATENCY_FIELDS = (
    "total_latency_ms",
    "ttft_ms",
    "tokens_per_second",
    "queue_time_ms",
    "processing_time_ms",
    "network_time_ms",
    "other_ms",
)
"""The fields of ``llm_latency`` points, in the order the columnar paths list them."""


def _latency(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    fields = {"total_latency_ms": d.total_latency_ms}
    if d.ttft_ms is not None:
        fields["ttft_ms"] = d.ttft_ms
    if d.tokens_per_second is not None:
        fields["tokens_per_second"] = d.tokens_per_second
    if d.breakdown is not None:
        fields["queue_time_ms"] = d.breakdown.queue_time_ms
        fields["processing_time_ms"] = d.breakdown.processing_time_ms
        fields["network_time_ms"] = d.breakdown.network_time_ms
        fields["other_ms"] = d.breakdown.other_ms
    return "llm_latency", {}, fields


def _throughput(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    return (
        "llm_throughput",
        {},
        {
            "requests_per_second": d.requests_per_second,
            "tokens_per_second": d.tokens_per_second,
            "concurrent_requests": float(d.concurrent_requests),
        },
    )


def _error_rate(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    return (
        "llm_errors",
        {},
        {
            "total_requests": float(d.total_requests),
            "failed_requests": float(d.failed_requests),
            "error_rate_percent": d.error_rate_percent,
        },
    )


def _token_usage(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    return (
        "llm_token_usage",
        {},
        {
            "prompt_tokens": float(d.prompt_tokens),
            "completion_tokens": float(d.completion_tokens),
            "total_tokens": float(d.total_tokens),
        },
    )


def _model_performance(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    fields = {
        name: getattr(d, name)
        for name in ("accuracy", "quality_score", "user_satisfaction")
        if getattr(d, name) is not None
    }
    fields.update({f"custom.{k}": v for k, v in d.custom_metrics.items()})
    return "llm_model_performance", {}, fields


def _threat(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    tags = {
        "threat_type": _tag_value(d.threat_type),
        "threat_level": _tag_value(d.threat_level),
        "mitigation_status": _tag_value(d.mitigation_status),
    }
    return "security_threats", tags, {"count": 1.0}


def _vulnerability(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    tags = {"remediation_status": _tag_value(d.remediation_status)}
    return "security_vulnerabilities", tags, {"count": 1.0, "severity_score": d.severity_score}


def _compliance_violation(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    return "security_compliance_violations", {"regulation": d.regulation}, {"count": 1.0}


def _auth(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    fields = {"attempts": 1.0, "failures": _flag(not d.success)}
    return "security_auth", {"action": _tag_value(d.action)}, fields


def _privacy(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    fields = {
        "operations": 1.0,
        "data_subjects": float(len(d.data_subjects)),
        "without_consent": _flag(not d.user_consent),
    }
    return "security_privacy", {"operation": _tag_value(d.operation)}, fields


def _token_cost(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    return (
        "cost_tokens",
        {"currency": d.currency},
        {
            "total_cost_usd": d.total_cost_usd,
            "prompt_tokens": float(d.prompt_tokens),
            "completion_tokens": float(d.completion_tokens),
            "total_tokens": float(d.total_tokens),
        },
    )


def _api_cost(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    return (
        "cost_api",
        {"provider": d.provider},
        {
            "total_cost_usd": d.total_cost_usd,
            "request_count": float(d.request_count),
        },
    )


def _resource(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    tags = {"resource_type": _tag_value(d.resource_type), "unit": d.unit}
    return (
        "cost_resources",
        tags,
        {
            "cost_usd": d.cost_usd,
            "quantity": d.quantity,
            "utilization_percent": d.utilization_percent,
        },
    )


def _budget(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    fields = {"current_spend_usd": d.current_spend_usd, "budget_limit_usd": d.budget_limit_usd}
    if d.budget_limit_usd > 0:
        fields["spend_percent"] = 100.0 * d.current_spend_usd / d.budget_limit_usd
    tags = {"budget_id": d.budget_id, "alert_type": _tag_value(d.alert_type)}
    return "cost_budget", tags, fields


def _policy_violation(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    tags = {"policy_id": d.policy_id, "violation_severity": _tag_value(d.severity)}
    fields = {"count": 1.0, "violated_rules": float(len(d.violated_rules))}
    return "governance_policy_violations", tags, fields


def _audit(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    tags = {"action": d.action, "resource_type": d.resource_type}
    return "governance_audit", tags, {"count": 1.0}


def _compliance_check(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    fields = {"score": d.score, "passed": _flag(d.passed), "findings": float(len(d.findings))}
    return "governance_compliance", {"framework": d.framework}, fields


def _lineage(d: Any) -> tuple[str, dict[str, str], dict[str, float]]:
    fields = {"count": 1.0, "path_length": float(len(d.lineage_path))}
    return "governance_lineage", {"operation": _tag_value(d.operation)}, fields


_MAPPERS: dict[str, Callable[[Any], tuple[str, dict[str, str], dict[str, float]]]] = {
    "telemetry.latency": _latency,
    "telemetry.throughput": _throughput,
    "telemetry.error_rate": _error_rate,
    "telemetry.token_usage": _token_usage,
    "telemetry.model_performance": _model_performance,
    "security.threat": _threat,
    "security.vulnerability": _vulnerability,
    "security.compliance_violation": _compliance_violation,
    "security.auth": _auth,
    "security.privacy": _privacy,
    "cost.token_cost": _token_cost,
    "cost.api_cost": _api_cost,
    "cost.resource_consumption": _resource,
    "cost.budget_alert": _budget,
    "governance.policy_violation": _policy_violation,
    "governance.audit_trail": _audit,
    "governance.compliance_check": _compliance_check,
    "governance.data_lineage": _lineage,
}


def base_tags(event: AnalyticsEvent) -> dict[str, str]:
    """Series identity shared by every point of an event: module, environment, model, tags."""
    return _base_tags(event.tags, event.source_module.value, event.environment, event.payload.data)


def _base_tags(tags: dict[str, str], module: str, environment: str, data: Any) -> dict[str, str]:
    out = dict(tags)
    out["source_module"] = module
    out["environment"] = environment
    model_id = getattr(data, "model_id", None)
    if isinstance(model_id, str):
        out["model_id"] = model_id
    return out


_TAG_CACHE: dict[tuple[object, ...], tuple[tuple[str, str], ...]] = {}
_TAG_CACHE_LIMIT = 50_000


def _sorted_tags(
    key: tuple[object, ...], build: Callable[[], dict[str, str]]
) -> tuple[tuple[str, str], ...]:
    """Series tag tuples repeat endlessly: build and sort each distinct one once."""
    tags = _TAG_CACHE.get(key)
    if tags is None:
        if len(_TAG_CACHE) >= _TAG_CACHE_LIMIT:
            _TAG_CACHE.clear()
        tags = _TAG_CACHE[key] = tuple(sorted(build().items()))
    return tags


def points_from_event(event: AnalyticsEvent) -> list[Point]:
    """Every point an event yields: its payload's measurement plus one event-count point."""
    return points_from_parts(
        event.timestamp.timestamp(),
        event.source_module.value,
        event.environment,
        event.event_type.value,
        event.severity.value,
        event.payload_variant,
        event.tags,
        event.payload.data,
    )


def points_from_parts(
    ts: float,
    module: str,
    environment: str,
    event_type: str,
    severity: str,
    variant: str,
    event_tags: dict[str, str],
    data: Any,
) -> list[Point]:
    """``points_from_event`` on an event's parts: the fast decoder has no pydantic model.

    ``data`` is the payload's inner object; mappers only read its attributes.
    """
    count_tags = count_series_tags(module, environment, event_type, severity, variant)
    points = [Point("hub_events", ts, count_tags, {"count": 1.0})]
    mapper = _MAPPERS.get(variant)
    if mapper is not None:
        measurement, extra_tags, fields = mapper(data)
        if fields:
            tags = measurement_series_tags(
                measurement, module, environment, data, event_tags, extra_tags
            )
            points.append(Point(measurement, ts, tags, fields))
    return points


def count_series_tags(
    module: str, environment: str, event_type: str, severity: str, variant: str
) -> tuple[tuple[str, str], ...]:
    """Tags of the ``hub_events`` count series an event lands in."""
    return _sorted_tags(
        ("count", module, environment, event_type, severity, variant),
        lambda: {
            "source_module": module,
            "environment": environment,
            "event_type": event_type,
            "severity": severity,
            "payload": variant,
        },
    )


def measurement_series_tags(
    measurement: str,
    module: str,
    environment: str,
    data: Any,
    event_tags: dict[str, str],
    extra_tags: dict[str, str],
) -> tuple[tuple[str, str], ...]:
    """Tags of the payload's series: the event's tags, module, environment, model, extras."""
    key = (
        measurement,
        module,
        environment,
        getattr(data, "model_id", None),
        tuple(event_tags.items()),
        tuple(extra_tags.items()),
    )
    return _sorted_tags(
        key, lambda: {**_base_tags(event_tags, module, environment, data), **extra_tags}
    )


MAPPED_VARIANTS = tuple(_MAPPERS)

Mapper = Callable[[Any], tuple[str, dict[str, str], dict[str, float]]]


def mapper_of(variant: str) -> Mapper | None:
    """The function that maps a variant's payload data to (measurement, extra tags, fields);
    None for variants with no measurement of their own (custom)."""
    return _MAPPERS.get(variant)


COUNTER_FIELDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("hub_events", "count"),
        ("security_threats", "count"),
        ("security_vulnerabilities", "count"),
        ("security_compliance_violations", "count"),
        ("security_auth", "attempts"),
        ("security_auth", "failures"),
        ("security_privacy", "operations"),
        ("security_privacy", "without_consent"),
        ("cost_api", "request_count"),
        ("governance_policy_violations", "count"),
        ("governance_audit", "count"),
        ("governance_lineage", "count"),
    }
)
"""Fields that count occurrences (each point adds a whole number). Their windows are
published in the wire format's counter shape: the total and its per-second rate."""

GAUGE_FIELDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("cost_budget", "current_spend_usd"),
        ("cost_budget", "budget_limit_usd"),
        ("cost_budget", "spend_percent"),
        ("cost_resources", "utilization_percent"),
        ("governance_compliance", "score"),
        ("llm_throughput", "concurrent_requests"),
    }
)
"""Fields that report a level at a moment. Their windows are published in the wire
format's gauge shape: the latest value in the window (by event time) and its change
from the previous window's latest value (``null`` when that window had none)."""
