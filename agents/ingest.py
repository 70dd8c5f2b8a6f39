"""Ingest agent: validate every message of the module topics, dead-letter the bad ones,
and forward valid events as time-series points, re-keyed by series, to ``hub.points``.

A timer sends progress heartbeats: for every input partition read to its end, the
wall-clock time it was caught up, to every ``hub.points`` partition (watermarks).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from agents.app import app, catalogue, settings
from agents.counters import COUNTERS
from agents.dead_letter import send_rejections
from agents.ordering import admit
from pipeline.cardinality import CardinalityGuard
from pipeline.ingest import IngestLimits, decode_message
from pipeline.normalize import Point, points_from_event
from pipeline.point_batches import Heartbeat, encode_batch, encode_heartbeat, group_points
from pipeline.progress import HandledOffsets

log = logging.getLogger(__name__)

LIMITS = IngestLimits(
    max_message_bytes=settings.max_message_bytes,
    max_future_skew_s=settings.max_future_skew_s,
    max_past_age_s=settings.max_past_age_s,
)
POINTS_SPEC = catalogue.one("internal")
GUARD = CardinalityGuard(settings.max_tag_values)
INPUT_TOPICS = frozenset(spec.name for spec in catalogue.by_role("input"))
HANDLED = HandledOffsets()

input_topic = app.topic(
    *(spec.name for spec in catalogue.by_role("input")),
    key_serializer="raw",
    value_serializer="raw",
)
points_topic = app.topic(
    POINTS_SPEC.name,
    key_serializer="raw",
    value_serializer="raw",
    partitions=POINTS_SPEC.partitions,
)
dead_letter_topic = app.topic(
    catalogue.one("dead-letter").name, key_serializer="raw", value_serializer="raw"
)


BATCH_EVENTS = 2000
"""Messages per ``hub.points`` flush: fewer, larger internal messages."""
BATCH_WAIT_S = 0.2
"""A partial batch waits at most this long (the timer below flushes it)."""

_batch: list[Any] = []
_batch_since = 0.0
_flush_lock = asyncio.Lock()


@app.agent(input_topic)
async def ingest(stream):  # type: ignore[no-untyped-def]
    """Admit messages in offset order into a batch; ack them only once their points are
    on the broker. (faust's ``take_events`` acks every message it buffered, including
    one we must not count yet, so batching is done here.)"""
    global _batch_since
    async for event in stream.noack().events():
        message = event.message
        if not _owned(message.tp) or not await admit(message.tp, message.offset):
            continue  # never acked: delivered again after a seek, or by the new owner
        if not _batch:
            _batch_since = time.monotonic()
        _batch.append(event)
        if len(_batch) >= BATCH_EVENTS:
            await _flush()


@app.timer(interval=BATCH_WAIT_S / 2)
async def flush_partial_batch() -> None:
    if _batch and time.monotonic() - _batch_since >= BATCH_WAIT_S:
        await _flush()


def _owned(tp: Any) -> bool:
    return tp in app.consumer.assignment()


async def _flush() -> None:
    async with _flush_lock:
        events = _batch[:]
        _batch.clear()
        if events:
            await _forward(events)


async def _forward(events: list[Any]) -> None:
    """Validate, dead-letter, normalise and route one batch; then ack it, in order."""
    now = time.time()
    by_source: dict[tuple[str, int], list[tuple[int, Point]]] = defaultdict(list)
    for event in events:
        message = event.message
        decoded = decode_message(message.value or b"", now, LIMITS)
        COUNTERS.consumed += decoded.consumed
        COUNTERS.processed += len(decoded.events)
        COUNTERS.dead_lettered += len(decoded.rejections)
        if decoded.rejections:
            await send_rejections(
                dead_letter_topic,
                decoded.rejections,
                message.key,
                message.topic,
                message.partition,
                message.offset,
            )
        items = by_source[(message.topic, message.partition)]
        for index, valid in enumerate(decoded.events):
            # A batch message holds many events: give each its own sub-offset.
            offset = message.offset * 65536 + index
            items.extend((offset, GUARD.apply(p)) for p in points_from_event(valid))
    pending = []
    for (topic, partition), items in by_source.items():
        COUNTERS.points += len(items)
        routed = group_points(topic, partition, items, POINTS_SPEC.partitions)
        for dest, batch in routed.items():
            pending.append(await points_topic.send(value=encode_batch(batch), partition=dest))
    # At-least-once: input offsets are acked only after the points are on the broker.
    for future in pending:
        await future
    for event in events:
        message = event.message
        HANDLED.handled(f"{message.topic}|{message.partition}", message.offset)
        event.ack()


@app.timer(interval=settings.heartbeat_interval_s)
async def send_heartbeats() -> None:
    """Tell every ``hub.points`` partition which input partitions are read to their end.

    The time is taken before the end offsets are read, so the claim "nothing appended
    before this moment is pending" holds; the heartbeat is sent after the points of
    every handled message, so it never overtakes them.
    """
    tps = [tp for tp in app.consumer.assignment() if tp.topic in INPUT_TOPICS]
    if not tps:
        return
    moment = time.time()
    ends = await app.consumer.highwaters(*tps)
    # faust keeps the group's committed offsets here after each assignment (no public getter)
    committed = getattr(app.consumer, "_committed_offset", {})
    caught_up = HANDLED.caught_up(
        {f"{tp.topic}|{tp.partition}": end for tp, end in ends.items()},
        {f"{tp.topic}|{tp.partition}": committed.get(tp) for tp in tps},
    )
    if not caught_up:
        return
    raw = encode_heartbeat(Heartbeat(dict.fromkeys(caught_up, moment)))
    for dest in range(POINTS_SPEC.partitions):
        await points_topic.send(value=raw, partition=dest)
