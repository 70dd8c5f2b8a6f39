"""Where a worker's time goes per event: each pure stage timed alone on the same events."""

from __future__ import annotations

import time

from pipeline.engine import EngineConfig, PartitionEngine
from pipeline.ingest import decode_message, decode_points
from pipeline.normalize import points_from_event
from pipeline.point_batches import decode_batch, encode_batch, group_points


def stage_costs(events: list[bytes]) -> dict[str, float]:
    """Microseconds per event for decoding to points (validation included), routing, windowing."""
    n = len(events)
    now = time.time()
    t0 = time.perf_counter()
    decoded = [decode_points(raw, now) for raw in events]
    t1 = time.perf_counter()
    items = [(i, point) for i, d in enumerate(decoded) for points in d.points for point in points]
    t2 = time.perf_counter()
    encoded = [encode_batch(b) for b in group_points("bench", 0, items, 4).values()]
    t3 = time.perf_counter()
    batches = [decode_batch(raw) for raw in encoded]
    engine = PartitionEngine({}, EngineConfig())
    for offset, batch in enumerate(batches):
        engine.apply(offset, batch)
    engine.close_all()
    t4 = time.perf_counter()
    for raw in events:  # the full pydantic path the fast path stands in for, for the ratio
        for event in decode_message(raw, now).events:
            points_from_event(event)
    t5 = time.perf_counter()
    return {
        "pydantic_path_us": (t5 - t4) / n * 1e6,
        "decode_validate_normalize_us": (t1 - t0) / n * 1e6,
        "collect_us": (t2 - t1) / n * 1e6,
        "route_encode_us": (t3 - t2) / n * 1e6,
        "window_us": (t4 - t3) / n * 1e6,
    }
