"""Every payload variant becomes points with the right measurement, tags and values."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.ingest.normalize import MAPPED_VARIANTS, points_from_event
from pipeline.sim.simulate import VARIANTS, EventSimulator

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_every_typed_variant_is_mapped() -> None:
    assert set(MAPPED_VARIANTS) == set(VARIANTS) - {"custom"}


def test_each_event_yields_one_count_point_plus_its_measurement() -> None:
    sim = EventSimulator(seed=9)
    for variant in VARIANTS:
        event = sim.make(variant, NOW)
        points = points_from_event(event)
        counts = [p for p in points if p.measurement == "hub_events"]
        assert len(counts) == 1 and counts[0].fields == {"count": 1.0}
        assert dict(counts[0].tags)["payload"] == variant
        assert len(points) == (1 if variant == "custom" else 2)
        for point in points:
            assert point.timestamp == NOW.timestamp()
            assert list(point.tags) == sorted(point.tags)
            assert dict(point.tags)["source_module"] == event.source_module.value


def test_latency_fields_and_series_tags_come_from_the_event() -> None:
    event = EventSimulator(seed=1).latency_event(NOW, "gpt-4o", 812.5)
    (point,) = [p for p in points_from_event(event) if p.measurement == "llm_latency"]
    data = event.payload.data
    assert point.fields["total_latency_ms"] == 812.5
    if data.ttft_ms is not None:
        assert point.fields["ttft_ms"] == data.ttft_ms
    tags = dict(point.tags)
    assert tags["model_id"] == "gpt-4o"
    assert tags["environment"] == event.environment
    for key, value in event.tags.items():
        assert tags[key] == value


def test_budget_spend_percent_and_auth_failures() -> None:
    sim = EventSimulator(seed=2)
    budget = sim.make("cost.budget_alert", NOW)
    (point,) = [p for p in points_from_event(budget) if p.measurement == "cost_budget"]
    d = budget.payload.data
    assert point.fields["spend_percent"] == 100.0 * d.current_spend_usd / d.budget_limit_usd
    auth = sim.make("security.auth", NOW)
    (point,) = [p for p in points_from_event(auth) if p.measurement == "security_auth"]
    assert point.fields["failures"] == (0.0 if auth.payload.data.success else 1.0)
