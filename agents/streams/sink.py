"""`hub sink`: closed-window metrics, anomalies and correlations from Kafka into Redis.

A plain consumer (group ``<app id>-sink``) of every metrics topic, the anomalies and
the correlations topic. Offsets are committed only after Redis has the batch, and
every write is idempotent (:mod:`agents.runtime.store`), so a crash or a replay rewrites the
same points. When Redis is away the sink seeks back to the batch it could not write,
says so once, and retries every second: the pipeline upstream never waits for it,
and nothing is lost, because Kafka keeps the messages until the sink catches up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import redis

from agents.runtime import kafka_clients
from agents.runtime.settings import Settings
from agents.runtime.store import MetricStore
from pipeline.models.metrics import AggregatedMetric
from pipeline.store.enrichment import KINDS, metadata_record
from pipeline.wire.topics import Catalogue

log = logging.getLogger(__name__)

RETRY_S = 1.0
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError)


@dataclass(slots=True)
class SinkCounts:
    metrics: int = 0
    anomalies: int = 0
    correlations: int = 0
    metadata: int = 0
    """Asset and policy records (and deletions) from the compacted metadata topics."""
    unreadable: int = 0
    trimmed: int = 0
    retries: int = 0


def sink_topics(catalogue: Catalogue) -> dict[str, str]:
    """Topic name -> what it carries (``metrics``, ``anomalies``, ``correlations``,
    ``assets``, ``policies``)."""
    topics = {t.name: "metrics" for t in catalogue.by_role("metrics")}
    topics[catalogue.one("anomalies").name] = "anomalies"
    topics[catalogue.one("correlations").name] = "correlations"
    for kind in KINDS:  # the registry's assets and the policy engine's policies
        for topic in catalogue.by_role(kind):
            topics[topic.name] = kind
    return topics


def _header(record: Any, name: str) -> bytes:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value)
    return b""


async def write_records(
    store: MetricStore, kinds: dict[str, str], records: list[Any], counts: SinkCounts
) -> None:
    """One poll's records into Redis; unreadable messages are counted and skipped."""
    metrics: list[AggregatedMetric] = []
    for record in records:
        kind = kinds[record.topic]
        try:
            if kind == "metrics":
                metrics.append(AggregatedMetric.from_wire(record.value))
                continue
            if kind in KINDS:
                object_id, stored = metadata_record(kind, record.key, record.value)
                key = store.layout.metadata(kind)
                if stored is None:
                    await store.redis.hdel(key, object_id)
                else:
                    await store.redis.hset(key, object_id, stored)
                counts.metadata += 1
                continue
            body = orjson.loads(record.value)
            if kind == "anomalies":
                event_id, at = body["event_id"], body["timestamp"]
                episode = _header(record, "hub.episode") or b"started"
                window = _header(record, "hub.window")
                value = (b'{"episode":"' + episode + b'","window":"' + window
                         + b'","anomaly":' + record.value + b"}")  # fmt: skip
            else:
                event_id, at = body["correlation_id"], body["detected_at"]
                value = record.value
            await store.write_event(kind, str(event_id), _ms(at), value)
            setattr(counts, kind, getattr(counts, kind) + 1)
        except (ValueError, KeyError, TypeError) as exc:
            counts.unreadable += 1
            log.warning("sink: unreadable %s message at %s[%s]@%s: %s",
                        kind, record.topic, record.partition, record.offset, exc)  # fmt: skip
    if metrics:
        counts.trimmed += await store.write_metrics(metrics)
        counts.metrics += len(metrics)


def _ms(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


async def run_sink(
    settings: Settings,
    catalogue: Catalogue,
    stop: asyncio.Event | None = None,
    report_every_s: float = 10.0,
) -> SinkCounts:
    kinds = sink_topics(catalogue)
    consumer = kafka_clients.consumer(
        settings,
        *kinds,
        group_id=f"{settings.app_id}-sink",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    store = MetricStore(settings.redis_url, settings.topic_prefix)
    counts = SinkCounts()
    await consumer.start()
    down_since: float | None = None
    next_report = time.monotonic() + report_every_s
    print(f"sink: {len(kinds)} topics -> Redis at {settings.redis_url}", flush=True)
    try:
        while stop is None or not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            records = [record for part in batches.values() for record in part]
            if records:
                try:
                    await write_records(store, kinds, records, counts)
                except REDIS_DOWN as exc:
                    if down_since is None:
                        down_since = time.monotonic()
                        print(
                            f"sink: Redis at {settings.redis_url} is unreachable ({exc}); "
                            f"holding offsets, retrying every {RETRY_S:g} s",
                            flush=True,
                        )
                    counts.retries += 1
                    for tp, part in batches.items():
                        consumer.seek(tp, part[0].offset)
                    await asyncio.sleep(RETRY_S)
                    continue
                if down_since is not None:
                    print(f"sink: Redis is back after {time.monotonic() - down_since:.0f} s; "
                          "catching up from Kafka", flush=True)  # fmt: skip
                    down_since = None
                await consumer.commit({tp: part[-1].offset + 1 for tp, part in batches.items()})
            if time.monotonic() >= next_report:
                next_report += report_every_s
                print(f"sink: {counts.metrics} metrics, {counts.anomalies} anomalies, "
                      f"{counts.correlations} correlations stored; {counts.trimmed} trimmed, "
                      f"{counts.unreadable} unreadable", flush=True)  # fmt: skip
    finally:
        await consumer.stop()
        await store.close()
    return counts
