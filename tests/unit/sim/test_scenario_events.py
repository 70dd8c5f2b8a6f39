"""Scenario events through the replay aggregation give the scenario's own metrics."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.models.events import AnalyticsEvent
from pipeline.models.metrics import CounterValues, StatisticalMeasures, TimeWindow
from pipeline.sim.scenario_events import ScenarioEvents
from pipeline.sim.scenarios import Scenario
from pipeline.windows.replay import replay


@pytest.fixture(scope="module")
def minutes() -> list:
    """Three minutes: the first two of a prompt-injection incident and one before it."""
    scenario = Scenario(seed=5, days=0.1, incidents=("prompt_injection",), quiet_days=0.0)
    start = scenario.labels[0].start
    picked = [m for m in scenario.traffic() if start - 60 <= m.start < start + 120]
    assert picked[-1].threats > 3 * picked[0].threats  # the incident is in there
    return picked, scenario


def _events(minutes: list) -> list[AnalyticsEvent]:
    maker = ScenarioEvents(seed=5)
    return [event for minute in minutes for event in maker.minute(minute)]


def test_events_reproduce_the_scenario_metrics(minutes: tuple) -> None:
    traffic, scenario = minutes
    events = _events(traffic)
    report = replay((e.to_wire_bytes() for e in events), windows=(TimeWindow.one_minute,))
    assert report.invalid == 0 and report.events == len(events)
    published = {}
    for metric in report.metrics:
        published.setdefault((metric.name, metric.window_start), []).append(metric)
    checked = 0
    for minute in traffic:
        for expected in scenario.metrics(minute):
            candidates = [
                m
                for m in published[(expected.name, expected.window_start)]
                if set(expected.tags.items()) <= set(m.tags.items())
            ]
            assert len(candidates) == 1, (expected.name, expected.tags)
            got = candidates[0].values
            if isinstance(expected.values, CounterValues):
                assert isinstance(got, CounterValues)
                assert got.value == expected.values.value
                continue
            assert isinstance(got, StatisticalMeasures)
            assert got.count == expected.values.count
            assert got.sum == pytest.approx(expected.values.sum, rel=1e-9)
            assert got.min == expected.values.min and got.max == expected.values.max
            assert got.p95 == pytest.approx(expected.values.p95, rel=1e-9)
            checked += 1
    assert checked >= 3 * 10


def test_a_request_and_its_cost_form_one_trace(minutes: tuple) -> None:
    traffic, _ = minutes
    events = _events(traffic[:1])
    by_id = {e.event_id: e for e in events}
    children = [e for e in events if e.parent_event_id is not None]
    latency_events = sum(v.size for v in traffic[0].latency_ms.values())
    assert len(children) == latency_events
    for child in children:
        parent = by_id[child.parent_event_id]
        assert parent.correlation_id == child.correlation_id
        assert parent.source_module.value == "llm-observatory"
        assert child.source_module.value == "llm-cost-ops"


def test_same_seed_same_events(minutes: tuple) -> None:
    traffic, _ = minutes
    first = [e.to_wire_bytes() for e in _events(traffic[:1])]
    again = [e.to_wire_bytes() for e in _events(traffic[:1])]
    assert first == again
    stamps = [e.timestamp.timestamp() for e in _events(traffic[:1])]
    assert np.all(np.diff(stamps) >= 0)
