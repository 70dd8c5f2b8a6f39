"""Where a worker's time goes per event: each pure stage timed alone on the same events."""

from __future__ import annotations

import gc
import time

from pipeline.ingest.decode import IngestLimits, decode_message, decode_points, decode_records
from pipeline.ingest.fast_columns import fast_columns
from pipeline.ingest.normalize import points_from_event
from pipeline.ingest.point_batches import SourceGroups, decode_batch, encode_batch
from pipeline.windows.engine import EngineConfig, PartitionEngine

POLL_MESSAGES = 25
"""Batch messages per ingest poll in the batched stage costs (a poll groups them)."""
POLL_RECORDS = 16_000
"""One-event messages per ingest poll under a backlog (``agents.streams.ingest.BATCH_MESSAGES``)."""


def _pydantic_path(events: list[bytes], now: float) -> list[list[object]]:
    return [points_from_event(e) for raw in events for e in decode_message(raw, now).events]


def _fast_path(events: list[bytes], now: float) -> list[object]:
    return [decode_points(raw, now) for raw in events]


def _timed(path: object, events: list[bytes], now: float) -> tuple[float, list[object]]:
    """Seconds for the second of two passes (caches warm), and its output (kept alive)."""
    assert callable(path)
    path(events, now)
    gc.collect()
    gc.disable()  # the pure cost: the worker tunes its collector (agents/runtime/app.py)
    try:
        t0 = time.perf_counter()
        out = path(events, now)
        return time.perf_counter() - t0, out
    finally:
        gc.enable()


def stage_costs(events: list[bytes]) -> dict[str, float]:
    """Microseconds per event of one event per message: decoding to points (validation
    included) as the worker does it (each poll of ``POLL_RECORDS`` messages scanned as one
    batch, ``decode_records``), grouping and encoding ``hub.points``, windowing.

    Also timed the same way (second pass, results kept), for their ratios: the same
    messages decoded one by one (``decode_points``, the worker's path before) and
    through the pydantic models."""
    n = len(events)
    now = time.time()
    pydantic_s, _ = _timed(_pydantic_path, events, now)
    alone_s, _ = _timed(_fast_path, events, now)
    polls = [(first, min(first + POLL_RECORDS, n)) for first in range(0, n, POLL_RECORDS)]
    bases = [i * 65536 for i in range(n)]  # each message's sub-offsets, as ingest numbers them

    def by_poll(events: list[bytes], now: float) -> list[object]:
        return [decode_records(events[lo:hi], bases[lo:hi], now) for lo, hi in polls]

    decode_s, decoded = _timed(by_poll, events, now)
    t1 = time.perf_counter()
    encoded = []
    for (lo, _), poll in zip(polls, decoded, strict=True):
        groups = SourceGroups()
        for columns in poll.columns:  # type: ignore[attr-defined]
            groups.add_columns(columns)
        for index, one in poll.rest:  # type: ignore[attr-defined]
            for position, points in enumerate(one.points):
                for point in points:
                    groups.add_point(bases[lo + index] + position, point)
        encoded += [encode_batch(b) for b in groups.route("bench", 0, 4).values()]
    t2 = time.perf_counter()
    batches = [decode_batch(raw) for raw in encoded]
    engine = PartitionEngine({}, EngineConfig())
    for offset, batch in enumerate(batches):
        engine.apply(offset, batch)
    engine.close_all()
    t3 = time.perf_counter()
    return {
        "pydantic_path_us": pydantic_s / n * 1e6,
        "message_by_message_us": alone_s / n * 1e6,
        "decode_validate_normalize_us": decode_s / n * 1e6,
        "group_route_encode_us": (t2 - t1) / n * 1e6,
        "window_us": (t3 - t2) / n * 1e6,
    }


def batched_stage_costs(events: list[bytes], batch: int) -> dict[str, float]:
    """Microseconds per event when events arrive as JSON arrays of ``batch``: the columnar
    decode (validation included), grouping and encoding ``hub.points`` per poll of
    ``POLL_MESSAGES`` messages, and windowing; the collector tuned as the worker's."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)  # as agents/runtime/app.py
    try:
        return _batched_stage_costs(events, batch)
    finally:
        gc.set_threshold(*before)


def _batched_stage_costs(events: list[bytes], batch: int) -> dict[str, float]:
    starts = range(0, len(events), batch)
    messages = [b"[" + b",".join(events[i : i + batch]) + b"]" for i in starts]
    n, now = len(events), time.time()

    def decode(messages: list[bytes], now: float) -> list[object]:
        return [decode_points(raw, now, None, i * 65536) for i, raw in enumerate(messages)]

    def msgspec_decode(messages: list[bytes], now: float) -> list[object]:
        bounds = (now, IngestLimits().max_future_skew_s, IngestLimits().max_past_age_s)
        return [fast_columns(raw, i * 65536, *bounds) for i, raw in enumerate(messages)]

    msgspec_s, _ = _timed(msgspec_decode, messages, now)
    decode_s, decoded = _timed(decode, messages, now)
    t1 = time.perf_counter()
    encoded = []
    for first in range(0, len(decoded), POLL_MESSAGES):
        groups = SourceGroups()
        for message in decoded[first : first + POLL_MESSAGES]:
            for columns in message.columns:  # type: ignore[attr-defined]
                groups.add_columns(columns)
        encoded += [encode_batch(b) for b in groups.route("bench", 0, 4).values()]
    t2 = time.perf_counter()
    batches = [decode_batch(raw) for raw in encoded]
    engine = PartitionEngine({}, EngineConfig())
    for offset, points in enumerate(batches):
        engine.apply(offset, points)
    engine.close_all()
    t3 = time.perf_counter()
    return {
        "columnar_decode_validate_us": decode_s / n * 1e6,
        "msgspec_columnar_decode_validate_us": msgspec_s / n * 1e6,
        "group_route_encode_us": (t2 - t1) / n * 1e6,
        "window_us": (t3 - t2) / n * 1e6,
    }


def variant_costs(per_variant: int = 3_000, seed: int = 0) -> dict[str, dict[str, float]]:
    """Microseconds per event of each payload variant, one event per message: decoded a
    poll at a time as the worker does (``decode_records``), and through the models. The
    simulator's events of the variant alone."""
    import warnings
    from datetime import UTC, datetime, timedelta

    from pipeline.sim.simulate import VARIANTS, EventSimulator

    sim = EventSimulator(seed=seed)
    start = datetime.now(UTC) - timedelta(minutes=30)
    out = {}
    with warnings.catch_warnings():  # the simulator builds some models unvalidated
        warnings.simplefilter("ignore")
        for variant in VARIANTS:
            events = [
                sim.make(variant, start + timedelta(milliseconds=i)).to_wire_bytes()
                for i in range(per_variant)
            ]
            bases = [i * 65536 for i in range(per_variant)]

            def polled(events: list[bytes], now: float) -> list[object]:
                return [decode_records(events, bases, now)]  # noqa: B023 (used at once)

            poll_s, decoded = _timed(polled, events, time.time())
            assert decoded[0].valid == per_variant  # type: ignore[attr-defined]
            models_s, _ = _timed(_pydantic_path, events, time.time())
            out[variant] = {
                "poll_us": poll_s / per_variant * 1e6,
                "models_us": models_s / per_variant * 1e6,
                "columns": decoded[0].column_events / per_variant,  # type: ignore[attr-defined]
            }
    return out
