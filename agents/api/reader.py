"""Batched reads of the sink's layout: two pipelined round trips for any number of series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from agents.runtime.store import MetricStore
from pipeline.models.metrics import TimeWindow


@dataclass(slots=True)
class SeriesRead:
    points: dict[str, list[tuple[int, dict[str, object]]]]
    """Series id -> (window start ms, values), oldest first."""
    bytes_read: int


async def read_points(
    store: MetricStore, window: TimeWindow, sids: Sequence[str], start_ms: int, end_ms: int
) -> SeriesRead:
    """The windows of each series starting in ``[start_ms, end_ms)``."""
    layout = store.layout
    pipe = store.redis.pipeline(transaction=False)
    for sid in sids:
        pipe.zrangebyscore(layout.index(window, sid), start_ms, f"({end_ms}")
    starts_per_series = await pipe.execute() if sids else []
    pipe = store.redis.pipeline(transaction=False)
    wanted = [(sid, starts) for sid, starts in zip(sids, starts_per_series, strict=True) if starts]
    for sid, starts in wanted:
        pipe.hmget(layout.points(window, sid), starts)
    values_per_series = await pipe.execute() if wanted else []
    out: dict[str, list[tuple[int, dict[str, object]]]] = {sid: [] for sid in sids}
    total = 0
    for (sid, starts), values in zip(wanted, values_per_series, strict=True):
        rows = out[sid]
        for start, raw in zip(starts, values, strict=True):
            if raw is None:  # trimmed between the two round trips
                continue
            total += len(raw)
            rows.append((int(start), orjson.loads(raw)))
    return SeriesRead(out, total)
