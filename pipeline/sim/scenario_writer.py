"""``hub simulate`` output: a scenario's minutes as metric and event JSON Lines files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TextIO

from pipeline.models.events import AnalyticsEvent
from pipeline.models.metrics import AggregatedMetric
from pipeline.sim.scenario_events import ScenarioEvents
from pipeline.sim.scenarios import Scenario

MINUTES_PER_DAY = 1440


@dataclass(slots=True)
class SimulateCounts:
    metrics: int = 0
    events: int = 0


def minutes(
    scenario: Scenario, seed: int, with_events: bool
) -> Iterator[tuple[list[AggregatedMetric], list[AnalyticsEvent]]]:
    """Each minute's metrics and (when asked) events; prints a line per simulated day."""
    maker = ScenarioEvents(seed) if with_events else None
    days = scenario.minutes / MINUTES_PER_DAY
    for i, minute in enumerate(scenario.traffic()):
        if i % MINUTES_PER_DAY == 0:
            print(f"hub simulate: day {i // MINUTES_PER_DAY + 1} of {days:g}", file=sys.stderr)
        yield scenario.metrics(minute), (maker.minute(minute) if maker else [])


def write_minute(
    metrics: list[AggregatedMetric],
    events: list[AnalyticsEvent],
    metrics_out: TextIO | None,
    events_out: TextIO | None,
    counts: SimulateCounts,
) -> None:
    if metrics_out is not None:
        metrics_out.writelines(metric.to_wire() + "\n" for metric in metrics)
        counts.metrics += len(metrics)
    if events_out is not None:
        events_out.writelines(event.to_wire() + "\n" for event in events)
        counts.events += len(events)


def write_scenario(
    scenario: Scenario, seed: int, metrics_path: str | None, events_path: str | None
) -> SimulateCounts:
    counts = SimulateCounts()
    with ExitStack() as stack:
        metrics_out = stack.enter_context(open(metrics_path, "w")) if metrics_path else None
        events_out = stack.enter_context(open(events_path, "w")) if events_path else None
        for metrics, events in minutes(scenario, seed, events_out is not None):
            write_minute(metrics, events, metrics_out, events_out, counts)
    return counts
