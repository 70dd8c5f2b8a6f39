"""Realistic simulated events of every payload variant (pure Python, seeded, no Kafka).

``EventSimulator(seed).random_event(now)`` draws a traffic-like mix: mostly latency
events with lognormal latencies per model, then token usage and cost, and a thin tail
of security, governance and custom events. ``make(variant, now)`` builds one event of a
named variant, and ``latency_event`` one latency event with an exact total, for tests
that need known values. The same seed always yields the same sequence of events.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pipeline.models.events import (
    AnalyticsEvent,
    ApiCostEvent,
    AuditTrailEvent,
    AuthAction,
    AuthEvent,
    BudgetAlertEvent,
    BudgetAlertType,
    ComplianceCheckEvent,
    ComplianceFinding,
    ComplianceStatus,
    ComplianceViolationEvent,
    CostPayload,
    CustomData,
    CustomPayload,
    DataLineageEvent,
    DataOperation,
    ErrorRateMetrics,
    EventType,
    GovernancePayload,
    LatencyBreakdown,
    LatencyMetrics,
    MitigationStatus,
    ModelPerformanceMetrics,
    OtherVariant,
    PolicyViolationEvent,
    PolicyViolationSeverity,
    PrivacyEvent,
    PrivacyOperation,
    RemediationStatus,
    ResourceConsumptionEvent,
    ResourceType,
    SecurityPayload,
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

__all__ = ["MODELS", "REGIONS", "VARIANTS", "EventSimulator", "ModelProfile"]

VARIANTS: tuple[str, ...] = (
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
)

# Relative frequency of each variant in random_event: latency dominates, as in real traffic.
_WEIGHTS: dict[str, float] = {
    "telemetry.latency": 40.0,
    "telemetry.throughput": 3.0,
    "telemetry.error_rate": 2.0,
    "telemetry.token_usage": 12.0,
    "telemetry.model_performance": 1.5,
    "security.threat": 1.0,
    "security.vulnerability": 0.3,
    "security.compliance_violation": 0.3,
    "security.auth": 4.0,
    "security.privacy": 1.0,
    "cost.token_cost": 12.0,
    "cost.api_cost": 1.5,
    "cost.resource_consumption": 2.0,
    "cost.budget_alert": 0.4,
    "governance.policy_violation": 0.8,
    "governance.audit_trail": 2.0,
    "governance.compliance_check": 0.4,
    "governance.data_lineage": 1.0,
    "custom": 0.8,
}


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """How one model behaves: median latency and spread (lognormal), speed, prices."""

    model_id: str
    provider: str
    median_latency_ms: float
    latency_sigma: float
    tokens_per_second: float
    usd_per_prompt_token: float
    usd_per_completion_token: float
    traffic_share: float


MODELS: tuple[ModelProfile, ...] = (
    ModelProfile("gpt-4o", "openai", 950.0, 0.45, 85.0, 2.5e-6, 1.0e-5, 0.35),
    ModelProfile("claude-3-haiku", "anthropic", 480.0, 0.40, 120.0, 2.5e-7, 1.25e-6, 0.30),
    ModelProfile("llama-3-70b", "together", 1300.0, 0.55, 45.0, 9.0e-7, 9.0e-7, 0.20),
    ModelProfile("mistral-large", "mistral", 1100.0, 0.50, 55.0, 2.0e-6, 6.0e-6, 0.15),
)
REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1")
_SERVICES = ("chat-api", "search-assistant", "support-bot", "doc-summarizer")
_VERSIONS = ("2024.03.1", "2024.03.2", "2024.04.0")

_PAYLOAD_SOURCE = {
    "telemetry": (SourceModule.LLM_OBSERVATORY, EventType.TELEMETRY),
    "security": (SourceModule.LLM_SENTINEL, EventType.SECURITY),
    "cost": (SourceModule.LLM_COST_OPS, EventType.COST),
    "governance": (SourceModule.LLM_GOVERNANCE_DASHBOARD, EventType.GOVERNANCE),
}
# Custom events come from the modules without a typed payload of their own; both have an
# input topic (llm-analytics-hub does not, so the simulator never claims to be the hub).
_CUSTOM_SOURCES = (
    (SourceModule.LLM_REGISTRY, EventType.LIFECYCLE),
    (SourceModule.LLM_POLICY_ENGINE, EventType.AUDIT),
)

_THREAT_SEVERITY = {
    ThreatLevel.LOW: Severity.INFO,
    ThreatLevel.MEDIUM: Severity.WARNING,
    ThreatLevel.HIGH: Severity.ERROR,
    ThreatLevel.CRITICAL: Severity.CRITICAL,
}
_POLICY_SEVERITY = {
    PolicyViolationSeverity.LOW: Severity.INFO,
    PolicyViolationSeverity.MEDIUM: Severity.WARNING,
    PolicyViolationSeverity.HIGH: Severity.ERROR,
    PolicyViolationSeverity.CRITICAL: Severity.CRITICAL,
}
_BUDGET_SEVERITY = {
    BudgetAlertType.WARNING: Severity.WARNING,
    BudgetAlertType.CRITICAL: Severity.ERROR,
    BudgetAlertType.EXCEEDED: Severity.CRITICAL,
}

_Built = tuple[object, Severity]  # (payload data, envelope severity)


def _round(value: float, digits: int = 2) -> float:
    return float(round(value, digits))


class EventSimulator:
    """Seeded generator of valid, plausible events; deterministic for a given seed."""

    def __init__(self, seed: int = 0, environment: str = "production") -> None:
        self.seed = seed
        self.environment = environment
        self._rng = random.Random(seed)
        self._request_seq = 0
        # Recent traces: correlation id -> id of the last event emitted in that trace.
        self._traces: deque[tuple[UUID, UUID]] = deque(maxlen=8)
        self._builders: dict[str, Callable[[], _Built]] = {
            "telemetry.latency": self._latency,
            "telemetry.throughput": self._throughput,
            "telemetry.error_rate": self._error_rate,
            "telemetry.token_usage": self._token_usage,
            "telemetry.model_performance": self._model_performance,
            "security.threat": self._threat,
            "security.vulnerability": self._vulnerability,
            "security.compliance_violation": self._compliance_violation,
            "security.auth": self._auth,
            "security.privacy": self._privacy,
            "cost.token_cost": self._token_cost,
            "cost.api_cost": self._api_cost,
            "cost.resource_consumption": self._resource,
            "cost.budget_alert": self._budget,
            "governance.policy_violation": self._policy_violation,
            "governance.audit_trail": self._audit_trail,
            "governance.compliance_check": self._compliance_check,
            "governance.data_lineage": self._data_lineage,
            "custom": self._custom,
        }
        self._variant_weights = [_WEIGHTS[v] for v in VARIANTS]
        self._model_weights = [m.traffic_share for m in MODELS]

    # ------------------------------------------------------------------ public API

    def make(self, variant: str, timestamp: datetime) -> AnalyticsEvent:
        """One event of ``variant`` (one of :data:`VARIANTS`) at ``timestamp`` (tz-aware)."""
        try:
            builder = self._builders[variant]
        except KeyError:
            raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}") from None
        data, severity = builder()
        kind = variant.split(".", 1)[0]
        if kind == "custom":
            source, event_type = self._rng.choice(_CUSTOM_SOURCES)
            payload: object = CustomPayload(data=data)
        else:
            source, event_type = _PAYLOAD_SOURCE[kind]
            payload = {
                "telemetry": TelemetryPayload,
                "security": SecurityPayload,
                "cost": CostPayload,
                "governance": GovernancePayload,
            }[kind](data=data)
        return self._envelope(timestamp, source, event_type, severity, payload)

    def random_event(self, timestamp: datetime) -> AnalyticsEvent:
        """An event of a variant drawn with traffic-like frequencies (latency most often)."""
        variant = self._rng.choices(VARIANTS, weights=self._variant_weights)[0]
        return self.make(variant, timestamp)

    def latency_event(
        self, timestamp: datetime, model_id: str, total_latency_ms: float
    ) -> AnalyticsEvent:
        """A latency event whose ``total_latency_ms`` is exactly the given value."""
        data = self._latency_data(model_id, float(total_latency_ms))
        payload = TelemetryPayload(data=data)
        source, event_type = _PAYLOAD_SOURCE["telemetry"]
        return self._envelope(timestamp, source, event_type, self._latency_severity(data), payload)

    # ------------------------------------------------------------------ helpers

    def _uuid(self) -> UUID:
        return UUID(int=self._rng.getrandbits(128), version=4)

    def _model(self) -> ModelProfile:
        return self._rng.choices(MODELS, weights=self._model_weights)[0]

    def _profile(self, model_id: str) -> ModelProfile:
        for profile in MODELS:
            if profile.model_id == model_id:
                return profile
        return MODELS[0]

    def _request_id(self) -> str:
        self._request_seq += 1
        return f"req-{self.seed % 1000:03d}-{self._request_seq:07d}"

    def _tokens(self) -> tuple[int, int]:
        prompt = max(1, int(self._rng.lognormvariate(math.log(650.0), 0.8)))
        completion = max(1, int(self._rng.lognormvariate(math.log(220.0), 0.7)))
        return min(prompt, 128_000), min(completion, 8_192)

    def _tags(self) -> dict[str, str]:
        tags = {"region": self._rng.choice(REGIONS), "service": self._rng.choice(_SERVICES)}
        if self._rng.random() < 0.3:
            tags["version"] = self._rng.choice(_VERSIONS)
        return tags

    def _envelope(
        self,
        timestamp: datetime,
        source: SourceModule,
        event_type: EventType,
        severity: Severity,
        payload: object,
    ) -> AnalyticsEvent:
        event_id = self._uuid()
        correlation_id: UUID | None = None
        parent_event_id: UUID | None = None
        roll = self._rng.random()
        if roll < 0.25 and self._traces:
            # Join a recent trace: shares its correlation id, child of its last event.
            index = self._rng.randrange(len(self._traces))
            correlation_id, parent_event_id = self._traces[index]
            self._traces[index] = (correlation_id, event_id)
        elif roll < 0.45:
            correlation_id = self._uuid()
            self._traces.append((correlation_id, event_id))
        return AnalyticsEvent(
            event_id=event_id,
            timestamp=timestamp,
            source_module=source,
            event_type=event_type,
            correlation_id=correlation_id,
            parent_event_id=parent_event_id,
            severity=severity,
            environment=self.environment,
            tags=self._tags(),
            payload=payload,
        )

    # ------------------------------------------------------------------ telemetry

    def _latency_data(self, model_id: str, total: float) -> LatencyMetrics:
        profile = self._profile(model_id)
        rng = self._rng
        queue = min(total * 0.3, rng.expovariate(1 / 15.0))
        network = min(total * 0.2, rng.uniform(15.0, 60.0))
        other = min(total * 0.05, rng.uniform(0.0, 5.0))
        processing = max(0.0, total - queue - network - other)
        breakdown = LatencyBreakdown(
            queue_time_ms=_round(queue),
            processing_time_ms=_round(processing),
            network_time_ms=_round(network),
            other_ms=_round(other),
        )
        ttft = min(total, _round(total * rng.uniform(0.08, 0.25)))
        tps = _round(max(1.0, rng.gauss(profile.tokens_per_second, profile.tokens_per_second / 8)))
        with_breakdown = rng.random() < 0.8
        return LatencyMetrics(
            model_id=model_id,
            request_id=self._request_id(),
            total_latency_ms=total,
            ttft_ms=ttft,
            tokens_per_second=tps,
            breakdown=breakdown if with_breakdown else None,
        )

    @staticmethod
    def _latency_severity(data: LatencyMetrics) -> Severity:
        if data.total_latency_ms >= 10_000:
            return Severity.ERROR
        if data.total_latency_ms >= 5_000:
            return Severity.WARNING
        return Severity.INFO

    def _latency(self) -> _Built:
        profile = self._model()
        total = self._rng.lognormvariate(math.log(profile.median_latency_ms), profile.latency_sigma)
        data = self._latency_data(profile.model_id, _round(total))
        return data, self._latency_severity(data)

    def _throughput(self) -> _Built:
        profile = self._model()
        rps = _round(self._rng.uniform(2.0, 120.0))
        data = ThroughputMetrics(
            model_id=profile.model_id,
            requests_per_second=rps,
            tokens_per_second=_round(rps * self._rng.uniform(150.0, 400.0)),
            concurrent_requests=max(1, int(rps * self._rng.uniform(0.5, 2.5))),
            window_duration_seconds=60,
        )
        return data, Severity.INFO

    def _error_rate(self) -> _Built:
        profile = self._model()
        total = self._rng.randint(500, 20_000)
        rate = min(0.5, self._rng.lognormvariate(math.log(0.01), 0.9))
        failed = int(total * rate)
        kinds = {"timeout": 0.45, "rate_limited": 0.3, "server_error": 0.2, "invalid_request": 0.05}
        breakdown: dict[str, int] = {}
        left = failed
        for kind, share in kinds.items():
            count = min(left, round(failed * share))
            if count:
                breakdown[kind] = count
                left -= count
        if left:
            breakdown["timeout"] = breakdown.get("timeout", 0) + left
        percent = _round(100.0 * failed / total, 3)
        data = ErrorRateMetrics(
            model_id=profile.model_id,
            total_requests=total,
            failed_requests=failed,
            error_rate_percent=percent,
            error_breakdown=breakdown,
            window_duration_seconds=300,
        )
        severity = (
            Severity.ERROR if percent >= 10 else Severity.WARNING if percent >= 5 else Severity.INFO
        )
        return data, severity

    def _token_usage(self) -> _Built:
        prompt, completion = self._tokens()
        data = TokenUsageMetrics(
            model_id=self._model().model_id,
            request_id=self._request_id(),
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
        )
        return data, Severity.DEBUG if self._rng.random() < 0.2 else Severity.INFO

    def _model_performance(self) -> _Built:
        rng = self._rng
        data = ModelPerformanceMetrics(
            model_id=self._model().model_id,
            accuracy=_round(rng.uniform(0.82, 0.97), 4) if rng.random() < 0.7 else None,
            quality_score=_round(rng.uniform(0.7, 0.95), 4),
            user_satisfaction=_round(rng.uniform(3.6, 4.8), 2) if rng.random() < 0.5 else None,
            custom_metrics={
                "hallucination_rate": _round(rng.uniform(0.005, 0.05), 4),
                "refusal_rate": _round(rng.uniform(0.0, 0.02), 4),
            },
        )
        return data, Severity.INFO

    # ------------------------------------------------------------------ security

    def _threat(self) -> _Built:
        rng = self._rng
        threat_type: ThreatType | OtherVariant = (
            OtherVariant(other=rng.choice(("jailbreak", "prompt_leak")))
            if rng.random() < 0.15
            else rng.choice(list(ThreatType))
        )
        level = rng.choices(list(ThreatLevel), weights=[40, 35, 20, 5])[0]
        data = ThreatEvent(
            threat_id=f"threat-{rng.getrandbits(32):08x}",
            threat_type=threat_type,
            threat_level=level,
            source_ip=(
                f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
                f"{rng.randint(1, 254)}"
                if rng.random() < 0.8
                else None
            ),
            target_resource=rng.choice(("api/v1/chat/completions", "api/v1/embeddings")),
            attack_vector=rng.choice(
                ("malicious prompt", "oversized payload", "credential stuffing", "tool abuse")
            ),
            mitigation_status=rng.choice(list(MitigationStatus)),
            indicators_of_compromise=[
                f"ioc-{rng.getrandbits(24):06x}" for _ in range(rng.randint(0, 3))
            ],
        )
        return data, _THREAT_SEVERITY[level]

    def _vulnerability(self) -> _Built:
        rng = self._rng
        score = _round(rng.uniform(2.0, 9.8), 1)
        data = VulnerabilityEvent(
            vulnerability_id=f"vuln-{rng.getrandbits(24):06x}",
            cve_id=f"CVE-2024-{rng.randint(1000, 49999)}" if rng.random() < 0.7 else None,
            severity_score=score,
            affected_component=rng.choice(("tokenizer", "inference-server", "vector-store")),
            description="dependency with a known vulnerability in the serving stack",
            remediation_status=rng.choice(list(RemediationStatus)),
        )
        severity = (
            Severity.CRITICAL
            if score >= 9.0
            else Severity.ERROR
            if score >= 7.0
            else Severity.WARNING
            if score >= 4.0
            else Severity.INFO
        )
        return data, severity

    def _compliance_violation(self) -> _Built:
        rng = self._rng
        regulation = rng.choice(("GDPR", "HIPAA", "SOC2", "CCPA"))
        data = ComplianceViolationEvent(
            violation_id=f"cv-{rng.getrandbits(24):06x}",
            regulation=regulation,
            requirement=rng.choice(("data minimisation", "retention limit", "access logging")),
            violation_description=f"{regulation} control failed for a model request",
            affected_data_types=rng.sample(["email", "name", "phone", "health_record"], k=2),
            remediation_required=rng.random() < 0.8,
        )
        return data, Severity.ERROR

    def _auth(self) -> _Built:
        rng = self._rng
        action = rng.choices(list(AuthAction), weights=[30, 20, 35, 5, 8, 2])[0]
        success = action is not AuthAction.PERMISSION_DENIED and rng.random() < 0.93
        data = AuthEvent(
            user_id=f"user-{rng.randint(1, 5000):05d}",
            action=action,
            resource=rng.choice(("api/v1/chat/completions", "dashboard", "api/v1/models")),
            success=success,
            failure_reason=None
            if success
            else rng.choice(("invalid credentials", "expired token", "insufficient scope")),
        )
        return data, Severity.INFO if success else Severity.WARNING

    def _privacy(self) -> _Built:
        rng = self._rng
        consent = rng.random() < 0.9
        data = PrivacyEvent(
            data_type=rng.choice(("pii", "conversation_log", "embedding")),
            operation=rng.choice(list(PrivacyOperation)),
            user_consent=consent,
            data_subjects=[
                f"subject-{rng.randint(1, 99999):05d}" for _ in range(rng.randint(1, 3))
            ],
            purpose=rng.choice(("model evaluation", "support", "analytics")),
        )
        return data, Severity.INFO if consent else Severity.WARNING

    # ------------------------------------------------------------------ cost

    def _token_cost(self) -> _Built:
        profile = self._model()
        prompt, completion = self._tokens()
        total = (
            prompt * profile.usd_per_prompt_token + completion * profile.usd_per_completion_token
        )
        data = TokenCostEvent(
            model_id=profile.model_id,
            request_id=self._request_id(),
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            cost_per_prompt_token=profile.usd_per_prompt_token,
            cost_per_completion_token=profile.usd_per_completion_token,
            total_cost_usd=float(round(total, 9)),
            currency="USD",
        )
        return data, Severity.INFO

    def _api_cost(self) -> _Built:
        rng = self._rng
        profile = self._model()
        count = rng.randint(100, 50_000)
        per_request = float(round(rng.uniform(0.0005, 0.02), 6))
        data = ApiCostEvent(
            provider=profile.provider,
            api_endpoint=rng.choice(("/v1/chat/completions", "/v1/embeddings", "/v1/messages")),
            request_count=count,
            cost_per_request=per_request,
            total_cost_usd=_round(count * per_request, 4),
            billing_period="2024-03",
        )
        return data, Severity.INFO

    def _resource(self) -> _Built:
        rng = self._rng
        kind: ResourceType | OtherVariant = (
            OtherVariant(other="tpu") if rng.random() < 0.1 else rng.choice(list(ResourceType))
        )
        units = {"compute": "vcpu_hours", "storage": "gb_months", "network": "gb"}
        unit = units.get(kind.value, "gb_hours") if isinstance(kind, ResourceType) else "hours"
        if kind is ResourceType.GPU:
            unit = "gpu_hours"
        quantity = _round(rng.uniform(1.0, 500.0))
        data = ResourceConsumptionEvent(
            resource_type=kind,
            resource_id=f"res-{rng.getrandbits(24):06x}",
            quantity=quantity,
            unit=unit,
            cost_usd=_round(quantity * rng.uniform(0.02, 2.5), 4),
            utilization_percent=_round(rng.uniform(15.0, 98.0)),
        )
        return data, Severity.INFO

    def _budget(self) -> _Built:
        rng = self._rng
        alert = rng.choices(list(BudgetAlertType), weights=[60, 30, 10])[0]
        limit = float(rng.choice((5_000, 10_000, 25_000, 50_000)))
        threshold = {"warning": 80.0, "critical": 95.0, "exceeded": 100.0}[alert.value]
        spend = _round(limit * (threshold + rng.uniform(0.0, 4.0)) / 100.0)
        data = BudgetAlertEvent(
            budget_id=f"budget-{rng.randint(1, 40):03d}",
            budget_name=rng.choice(("research", "production inference", "support bot")),
            budget_limit_usd=limit,
            current_spend_usd=spend,
            threshold_percent=threshold,
            alert_type=alert,
        )
        return data, _BUDGET_SEVERITY[alert]

    # ------------------------------------------------------------------ governance

    def _policy_violation(self) -> _Built:
        rng = self._rng
        severity = rng.choices(list(PolicyViolationSeverity), weights=[40, 35, 20, 5])[0]
        rules = ["no-pii-in-prompts", "max-context-size", "approved-models-only", "region-lock"]
        data = PolicyViolationEvent(
            policy_id=f"pol-{rng.randint(1, 60):03d}",
            policy_name=rng.choice(("PII protection", "Model allow-list", "Data residency")),
            violation_description="request violated an active policy",
            violated_rules=rng.sample(rules, k=rng.randint(1, 2)),
            resource_id=f"app-{rng.randint(1, 200):04d}",
            user_id=f"user-{rng.randint(1, 5000):05d}" if rng.random() < 0.7 else None,
            severity=severity,
            auto_remediated=rng.random() < 0.4,
        )
        return data, _POLICY_SEVERITY[severity]

    def _audit_trail(self) -> _Built:
        rng = self._rng
        old = rng.choice((0.7, 0.8))
        data = AuditTrailEvent(
            action=rng.choice(("update", "create", "delete")),
            actor=f"user-{rng.randint(1, 5000):05d}",
            resource_type=rng.choice(("policy", "model", "dashboard")),
            resource_id=f"res-{rng.getrandbits(24):06x}",
            changes={"temperature": {"new": _round(old + 0.1, 1), "old": old}},
            ip_address=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            if rng.random() < 0.8
            else None,
            user_agent="hub-console/1.4" if rng.random() < 0.5 else None,
        )
        return data, Severity.INFO

    def _compliance_check(self) -> _Built:
        rng = self._rng
        controls = ["AC-2", "AC-6", "AU-2", "SC-8", "SI-4"]
        checked = rng.sample(controls, k=3)
        findings = [
            ComplianceFinding(
                control_id=control,
                status=rng.choices(list(ComplianceStatus), weights=[70, 15, 10, 5])[0],
                description=f"control {control} evaluated",
                evidence=f"s3://audit-evidence/{control.lower()}.json"
                if rng.random() < 0.5
                else None,
            )
            for control in checked
        ]
        passed = all(f.status is not ComplianceStatus.FAIL for f in findings)
        score = _round(
            100.0 * sum(f.status is not ComplianceStatus.FAIL for f in findings) / len(findings), 1
        )
        data = ComplianceCheckEvent(
            check_id=f"chk-{rng.getrandbits(24):06x}",
            framework=rng.choice(("SOC2", "ISO27001", "NIST-800-53")),
            controls_checked=checked,
            passed=passed,
            findings=findings,
            score=score,
        )
        return data, Severity.INFO if passed else Severity.WARNING

    def _data_lineage(self) -> _Built:
        rng = self._rng
        operation = rng.choice(list(DataOperation))
        source = f"s3://raw/conversations/{rng.randint(1, 31):02d}"
        destination = f"warehouse.analytics.dataset_{rng.randint(1, 9)}"
        data = DataLineageEvent(
            data_asset_id=f"asset-{rng.getrandbits(24):06x}",
            operation=operation,
            source=source,
            destination=destination if operation is not DataOperation.READ else None,
            transformation="pii_redaction" if operation is DataOperation.TRANSFORM else None,
            lineage_path=[source, "etl.redact", destination],
        )
        return data, Severity.DEBUG if operation is DataOperation.READ else Severity.INFO

    # ------------------------------------------------------------------ custom

    def _custom(self) -> _Built:
        rng = self._rng
        kind = rng.choice(("model_deployed", "cache_stats", "heartbeat"))
        if kind == "model_deployed":
            body: object = {
                "model_id": self._model().model_id,
                "replicas": rng.randint(1, 8),
                "canary": rng.random() < 0.3,
            }
        elif kind == "cache_stats":
            body = {"hit_ratio": _round(rng.uniform(0.2, 0.9), 3), "entries": rng.randint(1, 10**6)}
        else:
            body = None
        return CustomData(custom_type=kind, data=body), Severity.INFO
