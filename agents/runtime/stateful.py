"""A keyed stateful stage on a plain consumer, laid out as Kafka Streams lays out a task.

Each input partition has one state object (``factory(partition)``), saved from time to
time with the input offset it has applied, as a snapshot in the same partition of a
compacted state topic (:mod:`pipeline.stages.snapshots`). Whichever process the group assigns
a partition to restores the latest snapshot from the broker (an empty data directory
is fine: nothing of it is local) and resumes reading right after the offset the state
covers. A stage whose logic is a function of its input (:mod:`pipeline.stages.event_time`)
then concludes the same after a crash, a rebalance or a move to another machine;
what it re-publishes between its last snapshot and a crash carries the same ids.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition

from agents.runtime import kafka_clients
from agents.runtime.settings import Settings, load_settings
from pipeline.stages.snapshots import MANIFEST_KEY, Manifest, chunk_key, decode_state, encode_state

log = logging.getLogger(__name__)

Handler = Callable[[int, Any, list[Any]], Awaitable[None]]
"""(partition, its state, records in offset order): apply and publish; return once the
outputs are on the broker."""

SNAPSHOT_EVERY_S = float(os.environ.get("HUB_SNAPSHOT_EVERY_S", "30"))
"""How often each changed partition's state is saved (``HUB_SNAPSHOT_EVERY_S``): a
restart re-reads at most this much input (its outputs again, with the same ids)."""
SNAPSHOT_SHARE = 0.05
"""At most this share of the stage's time goes to snapshots: a partition whose state takes
``c`` seconds to save waits at least ``c × partitions / SNAPSHOT_SHARE`` between saves
(a large state in a catch-up: a 1 s snapshot of each of 4 partitions every 30 s was a
sixth of a mixed-traffic worker; docs/BENCHMARKS.md). Outputs do not depend on it; a
restart re-reads more input."""
REFRESH_EVERY_S = 86_400.0
"""An unchanged state is re-saved this often, so the state topic's retention never
drops the only snapshot of a quiet partition."""


class StatefulStage:
    def __init__(
        self,
        name: str,
        input_topic: str,
        state_topic: str,
        group: str,
        factory: Callable[[int], Any],
        handle: Handler,
        *,
        max_records: int = 2000,
        poll_ms: int = 200,
        settings: Settings | None = None,
        on_failure: Callable[[BaseException], Awaitable[None]] | None = None,
    ) -> None:
        """``on_failure``: what to do when the stage fails (the worker stops its app);
        without one the exception propagates."""
        self.name = name
        self.input_topic = input_topic
        self.state_topic = state_topic
        self.group = group
        self.factory = factory
        self.handle = handle
        self.max_records = max_records
        self.poll_ms = poll_ms
        self.settings = settings or load_settings()
        self.on_failure = on_failure
        self.states: dict[int, Any] = {}
        self.applied: dict[int, int] = {}
        self._saved: dict[int, tuple[int, float]] = {}
        """partition -> (applied offset, monotonic time) of its last snapshot."""
        self._cost: dict[int, float] = {}
        """partition -> seconds its last snapshot took (encoded and sent)."""
        self._slot: dict[int, int] = {}
        self._writer = uuid.uuid4().hex[:12]
        self._lock = asyncio.Lock()
        self._producer: Any = None
        self.restored: dict[int, int] = {}
        """partition -> offset its state was restored at (for logs and tests)."""

    # ------------------------------------------------------------------ run
    async def run(self, stop: asyncio.Event | None = None) -> None:
        settings = self.settings
        consumer = kafka_clients.consumer(
            settings, group_id=self.group, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        stage = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: Any) -> None:
                await stage._revoked(
                    [tp.partition for tp in revoked if tp.topic == stage.input_topic]
                )

            async def on_partitions_assigned(self, assigned: Any) -> None:
                await stage._assigned(
                    consumer, [tp for tp in assigned if tp.topic == stage.input_topic]
                )

        self._producer = kafka_clients.producer(settings, acks="all")
        await self._producer.start()
        consumer.subscribe([self.input_topic], listener=Listener())
        try:
            while stop is None or not stop.is_set():
                batches = await consumer.getmany(
                    timeout_ms=self.poll_ms, max_records=self.max_records
                )
                async with self._lock:
                    for tp, records in batches.items():
                        await self._apply(tp.partition, records)
                    await self._snapshot_due(consumer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dead stage must not go unnoticed: stop the worker
            log.exception("%s failed; stopping so it can be restarted", self.name)
            if self.on_failure is None:
                raise
            await self.on_failure(exc)
        finally:
            try:
                async with self._lock:
                    for partition in list(self.states):
                        await self._snapshot(partition)
            except Exception:
                log.exception("%s: final snapshot failed (the next owner re-reads more)", self.name)
            await consumer.stop()
            await self._producer.stop()

    async def _apply(self, partition: int, records: list[Any]) -> None:
        state = self.states.get(partition)
        if state is None:
            return  # revoked meanwhile
        fresh = [r for r in records if r.offset >= self.applied[partition]]
        if not fresh:
            return
        await self.handle(partition, state, fresh)
        self.applied[partition] = fresh[-1].offset + 1

    # ------------------------------------------------------------------ rebalance
    async def _assigned(self, consumer: Any, tps: list[TopicPartition]) -> None:
        async with self._lock:
            for tp in tps:
                if tp.partition in self.states:
                    continue
                started = time.monotonic()
                restored = await self._restore(tp.partition)
                if restored is None:
                    self.states[tp.partition] = self.factory(tp.partition)
                    self.applied[tp.partition] = 0
                    self._saved[tp.partition] = (0, time.monotonic())
                    await consumer.seek_to_beginning(tp)
                    log.info(
                        "%s partition %d: no snapshot, reading from the start",
                        self.name,
                        tp.partition,
                    )
                    continue
                manifest, state = restored
                self.states[tp.partition] = state
                self.applied[tp.partition] = manifest.applied
                self._saved[tp.partition] = (manifest.applied, time.monotonic())
                self.restored[tp.partition] = manifest.applied
                consumer.seek(tp, manifest.applied)
                log.warning(
                    "%s partition %d: state restored from %s at offset %d (%d bytes, %.1f s)",
                    self.name, tp.partition, self.state_topic, manifest.applied,
                    manifest.size, time.monotonic() - started,
                )  # fmt: skip

    async def _revoked(self, partitions: list[int]) -> None:
        async with self._lock:
            for partition in partitions:
                try:
                    await self._snapshot(partition)  # the next owner starts where this stopped
                except Exception:
                    log.exception(
                        "%s partition %d: snapshot at hand-over failed", self.name, partition
                    )
                self.states.pop(partition, None)
                self.applied.pop(partition, None)
                self._saved.pop(partition, None)
                self._cost.pop(partition, None)

    # ------------------------------------------------------------------ snapshots
    async def _snapshot_due(self, consumer: Any) -> None:
        now = time.monotonic()
        due = []
        for partition, applied in self.applied.items():
            saved_at, saved_when = self._saved.get(partition, (-1, -float("inf")))
            spacing = self._cost.get(partition, 0.0) * len(self.states) / SNAPSHOT_SHARE
            if now - saved_when < max(SNAPSHOT_EVERY_S, spacing):
                continue
            if applied != saved_at or now - saved_when >= REFRESH_EVERY_S:
                due.append(partition)
        for partition in due:
            await self._snapshot(partition, force=True)
        if due:
            offsets = {TopicPartition(self.input_topic, p): self.applied[p] for p in due}
            try:  # informational (lag monitoring): a restart resumes from the snapshot
                await consumer.commit(offsets)
            except Exception as exc:
                log.info("%s: offsets not committed (%s)", self.name, exc)

    async def _snapshot(self, partition: int, force: bool = False) -> None:
        state = self.states.get(partition)
        if state is None:
            return
        applied = self.applied[partition]
        if not force and self._saved.get(partition, (None, 0.0))[0] == applied:
            return  # nothing applied since the last one
        began = time.monotonic()
        digest, size, chunks = encode_state(state)
        slot = self._slot[partition] = 1 - self._slot.get(partition, 0)
        send = self._producer.send
        futures = [
            await send(self.state_topic, chunk, chunk_key(self._writer, slot, i), partition)
            for i, chunk in enumerate(chunks)
        ]
        offsets = tuple([(await future).offset for future in futures])
        manifest = Manifest(applied, offsets, digest, size)
        await (await send(self.state_topic, manifest.to_bytes(), MANIFEST_KEY, partition))
        self._saved[partition] = (applied, time.monotonic())
        self._cost[partition] = self._saved[partition][1] - began

    async def _restore(self, partition: int) -> tuple[Manifest, Any] | None:
        """The latest complete snapshot of a partition, read from the broker."""
        reader = kafka_clients.consumer(self.settings, group_id=None, enable_auto_commit=False)
        await reader.start()
        tp = TopicPartition(self.state_topic, partition)
        try:
            reader.assign([tp])
            end = (await reader.end_offsets([tp]))[tp]
            begin = (await reader.beginning_offsets([tp]))[tp]
            manifest = None
            high, span = end, 64
            while manifest is None and high > begin:
                low = max(begin, high - span)
                manifest = await _last_manifest(reader, tp, low, high)
                high, span = low, span * 4
            if manifest is None:
                return None
            chunks = []
            for offset in manifest.chunks:
                reader.seek(tp, offset)
                record = await reader.getone()
                if record.offset != offset:
                    raise RuntimeError(
                        f"{self.state_topic}[{partition}]: snapshot chunk at offset {offset} is "
                        f"gone (found {record.offset}); delete the state topic to start afresh"
                    )
                chunks.append(record.value)
            return manifest, decode_state(manifest, chunks)
        finally:
            await reader.stop()


async def _last_manifest(reader: Any, tp: TopicPartition, low: int, high: int) -> Manifest | None:
    """The last manifest between two offsets of a state partition."""
    reader.seek(tp, low)
    found = None
    position = low
    while position < high:
        batch = await reader.getmany(tp, timeout_ms=2000, max_records=500)
        records = batch.get(tp, [])
        if not records:
            break
        for record in records:
            if record.offset >= high:
                return found
            if record.key == MANIFEST_KEY:
                found = Manifest.from_bytes(record.value)
        position = records[-1].offset + 1
    return found
