"""The Redis side of the serving layer: idempotent writes with retention, and range reads.

Layout and retention: :mod:`pipeline.store.layout`. Each point is written by one Lua
script (set the window, index it, trim what fell out of the series' retention), so a
point and its trim are atomic and a replayed message rewrites the same field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

from pipeline.models.metrics import AggregatedMetric, TimeWindow
from pipeline.store.layout import (
    EVENT_RETENTION_MS,
    RETENTION_MS,
    StoreLayout,
    matches,
    series_id,
)

_WRITE_POINT = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local cutoff = tonumber(newest[2]) - tonumber(ARGV[3])
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. cutoff)
if #old > 0 then
  redis.call('HDEL', KEYS[1], unpack(old))
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. cutoff)
end
return #old
"""

_WRITE_EVENT = """
redis.call('SET', KEYS[2] .. ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local cutoff = tonumber(newest[2]) - tonumber(ARGV[4])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. cutoff)
for _, id in ipairs(old) do redis.call('DEL', KEYS[2] .. id) end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. cutoff) end
return #old
"""


@dataclass(frozen=True, slots=True)
class StoredPoint:
    window_start_ms: int
    values: dict[str, object]


def _ms(metric: AggregatedMetric) -> int:
    return int(metric.window_start.timestamp() * 1000)


class MetricStore:
    """One Redis connection pool; every method raises ``redis.ConnectionError`` when the
    server is away (the sink holds its offsets and retries)."""

    def __init__(self, url: str, prefix: str = "") -> None:
        self.layout = StoreLayout(prefix)
        self.redis = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._write_point = self.redis.register_script(_WRITE_POINT)
        self._write_event = self.redis.register_script(_WRITE_EVENT)
        self._known_series: set[tuple[str, str]] = set()

    async def close(self) -> None:
        await self.redis.aclose()

    async def write_metrics(self, metrics: Iterable[AggregatedMetric]) -> int:
        """Writes (or rewrites) each window; returns how many old points were trimmed."""
        layout = self.layout
        pipe = self.redis.pipeline(transaction=False)
        new_series = []
        for metric in metrics:
            sid = series_id(metric.name, metric.tags)
            if (metric.name, sid) not in self._known_series:
                pipe.hset(layout.series(metric.name), sid, orjson.dumps(metric.tags))
                pipe.sadd(layout.names(), metric.name)
                new_series.append((metric.name, sid))
            values = orjson.dumps(metric.values.to_wire_obj())
            await self._write_point(
                keys=[layout.points(metric.window, sid), layout.index(metric.window, sid)],
                args=[_ms(metric), values, RETENTION_MS[metric.window]],
                client=pipe,
            )
        results = await pipe.execute()
        self._known_series.update(new_series)
        return sum(r for r in results if isinstance(r, int) and not isinstance(r, bool))

    async def write_event(self, kind: str, event_id: str, at_ms: int, raw: bytes) -> None:
        """An anomaly or correlation message: the latest one of its id is kept."""
        await self._write_event(
            keys=[self.layout.events(kind), self.layout.event(kind, "")],
            args=[event_id, at_ms, raw, EVENT_RETENTION_MS],
        )

    async def series(self, name: str, tags: dict[str, str] | None = None) -> dict[str, dict]:
        """Series id -> tags of a metric name, filtered by tag equality."""
        raw = await self.redis.hgetall(self.layout.series(name))
        found = {sid.decode(): orjson.loads(value) for sid, value in raw.items()}
        return {sid: t for sid, t in found.items() if matches(t, tags or {})}

    async def points(
        self, window: TimeWindow, sid: str, start_ms: int, end_ms: int
    ) -> list[StoredPoint]:
        """The series' windows starting in [start_ms, end_ms), oldest first."""
        starts = await self.redis.zrangebyscore(
            self.layout.index(window, sid), start_ms, f"({end_ms}"
        )
        if not starts:
            return []
        values = await self.redis.hmget(self.layout.points(window, sid), starts)
        return [
            StoredPoint(int(start), orjson.loads(value))
            for start, value in zip(starts, values, strict=True)
            if value is not None
        ]

    async def events(self, kind: str, start_ms: int, end_ms: int) -> list[bytes]:
        ids = await self.redis.zrangebyscore(self.layout.events(kind), start_ms, f"({end_ms}")
        if not ids:
            return []
        prefix = self.layout.event(kind, "")
        values = await self.redis.mget([prefix + i.decode() for i in ids])
        return [v for v in values if v is not None]


@dataclass(frozen=True, slots=True)
class StoreStats:
    series: int
    points: int
    point_bytes: int
    """Bytes Redis reports (``MEMORY USAGE``) for the point hashes and their indexes."""
    anomalies: int
    correlations: int

    @property
    def bytes_per_point(self) -> float:
        return self.point_bytes / self.points if self.points else 0.0


async def clear_store(store: MetricStore) -> int:
    """Deletes every key under this store's prefix (``make demo`` starts from nothing)."""
    deleted = 0
    batch: list[bytes] = []
    async for key in store.redis.scan_iter(match=f"{store.layout.prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += await store.redis.delete(*batch)
            batch = []
    if batch:
        deleted += await store.redis.delete(*batch)
    return deleted


async def store_stats(store: MetricStore) -> StoreStats:
    """Counts and memory of what the sink stored under this prefix (scans its keys)."""
    r, layout = store.redis, store.layout
    series = points = point_bytes = 0
    async for key in r.scan_iter(match=f"{layout.prefix}pts:*", count=1000):
        series += 1
        points += await r.hlen(key)
        index = layout.prefix + "idx:" + key.decode()[len(layout.prefix) + 4 :]
        for name in (key, index):
            point_bytes += await r.memory_usage(name, samples=0) or 0
    return StoreStats(
        series=series,
        points=points,
        point_bytes=point_bytes,
        anomalies=await r.zcard(layout.events("anomalies")),
        correlations=await r.zcard(layout.events("correlations")),
    )
