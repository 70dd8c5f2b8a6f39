"""Anomaly correlation: grouping, strength from co-movement, root cause, impact."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.correlation.incidents import AnomalyCorrelator, CorrelatorConfig, SeriesKey
from pipeline.models.correlation import (
    AnomalyCorrelation,
    AnomalyEvent,
    AnomalyType,
    CausalRelationship,
    ImpactSeverity,
)
from pipeline.models.events import SourceModule

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
THREATS: SeriesKey = ("security_threats.count@1m", (("source_module", "llm-sentinel"),))
LATENCY: SeriesKey = (
    "llm_latency.total_latency_ms.p95@1m",
    (("model_id", "gpt-4o"), ("source_module", "llm-observatory")),
)
COST: SeriesKey = (
    "cost_tokens.total_cost_usd.sum@1m",
    (("model_id", "gpt-4o"), ("source_module", "llm-cost-ops")),
)
NOISE: SeriesKey = ("governance_audit.count@1m", (("source_module", "llm-policy-engine"),))


def _anomaly(
    metric: str,
    module: SourceModule,
    minute: int,
    baseline: float,
    observed: float,
    score: float = 0.9,
    kind: AnomalyType = AnomalyType.SPIKE,
) -> AnomalyEvent:
    return AnomalyEvent(
        event_id=uuid.uuid4(),
        source_module=module,
        anomaly_type=kind,
        anomaly_score=score,
        baseline=baseline,
        observed=observed,
        deviation=observed - baseline,
        timestamp=T0 + timedelta(minutes=minute),
        metric=metric,
    )


def _feed(correlator: AnomalyCorrelator, shared: list[float], rng: random.Random) -> None:
    """30 minutes in which threats, latency and cost follow one load curve (plus noise)."""
    for minute, level in enumerate(shared):
        t = (T0 + timedelta(minutes=minute - len(shared))).timestamp()
        correlator.observe(THREATS, t, 2.0 * level + rng.gauss(0, 0.2))
        correlator.observe(LATENCY, t, 400.0 + 50.0 * level + rng.gauss(0, 3))
        correlator.observe(COST, t, 1.0 + 0.3 * level + rng.gauss(0, 0.02))
        correlator.observe(NOISE, t, rng.gauss(10, 1))


def _incident(correlator: AnomalyCorrelator) -> list[AnomalyCorrelation]:
    """An injection campaign: threats first, latency a minute later, cost two minutes later."""
    rng = random.Random(1)
    shared = [rng.uniform(0, 4) for _ in range(30)]
    _feed(correlator, shared, rng)
    t = [(T0 + timedelta(minutes=m)).timestamp() for m in range(3)]
    out = []
    threat = _anomaly("security_threats.count", SourceModule.LLM_SENTINEL, 0, 4.0, 40.0)
    correlator.observe(THREATS, t[0], 40.0)
    out.append(correlator.add_anomaly(THREATS, threat))
    correlator.observe(LATENCY, t[1], 1500.0)
    latency = _anomaly(
        "llm_latency.total_latency_ms.p95", SourceModule.LLM_OBSERVATORY, 1, 500.0, 1500.0
    )
    out.append(correlator.add_anomaly(LATENCY, latency))
    correlator.observe(COST, t[2], 9.0)
    cost = _anomaly("cost_tokens.total_cost_usd.sum", SourceModule.LLM_COST_OPS, 2, 1.5, 9.0)
    out.append(correlator.add_anomaly(COST, cost))
    return [c for c in out if c is not None]


def test_an_incident_across_modules_is_one_correlation_with_its_root_cause() -> None:
    published = _incident(AnomalyCorrelator())
    assert len(published) == 2  # when the second alert joins, and again when the third does
    final = published[-1]
    assert published[0].correlation_id == final.correlation_id  # an update, same incident
    assert final.strength > 0.7
    metrics = [a.metric for a in final.anomalies]
    assert metrics[0] == "security_threats.count"
    root = final.root_cause
    assert root is not None and root.root_event_id == final.anomalies[0].event_id
    deltas = sorted(link.time_delta_ms for link in root.causal_chain)
    assert deltas == [60_000, 120_000]
    assert all(link.relationship is CausalRelationship.DIRECT_CAUSE for link in root.causal_chain)
    assert 0.7 < root.confidence <= 1.0
    assert any("prompt-injection" in r for r in root.recommendations)
    assert len(root.contributing_factors) == 3

    impact = final.impact
    assert impact.severity is ImpactSeverity.CRITICAL  # score 0.9 across three modules
    assert [m.value for m in impact.affected_modules] == sorted(
        ["llm-sentinel", "llm-observatory", "llm-cost-ops"]
    )
    assert impact.performance_impact is not None
    assert impact.performance_impact.latency_increase_percent == pytest.approx(200.0)
    assert impact.cost_impact is not None
    assert impact.cost_impact.additional_cost_usd == pytest.approx(7.5)
    assert impact.cost_impact.cost_increase_percent == pytest.approx(500.0)
    assert impact.security_impact is not None
    assert impact.security_impact.threats_detected == 40
    AnomalyCorrelation.from_wire(final.to_wire_bytes())  # valid wire format


def test_series_that_never_moved_together_are_not_correlated() -> None:
    correlator = AnomalyCorrelator()
    rng = random.Random(2)
    for minute in range(30):
        t = (T0 + timedelta(minutes=minute - 30)).timestamp()
        correlator.observe(NOISE, t, rng.gauss(10, 1))
        correlator.observe(LATENCY, t, rng.gauss(500, 20))
    a = _anomaly("governance_audit.count", SourceModule.LLM_POLICY_ENGINE, 0, 10.0, 40.0)
    b = _anomaly("llm_latency.total_latency_ms.p95", SourceModule.LLM_OBSERVATORY, 1, 500, 900)
    assert correlator.add_anomaly(NOISE, a) is None
    assert correlator.add_anomaly(LATENCY, b) is None
    assert correlator.strength([NOISE, LATENCY]) < 0.7


def test_same_window_tie_goes_to_the_causing_module() -> None:
    correlator = AnomalyCorrelator()
    rng = random.Random(3)
    shared = [rng.uniform(0, 4) for _ in range(30)]
    _feed(correlator, shared, rng)
    latency = _anomaly("llm_latency.total_latency_ms.p95", SourceModule.LLM_OBSERVATORY, 0, 5, 9)
    threat = _anomaly("security_threats.count", SourceModule.LLM_SENTINEL, 0, 4.0, 30.0)
    assert correlator.add_anomaly(LATENCY, latency) is None
    correlation = correlator.add_anomaly(THREATS, threat)
    assert correlation is not None and correlation.root_cause is not None
    assert correlation.root_cause.root_event_id == threat.event_id
    assert correlation.root_cause.confidence < correlation.strength  # a tie is less certain


def test_alerts_far_apart_are_separate_incidents_and_repeats_are_ignored() -> None:
    correlator = AnomalyCorrelator(CorrelatorConfig(window_s=600))
    rng = random.Random(4)
    _feed(correlator, [rng.uniform(0, 4) for _ in range(30)], rng)
    first = _anomaly("security_threats.count", SourceModule.LLM_SENTINEL, 0, 4.0, 30.0)
    repeat = _anomaly("security_threats.count", SourceModule.LLM_SENTINEL, 1, 4.0, 31.0)
    late = _anomaly("llm_latency.total_latency_ms.p95", SourceModule.LLM_OBSERVATORY, 30, 5, 9)
    assert correlator.add_anomaly(THREATS, first) is None
    assert correlator.add_anomaly(THREATS, repeat) is None  # same series, same incident
    assert correlator.add_anomaly(LATENCY, late) is None  # 30 minutes later: its own group


def test_impact_fields_come_from_the_members_that_measure_them() -> None:
    """A provider outage: failed requests up by 120, request rate down 40 %, resource
    spend up 3 USD, vulnerabilities counted: each impact field from its own member."""
    correlator = AnomalyCorrelator(CorrelatorConfig())
    keys = {
        "llm_errors.failed_requests": ("llm_errors.failed_requests@1m", (("m", "a"),)),
        "llm_throughput.requests_per_second.p95": ("llm_throughput.rps@1m", (("m", "a"),)),
        "cost_resources.cost_usd.sum": ("cost_resources.cost_usd.sum@1m", (("m", "a"),)),
        "security_vulnerabilities.count": ("security_vulnerabilities.count@1m", (("m", "a"),)),
    }
    rng = random.Random(3)
    for minute in range(30):
        level = rng.uniform(0, 4)
        t = (T0 + timedelta(minutes=minute - 30)).timestamp()
        for i, key in enumerate(keys.values()):
            correlator.observe(key, t, level * (i + 1) + rng.gauss(0, 0.01))
    obs = SourceModule.LLM_OBSERVATORY
    members = [
        ("llm_errors.failed_requests", obs, 10.0, 130.0),
        ("llm_throughput.requests_per_second.p95", obs, 50.0, 30.0),
        ("cost_resources.cost_usd.sum", SourceModule.LLM_COST_OPS, 2.0, 5.0),
        ("security_vulnerabilities.count", SourceModule.LLM_SENTINEL, 0.5, 4.0),
    ]
    found = None
    for metric, module, baseline, observed in members:
        anomaly = _anomaly(metric, module, 0, baseline, observed)
        found = correlator.add_anomaly(keys[metric], anomaly) or found
    assert found is not None and len(found.anomalies) == 4
    impact = found.impact
    assert impact.performance_impact is not None and impact.cost_impact is not None
    assert impact.performance_impact.affected_requests == 120
    assert impact.performance_impact.throughput_decrease_percent == pytest.approx(40.0)
    assert impact.cost_impact.wasted_resources_usd == pytest.approx(3.0)
    assert impact.security_impact is not None
    assert impact.security_impact.vulnerabilities_exposed == 4


def test_a_composite_is_not_the_root_of_an_incident_a_measured_series_is_in() -> None:
    """A latency creep alerts mildly on the median first; the health score, computed from
    that latency, crosses its band later and harder: the median is the root."""
    correlator = AnomalyCorrelator(CorrelatorConfig())
    median: SeriesKey = ("llm_latency.total_latency_ms.p50@1m", (("model_id", "gpt-4o"),))
    health: SeriesKey = ("hub_composite.system_health_score@1m", (("environment", "p"),))
    rng = random.Random(8)
    for minute in range(30):
        level = rng.uniform(0, 4)
        t = (T0 + timedelta(minutes=minute - 30)).timestamp()
        correlator.observe(median, t, 900 + 20 * level)
        correlator.observe(health, t, 90 - 5 * level)
    obs, hub = SourceModule.LLM_OBSERVATORY, SourceModule.LLM_ANALYTICS_HUB
    creep = _anomaly("llm_latency.total_latency_ms.p50", obs, 0, 900.0, 1010.0, score=0.55)
    assert correlator.add_anomaly(median, creep) is None
    score = _anomaly("hub_composite.system_health_score", hub, 6, 69.0, 40.0, score=1.0)
    found = correlator.add_anomaly(health, score)
    assert found is not None
    assert found.root_cause.root_event_id == creep.event_id
