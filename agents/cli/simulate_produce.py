"""``hub simulate --produce``: a labelled scenario's events sent to the module topics."""

from __future__ import annotations

from contextlib import ExitStack

from agents.runtime.client import HubProducer
from pipeline.sim.scenario_writer import SimulateCounts, minutes, write_minute
from pipeline.sim.scenarios import Scenario


async def produce_scenario(
    scenario: Scenario, seed: int, metrics_path: str | None, events_path: str | None
) -> SimulateCounts:
    """Sends every event (JSON arrays of up to 500, per module topic) as fast as the
    broker takes them; the files, when asked, get the same minutes."""
    counts = SimulateCounts()
    sent = 0
    with ExitStack() as stack:
        metrics_out = stack.enter_context(open(metrics_path, "w")) if metrics_path else None
        events_out = stack.enter_context(open(events_path, "w")) if events_path else None
        async with HubProducer() as hub:
            for metrics, events in minutes(scenario, seed, with_events=True):
                write_minute(metrics, events, metrics_out, events_out, counts)
                await hub.send_batch(events)
                sent += len(events)
            await hub.flush()
    counts.events = sent
    return counts
