"""Aggregate agent: all eight tumbling windows per ``hub.points`` partition.

Kafka wiring around :class:`pipeline.windows.engine.PartitionEngine`: messages are acked
only when every window they fed is closed, published and persisted (manual acks),
durable state lives in a RocksDB-backed Faust table with a changelog topic.
Watermarks advance with the data and with ingest's progress heartbeats, which
travel through ``hub.points`` itself, so windows close inside the stream (where
table writes are allowed) and in order with the data.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from agents.runtime.app import app, catalogue, settings
from agents.runtime.batch_send import PartitionBatches
from agents.runtime.counters import COUNTERS
from agents.runtime.key_partitions import KeyPartitions
from agents.runtime.ordering import admit
from agents.streams.ingest import POINTS_SPEC, points_topic
from pipeline.detection.stage import family_key
from pipeline.ingest.normalize import GAUGE_FIELDS
from pipeline.ingest.point_batches import Heartbeat, decode_points_message
from pipeline.windows.aggregates import WINDOW_BY_SECONDS, metric_name, parse_windows
from pipeline.windows.engine import EngineConfig, PartitionEngine, StepOutput
from pipeline.windows.histograms import HISTOGRAM_BOUNDS
from pipeline.wire.result_wire import histogram_wire, metric_wire
from pipeline.wire.topics import KIND_HEADER, SOURCE_HEADER, WINDOW_HEADER

log = logging.getLogger(__name__)

CONFIG = EngineConfig(
    allowed_lateness_s=settings.allowed_lateness_s,
    grace_s=settings.window_grace_s,
    gauge_fields=GAUGE_FIELDS,
    histogram_bounds=HISTOGRAM_BOUNDS,
)
PUBLISHED = {w.seconds for w in parse_windows(settings.windows)}
metric_topics = {
    window.seconds: (spec.name, spec.partitions)
    for window in parse_windows("1m,5m,15m,1h,6h,1d,1w,30d")
    for spec in [catalogue.metrics_topic(window.value)]
}
"""Window size -> (metric topic, its partitions)."""
histogram_topics = {
    window.seconds: (spec.name, spec.partitions)
    for window in parse_windows("1m,5m,15m,1h,6h,1d,1w,30d")
    for spec in [catalogue.histograms_topic(window.value)]
}
PARTITION_OF = KeyPartitions()
"""Keyed sends name their partition: Kafka's default choice for the declared partition count
(topics.yaml; `hub topics` creates them so), computed once per key."""
DETECT_TOPIC = catalogue.one("detect")
DETECTED = {w.seconds for w in parse_windows(settings.detect_windows)}
"""Window sizes whose results also go to the detection topic, keyed by family."""
_marked: dict[int, float] = {}
"""Aggregation partition -> the last mark it sent the detection partitions."""
late_topic = app.topic(catalogue.one("late").name, key_serializer="raw", value_serializer="raw")
state_table = app.Table(
    "window-state",
    partitions=POINTS_SPEC.partitions,
    key_type=bytes,
    value_type=bytes,
)

SOURCES = tuple(
    f"{spec.name}|{p}" for spec in catalogue.by_role("input") for p in range(spec.partitions)
)
engines: dict[int, PartitionEngine] = {}
held: dict[int, dict[int, Any]] = {}  # partition -> offset -> unacked event, in offset order
ready: dict[int, set[int]] = {}  # partition -> offsets the engine allows to ack


class PartitionStore(MutableMapping[str, bytes]):
    """The engine's key-value view of one partition's share of the Faust table."""

    def __init__(self, partition: int) -> None:
        self.prefix = f"{partition}|"

    def _key(self, key: str) -> bytes:
        return (self.prefix + key).encode()

    def __getitem__(self, key: str) -> bytes:
        value = state_table.get(self._key(key))
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: bytes) -> None:
        state_table[self._key(key)] = value

    def __delitem__(self, key: str) -> None:
        state_table.pop(self._key(key), None)

    def __iter__(self) -> Iterator[str]:
        prefix = self.prefix.encode()
        for key in list(state_table.keys()):
            if key.startswith(prefix):
                yield key[len(prefix) :].decode()

    def __len__(self) -> int:
        return sum(1 for _ in self)


async def _publish(out: StepOutput, partition: int, closed_through: float) -> None:
    """Send every published result; return once the broker has them all.

    Sends go to the producer directly, as record batches per topic and partition
    (``agents.runtime.batch_send``): a Faust ``Topic.send`` costs several times more per
    message than a plain send, and a plain send several times more than a batch's
    append, and a window close publishes three to four messages per series and field.
    """
    batches = PartitionBatches(app.producer._ensure_producer())
    source = [(SOURCE_HEADER, str(partition).encode())]
    with_buckets = []
    detect, detect_partitions = DETECT_TOPIC.name, DETECT_TOPIC.partitions
    for result in out.results:  # the metrics first: they are what most consumers wait for
        if result.size_s not in PUBLISHED:
            continue
        name, tags = metric_name(result.measurement, result.field), dict(result.tags)
        key = result.series_id.encode()
        topic, partitions = metric_topics[result.size_s]
        wire = metric_wire(result)
        batches.add(topic, PARTITION_OF(key, partitions), key, wire, source)
        family = b""
        if result.size_s in DETECTED:
            family = family_key(name, WINDOW_BY_SECONDS[result.size_s].value, tags)
            batches.add(detect, PARTITION_OF(family, detect_partitions), family, wire, source)
        if result.sketch.complete_buckets is not None:
            with_buckets.append((result, name, tags, key, family))
    for result, name, tags, key, family in with_buckets:
        topic, partitions = histogram_topics[result.size_s]
        wire = histogram_wire(result, name, tags)
        batches.add(topic, PARTITION_OF(key, partitions), key, wire)
        if result.size_s in DETECTED:
            headers = [*source, (KIND_HEADER, b"histogram"),
                       (WINDOW_HEADER, str(result.size_s).encode())]  # fmt: skip
            batches.add(detect, PARTITION_OF(family, detect_partitions), family, wire, headers)
    futures = await batches.send()
    for late in out.late:
        futures.append(
            await late_topic.send(
                key=late.series_id.encode(),
                value=orjson.dumps(
                    {
                        "reason": "late",
                        "measurement": late.measurement,
                        "tags": dict(late.tags),
                        "timestamp": late.timestamp,
                        "fields": late.fields,
                        "watermark": late.watermark,
                        "source": late.source,
                        "source_offset": late.source_offset,
                    }
                ),
            )
        )
    if futures:
        await asyncio.gather(*futures)
    await _mark(partition, closed_through)
    if out.results:
        now = time.time()
        ends = {result.end for result in out.results}
        COUNTERS.close_delays_s.extend(now - end for end in ends)
    COUNTERS.windows_published += len(out.results)
    COUNTERS.late_points += len(out.late)
    COUNTERS.duplicate_batches_skipped += out.duplicate_events


async def _mark(partition: int, closed_through: float) -> None:
    """Tell every detection partition that this partition has published its windows
    ending by ``closed_through`` (after the results themselves: same producer, so each
    detection partition reads them first). Sent as the watermark crosses a minute."""
    if not math.isfinite(closed_through):
        return
    minute = math.floor(closed_through / 60.0) * 60.0
    if minute <= _marked.get(partition, -math.inf):
        return
    _marked[partition] = minute
    value = orjson.dumps(minute)
    headers = [(SOURCE_HEADER, str(partition).encode()), (KIND_HEADER, b"mark")]
    futures = [
        await app.producer.send(DETECT_TOPIC.name, None, value, target, None, headers)
        for target in range(DETECT_TOPIC.partitions)
    ]
    await asyncio.gather(*futures)


@app.agent(points_topic)
async def aggregate(stream):  # type: ignore[no-untyped-def]
    async for event in stream.noack().events():
        message = event.message
        partition, offset = message.partition, message.offset
        if not _owned(partition):
            # fetched before a rebalance took the partition away: its new owner has it
            COUNTERS.stale_skipped += 1
            continue
        if not await admit(message.tp, offset):
            continue  # a repeat, or past a gap faust left: read again after seeking back
        engine = engines.get(partition)
        store = PartitionStore(partition)
        if engine is None:
            engine = engines[partition] = PartitionEngine(store, CONFIG, SOURCES)
            held[partition] = {}
            log.info(
                "partition %d: restored watermark %s, %d roll-ups",
                partition,
                engine.watermark,
                engine.rollup_count,
            )
        held[partition][offset] = event
        decoded = decode_points_message(message.value)
        if isinstance(decoded, Heartbeat):
            out = engine.heartbeat(offset, decoded.progress)
        else:
            out = engine.apply(offset, decoded)
        # Publish first, then persist, then ack: a crash can repeat a result, never lose one.
        await _publish(out, partition, engine.watermark - CONFIG.grace_s)
        if engines.get(partition) is not engine:
            # Revoked while publishing: the new owner redoes this message from the
            # changelog and the unacked input; writing now would corrupt its state.
            continue
        for key, value in out.writes:
            if value is None:
                del store[key]
            else:
                store[key] = value
        if out.ackable:
            _acks.schedule(partition, out.ackable)


def _owned(partition: int) -> bool:
    return (POINTS_SPEC.name, partition) in app.consumer.assignment()


class _Acks:
    """Acks run beside the agent, one at a time per partition: an ack that must first
    flush the changelog (~0.1 s) no longer holds up the next partition's window close
    (every partition closes the same minute at once, one after another)."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, partition: int, ackable: list[int]) -> None:
        lock = self._locks.setdefault(partition, asyncio.Lock())
        task = asyncio.ensure_future(self._run(lock, partition, list(ackable)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(lock: asyncio.Lock, partition: int, ackable: list[int]) -> None:
        try:
            async with lock:
                await _ack_in_order(partition, ackable)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # beside the agent, a failure must still stop the worker
            log.exception("aggregation: acking partition %d failed; stopping the worker", partition)
            await app.crash(exc)


_acks = _Acks()


async def _ack_in_order(partition: int, ackable: list[int]) -> None:
    """Ack only a contiguous prefix of held offsets.

    faust-streaming commits the first run of consecutive acked offsets even when it
    does not start at the committed offset (while none is committed yet), so an
    early ack of a later message would commit past unacked ones and lose them in a
    crash. Acking strictly in order keeps the committed offset honest.
    """
    pending = held.get(partition)
    if pending is None:
        return
    done = ready.setdefault(partition, set())
    done.update(ackable)
    prefix = []
    for offset in pending:
        if offset not in done:
            break
        prefix.append(offset)
    if not prefix:
        return
    if len(prefix) > 1 or ackable != prefix:
        # The changelog must hold the state writes before input offsets may be
        # committed; otherwise a new owner could restore older state than it resumes from.
        await app.producer.flush()
        if held.get(partition) is not pending:
            return  # revoked meanwhile: the new owner resumes from the committed offset
    for offset in prefix:
        done.discard(offset)
        pending.pop(offset).ack()


@app.on_partitions_revoked.connect
async def _drop_revoked(app: Any, revoked: Any, **kwargs: Any) -> None:
    """A revoked partition's open windows are rebuilt by its next owner from unacked input."""
    for tp in revoked:
        if tp.topic == POINTS_SPEC.name:
            engines.pop(tp.partition, None)
            held.pop(tp.partition, None)
            ready.pop(tp.partition, None)


@app.timer(interval=5.0)
async def log_counters() -> None:
    log.info("hub counters %s", COUNTERS.snapshot())
    for partition, engine in sorted(engines.items()):
        log.info(
            "partition %d: watermark %s, last offset %d, %d open windows, %d unacked",
            partition,
            engine.watermark,
            engine.last_offset,
            engine.open_window_count,
            len(held.get(partition, {})),
        )
