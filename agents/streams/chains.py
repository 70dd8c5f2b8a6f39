"""`hub chains`: causal chains of events sharing a ``correlation_id``, on the broker.

Two steps, as a keyed join is laid out on Kafka (any number of ``hub chains``
processes, each chain assembled by exactly one of them):

1. **Re-key** (group ``<app id>-chains-route``, the module input topics): events that
   carry a correlation id (a byte test skips the rest before any parse; invalid ones
   are the ingest path's to dead-letter) go to ``hub.chain-events`` keyed by their
   correlation id, one event per message. Each input partition then *marks* every
   chain partition with its progress: the highest event time read from it, less
   ``HUB_CHAIN_LATENESS_S`` (an event older than that is late, counted and not
   forwarded); a partition read to its end marks the wall clock, so quiet inputs do
   not hold the chains back. The highest event time is committed with the offset (its
   metadata), so a restarted router judges lateness exactly as before.
2. **Assemble** (group ``<app id>-chains``, ``hub.chain-events``): one
   :class:`~pipeline.correlation.chain_stage.ChainStage` per partition, in event time; its state
   is snapshotted with its offset to ``<app id>-chains-state`` (:mod:`agents.runtime.stateful`).
   Each finished chain goes out as an ``EventCorrelation`` and its ``EventGraph``,
   keyed by the correlation id (ids derived from the chain: a repeat after a crash
   carries the same bytes).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

import orjson
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from agents.runtime import kafka_clients
from agents.runtime.settings import Settings
from agents.runtime.stateful import StatefulStage
from pipeline.correlation.chain_stage import ChainStage
from pipeline.correlation.chains import ChainConfig, ChainResult
from pipeline.correlation.chains import may_have_correlation_id as maybe_traced
from pipeline.models.events import AnalyticsEvent
from pipeline.wire.topics import KIND_HEADER, SOURCE_HEADER, Catalogue

log = logging.getLogger(__name__)

MARK_EVERY_S = 0.5
"""How often the router marks the chain partitions with its inputs' progress."""


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


def input_sources(catalogue: Catalogue) -> dict[tuple[str, int], int]:
    """Every input partition -> its number as a mark source (same in every process)."""
    pairs = sorted((t.name, p) for t in catalogue.by_role("input") for p in range(t.partitions))
    return {pair: index for index, pair in enumerate(pairs)}


async def route(
    settings: Settings, catalogue: Catalogue, lateness_s: float, stop: asyncio.Event | None
) -> None:
    """Step 1: traced events to ``hub.chain-events`` by correlation id, and marks."""
    sources = input_sources(catalogue)
    target = catalogue.one("chain-events")
    consumer = kafka_clients.consumer(
        settings,
        *sorted({name for name, _ in sources}),
        group_id=f"{settings.app_id}-chains-route",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = kafka_clients.producer(settings, linger_ms=5, acks="all")
    await consumer.start()
    await producer.start()
    highest: dict[Any, float] = {}
    late = 0
    last_mark = 0.0
    try:
        while stop is None or not stop.is_set():
            batches = await consumer.getmany(timeout_ms=300, max_records=2000)
            futures = []
            for tp, records in batches.items():
                if tp not in highest:
                    highest[tp] = await _restored_highest(consumer, tp)
                source = str(sources[(tp.topic, tp.partition)]).encode()
                for record in records:
                    if record.value is None or not maybe_traced(record.value):
                        continue
                    for event in _events(record.value):
                        moment = event.timestamp.timestamp()
                        if moment < highest[tp] - lateness_s:
                            late += 1
                            continue
                        highest[tp] = max(highest[tp], moment)
                        key = str(event.correlation_id).encode()
                        headers = [(SOURCE_HEADER, source)]
                        futures.append(
                            await producer.send(
                                target.name, event.to_wire_bytes(), key, headers=headers
                            )
                        )
            if time.monotonic() - last_mark >= MARK_EVERY_S:  # end offsets: not every poll
                last_mark = time.monotonic()
                futures += await _mark(consumer, producer, target, sources, highest, lateness_s)
            if futures:
                await asyncio.gather(*futures)
            if batches:
                offsets = {
                    tp: OffsetAndMetadata(records[-1].offset + 1, repr(highest[tp]))
                    for tp, records in batches.items()
                }
                await consumer.commit(offsets)
    finally:
        if late:
            log.warning("chains: %d traced events later than %.0f s were not chained",
                        late, lateness_s)  # fmt: skip
        await consumer.stop()
        await producer.stop()


async def _restored_highest(consumer: Any, tp: Any) -> float:
    """The highest event time read before the committed offset (its commit metadata;
    aiokafka's public ``committed()`` drops the metadata, its coordinator keeps it)."""
    try:
        committed = (await consumer._coordinator.fetch_committed_offsets([tp])).get(tp)
        return float(committed.metadata) if committed and committed.metadata else -math.inf
    except Exception:  # no commit yet, or unreadable metadata: nothing read before
        return -math.inf


async def _mark(
    consumer: Any,
    producer: Any,
    target: Any,
    sources: dict[tuple[str, int], int],
    highest: dict[Any, float],
    lateness_s: float,
) -> list[Any]:
    """Each owned input partition's progress to every chain partition; a partition read
    to its end has nothing pending before now."""
    owned = sorted(consumer.assignment())
    if not owned:
        return []
    ends = await consumer.end_offsets(owned)
    now = time.time()
    futures = []
    for tp in owned:
        try:
            position = await consumer.position(tp)
        except Exception:
            continue  # revoked meanwhile
        progress = highest.get(tp, -math.inf)
        if position >= ends[tp]:
            progress = max(progress, now)
        if progress == -math.inf:
            continue
        headers = [
            (SOURCE_HEADER, str(sources[(tp.topic, tp.partition)]).encode()),
            (KIND_HEADER, b"mark"),
        ]
        value = orjson.dumps(progress - lateness_s)
        for partition in range(target.partitions):
            futures.append(
                await producer.send(target.name, value, None, partition, headers=headers)
            )
    return futures


async def run_chains(
    settings: Settings,
    catalogue: Catalogue,
    stop: asyncio.Event | None = None,
    config: ChainConfig | None = None,
) -> None:
    """Both steps in one process, until ``stop``."""
    config = config or ChainConfig(
        settle_s=settings.chain_settle_s, window_s=settings.chain_window_s
    )
    sources = len(input_sources(catalogue))
    out_correlations = catalogue.one("event-correlations").name
    out_graphs = catalogue.one("event-graphs").name
    producer = kafka_clients.producer(settings, linger_ms=5, acks="all")
    published = 0

    async def publish(results: list[ChainResult]) -> list[Any]:
        nonlocal published
        futures = []
        for result in results:
            futures.append(
                await producer.send(
                    out_correlations, result.correlation.to_wire_bytes(), result.key
                )
            )
            futures.append(
                await producer.send(out_graphs, result.graph.to_wire_bytes(), result.key)
            )
            published += 1
        return futures

    async def handle(partition: int, stage: ChainStage, records: list[Any]) -> None:
        if stage.config != config:  # settings changed since the snapshot: use the new ones
            stage.config = stage.assembler.config = config
        futures = []
        for record in records:
            headers = dict(record.headers or ())
            try:
                if headers.get(KIND_HEADER) == b"mark":
                    source = int(headers[SOURCE_HEADER])
                    futures += await publish(stage.mark(source, float(orjson.loads(record.value))))
                else:
                    stage.offer(AnalyticsEvent.model_validate_json(record.value))
            except (ValueError, KeyError, ValidationError) as exc:
                log.warning("chains: unreadable record at offset %d: %s", record.offset, exc)
        if futures:
            await asyncio.gather(*futures)

    assemble = StatefulStage(
        "chains",
        catalogue.one("chain-events").name,
        catalogue.one("chains-state").name,
        f"{settings.app_id}-chains",
        lambda partition: ChainStage(sources, config),
        handle,
        settings=settings,
    )
    await producer.start()
    print(f"chains: reading {sources} input partitions -> {out_correlations}, {out_graphs}",
          flush=True)  # fmt: skip
    try:
        await asyncio.gather(
            route(settings, catalogue, settings.chain_lateness_s, stop), assemble.run(stop)
        )
    finally:
        await producer.stop()
        print(f"chains: {published} chains published", flush=True)
