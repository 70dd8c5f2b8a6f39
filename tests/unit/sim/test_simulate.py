"""The event simulator: every variant valid and round-tripping, realistic mix, seeded."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.models.events import AnalyticsEvent, OtherVariant, Severity
from pipeline.sim.simulate import VARIANTS, EventSimulator

NOW = datetime(2024, 3, 2, 8, 15, 27, 250000, tzinfo=UTC)

# §2.1-§2.6: the 18 typed variants plus custom, and the module of each payload kind.
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
MODULE_OF_KIND = {
    "telemetry": ("llm-observatory", "telemetry"),
    "security": ("llm-sentinel", "security"),
    "cost": ("llm-cost-ops", "cost"),
    "governance": ("llm-governance-dashboard", "governance"),
}
INPUT_MODULES = {  # modules with an input topic (topics.yaml)
    "llm-observatory",
    "llm-sentinel",
    "llm-cost-ops",
    "llm-governance-dashboard",
    "llm-registry",
    "llm-policy-engine",
}
MODELS = {"gpt-4o", "claude-3-haiku", "llama-3-70b", "mistral-large"}


def test_variants_cover_the_spec() -> None:
    assert set(VARIANTS) == SPEC_VARIANTS
    assert len(VARIANTS) == len(SPEC_VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_is_valid_and_round_trips(variant: str) -> None:
    sim = EventSimulator(seed=5, environment="staging")
    for _ in range(20):
        event = sim.make(variant, NOW)
        wire = event.to_wire_bytes()
        again = AnalyticsEvent.from_wire(wire)
        assert again == event
        assert again.to_wire_bytes() == wire
        assert event.payload_variant == variant
        assert event.timestamp == NOW
        assert event.environment == "staging"
        assert event.schema_version == "1.0.0"
        doc = json.loads(wire)
        kind = variant.split(".")[0]
        if kind in MODULE_OF_KIND:
            assert (doc["source_module"], doc["event_type"]) == MODULE_OF_KIND[kind]
        else:
            assert doc["source_module"] in INPUT_MODULES
        assert doc["payload"]["payload_type"] == kind


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        EventSimulator().make("telemetry.bogus", NOW)


def _stream(seed: int, n: int) -> list[bytes]:
    sim = EventSimulator(seed=seed)
    return [sim.random_event(NOW + timedelta(milliseconds=i)).to_wire_bytes() for i in range(n)]


def test_same_seed_same_events_and_different_seeds_differ() -> None:
    assert _stream(7, 300) == _stream(7, 300)
    assert _stream(7, 300) != _stream(8, 300)
    a, b = EventSimulator(seed=3), EventSimulator(seed=3)
    assert [a.make(v, NOW).to_wire() for v in VARIANTS] == [
        b.make(v, NOW).to_wire() for v in VARIANTS
    ]


def test_random_mix_is_realistic() -> None:
    sim = EventSimulator(seed=1)
    events = [sim.random_event(NOW) for _ in range(4000)]
    counts = Counter(e.payload_variant for e in events)
    latency = counts.pop("telemetry.latency")
    assert latency > max(counts.values())  # latency events are the most frequent
    assert latency > 0.25 * len(events)

    latencies: dict[str, list[float]] = defaultdict(list)
    for event in events:
        assert event.tags["region"] in {"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"}
        assert event.source_module.value in INPUT_MODULES
        if event.payload_variant == "telemetry.latency":
            data = event.payload.data
            assert data.total_latency_ms > 0
            latencies[data.model_id].append(data.total_latency_ms)
            if data.breakdown is not None:
                parts = data.breakdown
                total = (
                    parts.queue_time_ms
                    + parts.processing_time_ms
                    + parts.network_time_ms
                    + parts.other_ms
                )
                assert total == pytest.approx(data.total_latency_ms, abs=0.05)
    assert set(latencies) == MODELS
    medians = {model: statistics.median(values) for model, values in latencies.items()}
    assert medians["claude-3-haiku"] < medians["gpt-4o"] < medians["llama-3-70b"]
    # lognormal: right-skewed, the mean exceeds the median for every model
    for model, values in latencies.items():
        assert statistics.fmean(values) > medians[model]

    by_correlation = Counter(e.correlation_id for e in events if e.correlation_id is not None)
    shared = [c for c, n in by_correlation.items() if n > 1]
    assert shared, "correlation ids must be shared occasionally"
    assert len(by_correlation) < len(events)
    with_corr = sum(by_correlation.values())
    assert 0.1 * len(events) < with_corr < 0.9 * len(events)
    ids = {e.event_id for e in events}
    assert len(ids) == len(events)
    assert any(e.parent_event_id in ids for e in events)


def test_every_variant_appears_in_a_long_random_stream() -> None:
    sim = EventSimulator(seed=2)
    seen = {sim.random_event(NOW).payload_variant for _ in range(6000)}
    assert seen == SPEC_VARIANTS


def test_open_variants_are_sometimes_other() -> None:
    sim = EventSimulator(seed=4)
    threats = [sim.make("security.threat", NOW).payload.data.threat_type for _ in range(200)]
    resources = [
        sim.make("cost.resource_consumption", NOW).payload.data.resource_type for _ in range(200)
    ]
    assert any(isinstance(t, OtherVariant) for t in threats)
    assert any(not isinstance(t, OtherVariant) for t in threats)
    assert any(isinstance(r, OtherVariant) for r in resources)


def test_latency_event_keeps_the_exact_total() -> None:
    sim = EventSimulator(seed=11)
    event = sim.latency_event(NOW, "it-model", 523.4567891)
    assert event.payload_variant == "telemetry.latency"
    assert event.payload.data.model_id == "it-model"
    assert event.payload.data.total_latency_ms == 523.4567891
    assert event.model_key() == "it-model"
    assert event.source_module.value == "llm-observatory"
    assert event.event_type.value == "telemetry"
    again = AnalyticsEvent.from_wire(event.to_wire_bytes())
    assert again.payload.data.total_latency_ms == 523.4567891
    assert again == event


def test_severity_follows_the_payload() -> None:
    sim = EventSimulator(seed=9)
    assert sim.latency_event(NOW, "gpt-4o", 400.0).severity is Severity.INFO
    assert sim.latency_event(NOW, "gpt-4o", 20_000.0).severity >= Severity.WARNING
    for _ in range(100):
        alert = sim.make("cost.budget_alert", NOW)
        expected = {"warning": "warning", "critical": "error", "exceeded": "critical"}
        assert alert.severity.value == expected[alert.payload.data.alert_type.value]
        auth = sim.make("security.auth", NOW)
        assert auth.severity is (Severity.INFO if auth.payload.data.success else Severity.WARNING)
