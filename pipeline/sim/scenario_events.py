"""A scenario minute as the events the modules would produce for it (``hub simulate --events``).

The evaluation scores the metrics a :class:`~pipeline.sim.scenarios.Scenario` computes
directly (fast); this turns the very same samples into events, so the scenario
runs through the real pipeline too: every latency sample is a latency event with
exactly that ``total_latency_ms``, every spend sample a token-cost (per model) or
API-cost (per tenant, ``tenant`` tag) event with exactly that cost, each model's
error rate one error-rate event per minute, and each threat and policy violation
one event. The hub's 1-minute metrics of these events therefore equal
``Scenario.metrics`` for the labelled series (tested), with the measurement's own
extra tags added (``currency``, ``provider``, ``threat_type``...): a label's tags
are a subset of the tags of the series the hub publishes.

Events of one request (latency, then its token cost) share a ``correlation_id``,
the cost event being the latency event's child, as a tracing producer would send.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from uuid import UUID

import numpy as np

from pipeline.models.events import (
    AnalyticsEvent,
    ApiCostEvent,
    CostPayload,
    ErrorRateMetrics,
    EventType,
    GovernancePayload,
    MitigationStatus,
    PolicyViolationEvent,
    PolicyViolationSeverity,
    SecurityPayload,
    Severity,
    SourceModule,
    TelemetryPayload,
    ThreatEvent,
    ThreatLevel,
    ThreatType,
    TokenCostEvent,
)
from pipeline.sim.scenarios import ENV, MINUTE, MODELS, TENANTS, MinuteTraffic
from pipeline.sim.simulate import EventSimulator

_TENANT_PROVIDER = {tenant: MODELS[i % len(MODELS)].provider for i, tenant in enumerate(TENANTS)}
"""Each tenant's API spend goes through one provider: one spend series per tenant."""


class ScenarioEvents:
    """Turns minutes of one scenario into events; seeded, so a seed gives the same bytes."""

    def __init__(self, seed: int) -> None:
        self._sim = EventSimulator(seed=seed, environment=ENV)
        self._rng = np.random.default_rng(seed + 20_000)
        self._ids = random.Random(seed + 30_000)
        self._seq = 0

    def minute(self, traffic: MinuteTraffic) -> list[AnalyticsEvent]:
        """Every event of the minute, sorted by timestamp."""
        events: list[AnalyticsEvent] = []
        for model_id, latencies in traffic.latency_ms.items():
            spends = traffic.spend_usd[model_id]
            for i, value in enumerate(latencies):
                moment = self._moment(traffic.start)
                request = self._latency(moment, model_id, float(value))
                events.append(request)
                if i < spends.size:
                    events.append(self._token_cost(request, model_id, float(spends[i])))
            for value in spends[latencies.size :]:
                events.append(self._token_cost(None, model_id, float(value), traffic.start))
            events.append(
                self._error_rate(
                    traffic.start, model_id, latencies.size, traffic.error_rate_percent[model_id]
                )
            )
        for tenant, spends in traffic.tenant_spend_usd.items():
            for value in spends:
                events.append(self._api_cost(traffic.start, tenant, float(value)))
        events += [self._threat(traffic.start) for _ in range(traffic.threats)]
        events += [self._violation(traffic.start) for _ in range(traffic.violations)]
        events.sort(key=lambda event: event.timestamp)
        return events

    # ------------------------------------------------------------------ helpers

    def _uuid(self) -> UUID:
        return UUID(int=self._ids.getrandbits(128), version=4)

    def _moment(self, start: float) -> datetime:
        """A random instant of the minute, to the millisecond (what producers send)."""
        return datetime.fromtimestamp(start + int(self._rng.integers(0, MINUTE * 1000)) / 1000, UTC)

    def _envelope(
        self,
        moment: datetime,
        source: SourceModule,
        event_type: EventType,
        severity: Severity,
        payload: object,
        tags: dict[str, str] | None = None,
        parent: AnalyticsEvent | None = None,
    ) -> AnalyticsEvent:
        self._seq += 1
        return AnalyticsEvent(
            event_id=self._uuid(),
            timestamp=moment,
            source_module=source,
            event_type=event_type,
            correlation_id=parent.correlation_id if parent is not None else None,
            parent_event_id=parent.event_id if parent is not None else None,
            severity=severity,
            environment=ENV,
            tags=tags or {},
            payload=payload,
        )

    def _latency(self, moment: datetime, model_id: str, total_ms: float) -> AnalyticsEvent:
        event = self._sim.latency_event(moment, model_id, total_ms)
        # One series per model (no random region/service tags), and a trace id per request.
        return event.model_copy(
            update={"tags": {}, "correlation_id": self._uuid(), "parent_event_id": None}
        )

    def _token_cost(
        self,
        request: AnalyticsEvent | None,
        model_id: str,
        cost_usd: float,
        start: float | None = None,
    ) -> AnalyticsEvent:
        prompt = int(self._rng.integers(200, 1500))
        completion = int(self._rng.integers(50, 600))
        data = TokenCostEvent(
            model_id=model_id,
            request_id=f"sim-{self._seq:09d}",
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            cost_per_prompt_token=cost_usd / (prompt + completion),
            cost_per_completion_token=cost_usd / (prompt + completion),
            total_cost_usd=cost_usd,
            currency="USD",
        )
        moment = request.timestamp if request is not None else self._moment(float(start or 0))
        return self._envelope(
            moment, SourceModule.LLM_COST_OPS, EventType.COST, Severity.INFO,
            CostPayload(data=data), parent=request,
        )  # fmt: skip

    def _error_rate(
        self, start: float, model_id: str, requests: int, percent: float
    ) -> AnalyticsEvent:
        failed = min(requests, round(requests * percent / 100.0))
        data = ErrorRateMetrics(
            model_id=model_id,
            total_requests=requests,
            failed_requests=failed,
            error_rate_percent=percent,
            error_breakdown={"server_error": failed} if failed else {},
            window_duration_seconds=MINUTE,
        )
        severity = Severity.ERROR if percent >= 10 else Severity.INFO
        moment = datetime.fromtimestamp(start + MINUTE - 1, UTC)  # reported at the minute's end
        return self._envelope(
            moment, SourceModule.LLM_OBSERVATORY, EventType.TELEMETRY, severity,
            TelemetryPayload(data=data),
        )  # fmt: skip

    def _api_cost(self, start: float, tenant: str, cost_usd: float) -> AnalyticsEvent:
        data = ApiCostEvent(
            provider=_TENANT_PROVIDER[tenant],
            api_endpoint="/v1/chat/completions",
            request_count=1,
            cost_per_request=cost_usd,
            total_cost_usd=cost_usd,
            billing_period="2026-01",
        )
        return self._envelope(
            self._moment(start), SourceModule.LLM_COST_OPS, EventType.COST, Severity.INFO,
            CostPayload(data=data), tags={"tenant": tenant},
        )  # fmt: skip

    def _threat(self, start: float) -> AnalyticsEvent:
        self._seq += 1
        data = ThreatEvent(
            threat_id=f"threat-{self._seq:09d}",
            threat_type=ThreatType.PROMPT_INJECTION,
            threat_level=ThreatLevel.HIGH,
            source_ip=None,
            target_resource="api/v1/chat/completions",
            attack_vector="malicious prompt",
            mitigation_status=MitigationStatus.DETECTED,
            indicators_of_compromise=[],
        )
        return self._envelope(
            self._moment(start), SourceModule.LLM_SENTINEL, EventType.SECURITY, Severity.WARNING,
            SecurityPayload(data=data),
        )  # fmt: skip

    def _violation(self, start: float) -> AnalyticsEvent:
        data = PolicyViolationEvent(
            policy_id="pol-001",
            policy_name="Prompt safety",
            violation_description="request violated an active policy",
            violated_rules=["no-prompt-injection"],
            resource_id="app-0001",
            user_id=None,
            severity=PolicyViolationSeverity.HIGH,
            auto_remediated=False,
        )
        return self._envelope(
            self._moment(start), SourceModule.LLM_POLICY_ENGINE, EventType.GOVERNANCE,
            Severity.WARNING, GovernancePayload(data=data),
        )  # fmt: skip
