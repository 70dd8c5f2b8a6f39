"""`hub produce`: realistic simulated events of every payload type at a steady rate."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from agents.runtime.client import HubProducer
from pipeline.sim.simulate import VARIANTS, EventSimulator


async def produce(
    rate: float,
    duration: float | None,
    count: int | None,
    batch: int,
    seed: int,
    every_variant: bool,
    incident_history: bool = False,
) -> int:
    """Send events until ``count`` or ``duration`` is reached; prints progress each second.

    ``incident_history``: first the past 226 minutes with a prompt-injection incident
    6 minutes ago (:mod:`pipeline.sim.incident_demo`), so detection has a baseline at once.
    """
    sim = EventSimulator(seed=seed)
    sent = 0
    async with HubProducer() as hub:
        if incident_history:
            from pipeline.sim.incident_demo import MINUTES
            from pipeline.sim.incident_demo import incident_history as history

            start = (time.time() // 60 - MINUTES) * 60
            events = history(start)  # the tested story (seed 7)
            for event in events:
                await hub.send(event)
            await hub.flush()
            sent += len(events)
            print(f"produce: {len(events)} events of the past {MINUTES} minutes, "
                  "a prompt-injection incident among them", flush=True)  # fmt: skip
        started = time.monotonic()
        next_report = started + 1.0
        if every_variant and (count is None or sent < count):
            now = datetime.now(UTC)
            for variant in VARIANTS:
                await hub.send(sim.make(variant, now))
            sent += len(VARIANTS)
        while (count is None or sent < count) and (
            duration is None or time.monotonic() - started < duration
        ):
            tick = time.monotonic()
            n = max(1, min(batch, (count - sent) if count is not None else batch))
            events = [sim.random_event(datetime.now(UTC)) for _ in range(n)]
            if batch > 1:
                await hub.send_batch(events)
            else:
                for event in events:
                    await hub.send(event)
            sent += n
            if time.monotonic() >= next_report:
                elapsed = time.monotonic() - started
                print(
                    f"produce: {sent} events in {elapsed:.0f} s ({sent / elapsed:.0f}/s)",
                    flush=True,
                )
                next_report += 1.0
            delay = n / rate - (time.monotonic() - tick)
            if delay > 0:
                await asyncio.sleep(delay)
        await hub.flush()
    print(f"produce: done, {sent} events sent", flush=True)
    return sent
