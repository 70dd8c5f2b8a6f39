"""The per-event fast path: msgspec decodes events of every payload type straight to points.

Full pydantic validation costs ~30 µs per event, more than everything else the hub
does to it (docs/BENCHMARKS.md). The pydantic models in ``pipeline.models.events``
stay the one definition of a valid event; this module is an accelerator that must
agree with them. It handles only what it can decide exactly: events of every payload
variant (``pipeline.ingest.event_structs``) without escapes, repeated or unknown keys.
Anything else, and anything it finds wrong, returns ``None`` and the caller takes the
pydantic path, which accepts or rejects with the precise message. So the fast path may
decline a valid event, but must never accept one the models reject or yield different
points; ``tests/unit/ingest/test_fast_decode.py``
checks that differentially on generated and mutated events.
"""

from __future__ import annotations

import re
from datetime import datetime

import msgspec

from pipeline.ingest.event_structs import (
    MANY,
    ONE,
    VARIANT_NAME,
    EventStruct,
    settle,
    total_keys,
)
from pipeline.ingest.normalize import Point, points_from_parts

# Stricter than the models on purpose (the canonical forms only); others fall back.
UUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
TIMESTAMP_PATTERN = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-][01]\d:[0-5]\d)"
)
SCHEMA_VERSION_PATTERN = re.compile(r"1\.[0-9]+\.[0-9]+")
_SPACED_KEY_END = re.compile(rb'"\s+:')
_JSON_WHITESPACE = (b" ", b"\n", b"\t", b"\r")


def has_spaced_key(raw: bytes) -> bool:
    """Whitespace between a key and its colon (which the key count below cannot see).

    Compact JSON has no whitespace at all, which one memchr per character finds out;
    only otherwise is the (slower) regex run. Other control characters cannot stand
    there: JSON forbids them outside strings, and raw inside them.
    """
    return any(c in raw for c in _JSON_WHITESPACE) and bool(_SPACED_KEY_END.search(raw))


def _points(event: EventStruct, now: float, future_s: float, past_s: float) -> list[Point] | None:
    """The event's points, or None when anything needs the full path to judge."""
    for value in (event.event_id, event.correlation_id, event.parent_event_id):
        if isinstance(value, str) and UUID_PATTERN.fullmatch(value) is None:
            return None
    version = event.schema_version
    if isinstance(version, str) and SCHEMA_VERSION_PATTERN.fullmatch(version) is None:
        return None
    if TIMESTAMP_PATTERN.fullmatch(event.timestamp) is None:
        return None
    try:
        ts = datetime.fromisoformat(event.timestamp).timestamp()
    except ValueError:
        return None
    if ts > now + future_s or ts < now - past_s:
        return None
    data = event.payload.data
    return points_from_parts(
        ts,
        event.source_module,
        event.environment,
        event.event_type,
        event.severity,
        VARIANT_NAME[type(data)],
        event.tags if isinstance(event.tags, dict) else {},
        data,
    )


def fast_points(raw: bytes, now: float, future_s: float, past_s: float) -> list[list[Point]] | None:
    """Points per event of one message (an event or an array), or None to take the full path.

    ``now``, ``future_s`` and ``past_s`` bound plausible timestamps as the full path does.
    """
    if b"\\" in raw or has_spaced_key(raw):
        return None  # escapes could hide quotes; the key count below needs plain keys
    try:
        events = MANY.decode(raw) if raw[:1] == b"[" else [ONE.decode(raw)]
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if not events:
        return None
    datas = [event.payload.data for event in events]
    if raw.count(b'":') != total_keys(events, datas):
        return None  # a duplicate or unknown key: the models decide what it means
    settle(datas)
    out = []
    for event in events:
        points = _points(event, now, future_s, past_s)
        if points is None:
            return None
        out.append(points)
    return out
