"""Ingest: validate every message of the module topics, dead-letter the bad ones, and
forward valid events as time-series points, re-keyed by series, to ``hub.points``;
and tell every ``hub.points`` partition which input partitions are read to their end.

Ingest reads with a plain aiokafka consumer in its own consumer group
(``<app id>-ingest``) rather than a Faust agent: Faust's per-message machinery costs
more than all of our work on an event (docs/BENCHMARKS.md), and its delivery quirks
(repeated and dropped messages, docs/KNOWN_ISSUES.md) need workarounds a plain
consumer does not. Each polled batch is forwarded, its points and dead letters are
acknowledged by the broker, and only then are its offsets committed: at-least-once,
with duplicates removed downstream by source offset.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from agents.runtime.app import app, catalogue, settings
from agents.runtime.committed_consumer import read_to_end, run_committed
from agents.runtime.counters import COUNTERS
from agents.runtime.dead_letter import send_rejections
from agents.runtime.kafka_clients import admin
from agents.runtime.log_markers import FIRST_INPUT_LOG
from agents.runtime.processes import BARRIER_ENV, sibling_count, wait_for_group, wait_for_peers
from agents.streams.tag_admission import TagAdmission
from pipeline.ingest.cardinality import OTHER
from pipeline.ingest.decode import EVENTS_PER_MESSAGE, DecodedRecords, IngestLimits, decode_records
from pipeline.ingest.normalize import Point
from pipeline.ingest.point_batches import (
    Heartbeat,
    SeriesColumns,
    SourceGroups,
    encode_batch,
    encode_heartbeat,
)

log = logging.getLogger(__name__)

LIMITS = IngestLimits(
    max_message_bytes=settings.max_message_bytes,
    max_future_skew_s=settings.max_future_skew_s,
    max_past_age_s=settings.max_past_age_s,
)
POINTS_SPEC = catalogue.one("internal")
TAG_VALUES = catalogue.one("tag-values")
ADMISSION = TagAdmission(settings, TAG_VALUES.name, TAG_VALUES.partitions, settings.max_tag_values)
"""Which tag values are kept (``HUB_MAX_TAG_VALUES`` per key): one log for every process."""
INPUT_TOPICS = tuple(spec.name for spec in catalogue.by_role("input"))
INGEST_GROUP = f"{settings.app_id}-ingest"
BATCH_MESSAGES = 16_000
"""Messages per poll at most, forwarded as one set of ``hub.points`` messages. Under a
backlog of one-event messages a poll of 2,000 gave 68,000 events/s and one of 16,000
120,000 (`hub bench`, docs/BENCHMARKS.md): each poll costs every ``hub.points``
partition a message, a state write and a commit. Live traffic is not held back: a poll
returns what has arrived."""
POLL_MS = 200
"""A poll returns after this long even with fewer messages."""
MIN_BATCH_INTERVAL_S = 0.05
"""Under light traffic, forward at most 20 batches a second: every batch costs each
``hub.points`` partition a message, a state write and a commit, whatever its size."""

points_topic = app.topic(
    POINTS_SPEC.name,
    key_serializer="raw",
    value_serializer="raw",
    partitions=POINTS_SPEC.partitions,
)
dead_letter_topic = app.topic(
    catalogue.one("dead-letter").name, key_serializer="raw", value_serializer="raw"
)


@app.task
async def run_ingest() -> None:
    """Poll, forward, commit; a heartbeat every ``HUB_HEARTBEAT_INTERVAL_S``."""
    siblings = sibling_count()
    if siblings > 1:
        # aggregators first, then every sibling's ingest consumer joins at once: input is
        # read once the partitions are split (a busy member is slow to rejoin a rebalance)
        if not await wait_for_group(admin(settings), settings.app_id, siblings):
            log.warning("ingest: %d sibling processes not all in the group after 60 s", siblings)
        spec = os.environ[BARRIER_ENV]
        if not await asyncio.to_thread(wait_for_peers, spec, 60.0, "ingest"):
            log.warning("ingest: sibling processes' ingest did not start within 60 s")
    await ADMISSION.start()
    await run_committed(
        "ingest",
        INPUT_TOPICS,
        INGEST_GROUP,
        _forward,
        max_records=BATCH_MESSAGES,
        poll_ms=POLL_MS,
        tick=(settings.heartbeat_interval_s, _heartbeat),
        min_interval_s=MIN_BATCH_INTERVAL_S,
        max_partition_fetch_bytes=2 * settings.max_message_bytes + 65536,
    )


_first_logged = False


async def _forward(records: list[Any]) -> None:
    """Validate, dead-letter, normalise and route one poll's messages; wait for the broker.

    Each source partition's messages are decoded together (``decode_records``): the
    usual one-event messages go through the compiled scanner as one batch."""
    global _first_logged
    now = time.time()
    if records and not _first_logged:
        _first_logged = True
        log.info(FIRST_INPUT_LOG, now)
    by_source: dict[tuple[str, int], list[Any]] = {}
    for record in records:
        by_source.setdefault((record.topic, record.partition), []).append(record)
    decoded_sources = []
    for (topic, partition), polled in by_source.items():
        bases = [record.offset * EVENTS_PER_MESSAGE for record in polled]  # sub-offsets
        decoded = decode_records([r.value or b"" for r in polled], bases, now, LIMITS)
        COUNTERS.consumed += decoded.consumed
        COUNTERS.processed += decoded.valid
        COUNTERS.dead_lettered += decoded.rejected
        for index, one in decoded.rest:
            if one.rejections:
                record = polled[index]
                await send_rejections(
                    dead_letter_topic, one.rejections, record.key, topic, partition, record.offset
                )
        decoded_sources.append((topic, partition, bases, decoded))
    await _admit_new_tag_values([d for *_, d in decoded_sources])
    admit = ADMISSION.log.admit
    pending = []
    for topic, partition, bases, decoded in decoded_sources:
        groups = SourceGroups()
        groups.cover(bases[0], bases[-1] + EVENTS_PER_MESSAGE - 1)  # a poll's are contiguous
        for columns in _all_columns(decoded):
            COUNTERS.points += len(columns.offsets)
            columns.tags = admit(columns.tags)
            groups.add_columns(columns)
        for index, one in decoded.rest:
            for position, points in enumerate(one.points):
                COUNTERS.points += len(points)
                for point in points:
                    tags = admit(point.tags)
                    if tags is not point.tags:
                        point = Point(point.measurement, point.timestamp, tags, point.fields)
                    groups.add_point(bases[index] + position, point)
        routed = groups.route(topic, partition, POINTS_SPEC.partitions)
        for dest, batch in routed.items():
            pending.append(await points_topic.send(value=encode_batch(batch), partition=dest))
    for future in pending:
        await future


def _all_columns(decoded: DecodedRecords) -> list[SeriesColumns]:
    """The series groups of the scanned messages and of the batch messages."""
    return decoded.columns + [c for _, one in decoded.rest for c in one.columns]


async def _admit_new_tag_values(decoded_sources: list[DecodedRecords]) -> None:
    """Tag values the shared log has not decided yet: propose them and wait for the log."""
    log_ = ADMISSION.log
    tag_sets = [c.tags for d in decoded_sources for c in _all_columns(d)]
    for decoded in decoded_sources:
        for _, one in decoded.rest:
            tag_sets += [point.tags for points in one.points for point in points]
    undecided = log_.undecided(tag_sets)
    if undecided:
        await ADMISSION.decide(undecided)
        for key in sorted({key for key, _ in undecided} & log_.full):
            if not log_.folded[key]:
                log.warning("tag %r reached %d distinct values; further values are folded into "
                            "%r (raise HUB_MAX_TAG_VALUES if this is expected)",
                            key, settings.max_tag_values, OTHER)  # fmt: skip


async def _heartbeat(consumer: Any) -> None:
    """Tell every ``hub.points`` partition which input partitions are read to their end.

    The time is taken before the end offsets are read, so the claim "nothing appended
    before this moment is pending" holds; every message before the consumer's position
    was forwarded and acknowledged above, so the heartbeat never overtakes its points.
    """
    moment = time.time()
    sources, _ = await read_to_end(consumer)
    if not sources:
        return
    raw = encode_heartbeat(Heartbeat(dict.fromkeys(sources, moment)))
    for dest in range(POINTS_SPEC.partitions):
        await points_topic.send(value=raw, partition=dest)
