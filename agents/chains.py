"""`hub chains`: causal chains of events sharing a ``correlation_id``, on the broker.

A plain consumer (group ``<app id>-chains``) of the module input topics. Most events
carry no correlation id and are skipped on a byte test before any parse; the rest are
validated with the event models (invalid ones are the ingest path's to dead-letter)
and assembled by :mod:`pipeline.event_chains`. Each finished chain goes out as an
``EventCorrelation`` and its ``EventGraph``, keyed by the correlation id.

Open chains live in memory, so the committed offset of a partition never passes the
oldest event still in an open chain: after a crash the chains are rebuilt from Kafka
(at-least-once: a chain finished just before the crash may be published twice,
under the same id). Its own process, so the worker's hot path never pays for it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError

from agents import kafka_clients
from agents.settings import Settings
from pipeline.event_chains import ChainConfig, ChainResult, EventChainAssembler
from pipeline.event_chains import may_have_correlation_id as maybe_traced
from pipeline.models.events import AnalyticsEvent
from pipeline.topics import Catalogue

TopicPartition = Any


class HeldOffsets:
    """Which input offsets are still needed by open chains, per partition."""

    def __init__(self) -> None:
        self._by_chain: dict[UUID, list[tuple[TopicPartition, int]]] = defaultdict(list)
        self._held: dict[TopicPartition, Counter[int]] = defaultdict(Counter)

    def hold(self, chain: UUID, tp: TopicPartition, offset: int) -> None:
        self._by_chain[chain].append((tp, offset))
        self._held[tp][offset] += 1

    def release_closed(self, assembler: EventChainAssembler) -> None:
        for chain in [c for c in self._by_chain if not assembler.is_open(c)]:
            for tp, offset in self._by_chain.pop(chain):
                held = self._held[tp]
                held[offset] -= 1
                if held[offset] <= 0:
                    del held[offset]

    def commit_point(self, tp: TopicPartition, next_offset: int) -> int:
        """The offset to commit: ``next_offset`` unless an open chain holds an older one."""
        held = self._held.get(tp)
        return min(min(held), next_offset) if held else next_offset


def _events(raw: bytes) -> list[AnalyticsEvent]:
    """The valid events of a message that carry a correlation id."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    out = []
    for item in body if isinstance(body, list) else [body]:
        if not isinstance(item, dict) or item.get("correlation_id") is None:
            continue
        try:
            out.append(AnalyticsEvent.model_validate(item))
        except (ValidationError, ValueError):
            continue
    return out


async def run_chains(
    settings: Settings,
    catalogue: Catalogue,
    stop: asyncio.Event | None = None,
    config: ChainConfig | None = None,
    report_every_s: float = 10.0,
) -> EventChainAssembler:
    topics = [t.name for t in catalogue.by_role("input")]
    out_correlations = catalogue.one("event-correlations").name
    out_graphs = catalogue.one("event-graphs").name
    consumer = kafka_clients.consumer(
        settings,
        *topics,
        group_id=f"{settings.app_id}-chains",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = kafka_clients.producer(settings)
    assembler = EventChainAssembler(
        config or ChainConfig(settle_s=settings.chain_settle_s, window_s=settings.chain_window_s)
    )
    held = HeldOffsets()
    read_to: dict[TopicPartition, int] = {}
    published = 0

    async def publish(results: list[ChainResult]) -> None:
        nonlocal published
        for result in results:
            await producer.send(out_correlations, key=result.key,
                                value=result.correlation.to_wire_bytes())  # fmt: skip
            await producer.send(out_graphs, key=result.key, value=result.graph.to_wire_bytes())
            published += 1

    await consumer.start()
    await producer.start()
    next_report = time.monotonic() + report_every_s
    print(f"chains: reading {len(topics)} input topics -> {out_correlations}, {out_graphs}",
          flush=True)  # fmt: skip
    try:
        while stop is None or not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            now = time.time()
            for tp, records in batches.items():
                for record in records:
                    if record.value is None or not maybe_traced(record.value):
                        continue
                    for event in _events(record.value):
                        results = assembler.add(event, now)
                        held.release_closed(assembler)
                        await publish(results)
                        if assembler.is_open(event.correlation_id):  # type: ignore[arg-type]
                            held.hold(event.correlation_id, tp, record.offset)  # type: ignore[arg-type]
                read_to[tp] = records[-1].offset + 1
            await publish(assembler.due(now))
            held.release_closed(assembler)
            if read_to:
                await producer.flush()  # what the commit below covers is on the broker
                offsets = {tp: held.commit_point(tp, end) for tp, end in read_to.items()}
                await consumer.commit(offsets)
            if time.monotonic() >= next_report:
                next_report += report_every_s
                stats = assembler.stats
                print(f"chains: {stats.events} traced events, {assembler.open_chains} chains "
                      f"open, {published} published", flush=True)  # fmt: skip
    finally:
        await consumer.stop()
        await producer.stop()
    return assembler
