"""The ingest fast path: msgspec decodes the common telemetry events straight to points.

Full pydantic validation costs ~30 µs per event, more than everything else the hub
does to it (docs/BENCHMARKS.md). The pydantic models in ``pipeline.models.events``
stay the one definition of a valid event; this module is an accelerator that must
agree with them. It handles only what it can decide exactly: telemetry events
(latency, throughput, token usage) in compact JSON without escapes,
duplicate or unknown keys. Anything else, and anything it finds wrong, returns
``None`` and the caller takes the pydantic path, which accepts or rejects with the
precise message. So the fast path may decline a valid event, but must never accept
one the models reject or yield different points; ``tests/unit/ingest/test_fast_decode.py``
checks that differentially on generated and mutated events.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from pipeline.ingest.normalize import Point, points_from_parts
from pipeline.models.events import EventType, Severity, SourceModule

_FINITE = msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)
F64 = Annotated[float, _FINITE]
U32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]


def _names(enum: type[Enum]) -> Any:
    """The enum's values as a ``Literal``: decoded as plain strings, whose hashes are cached
    C work, where an ``Enum`` member hashes through Python code at every grouping."""
    return Literal[tuple(member.value for member in enum)]


SourceModuleName = _names(SourceModule)
EventTypeName = _names(EventType)
SeverityName = _names(Severity)

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


class BreakdownStruct(msgspec.Struct, gc=False):
    queue_time_ms: F64
    processing_time_ms: F64
    network_time_ms: F64
    other_ms: F64


class LatencyStruct(msgspec.Struct, gc=False, tag_field="telemetry_type", tag="latency"):
    model_id: str
    request_id: str
    total_latency_ms: F64
    ttft_ms: F64 | UnsetType | None = UNSET
    tokens_per_second: F64 | UnsetType | None = UNSET
    breakdown: BreakdownStruct | UnsetType | None = UNSET

    def keys(self) -> int:
        keys = 4
        if self.ttft_ms is UNSET:
            self.ttft_ms = None
        else:
            keys += 1
        if self.tokens_per_second is UNSET:
            self.tokens_per_second = None
        else:
            keys += 1
        if self.breakdown is UNSET:
            self.breakdown = None
        else:
            keys += 1 if self.breakdown is None else 5
        return keys


class ThroughputStruct(msgspec.Struct, gc=False, tag_field="telemetry_type", tag="throughput"):
    model_id: str
    requests_per_second: F64
    tokens_per_second: F64
    concurrent_requests: U32
    window_duration_seconds: U32

    def keys(self) -> int:
        return 6


class TokenUsageStruct(msgspec.Struct, gc=False, tag_field="telemetry_type", tag="token_usage"):
    model_id: str
    request_id: str
    prompt_tokens: U32
    completion_tokens: U32
    total_tokens: U32

    def keys(self) -> int:
        return 6


_Telemetry = LatencyStruct | ThroughputStruct | TokenUsageStruct


class _Payload(msgspec.Struct, gc=False):
    payload_type: Literal["telemetry"]
    data: _Telemetry


class EventStruct(msgspec.Struct, gc=False):
    timestamp: str
    source_module: SourceModuleName
    event_type: EventTypeName
    severity: SeverityName
    environment: str
    payload: _Payload
    # Optional keys default to UNSET, so a key present with null still counts as a key.
    event_id: str | UnsetType = UNSET
    correlation_id: str | UnsetType | None = UNSET
    parent_event_id: str | UnsetType | None = UNSET
    schema_version: str | UnsetType = UNSET
    tags: dict[str, str] | UnsetType = UNSET

    def keys(self) -> int:
        """Keys in this event's JSON if it has no duplicate and no unknown key.

        A duplicate key or an unknown one makes the JSON hold more than this.
        """
        keys = 8 + self.payload.data.keys()
        for value in (self.event_id, self.correlation_id, self.parent_event_id):
            keys += value is not UNSET
        keys += self.schema_version is not UNSET
        if self.tags is not UNSET:
            keys += 1 + len(self.tags)
        return keys


_ONE = msgspec.json.Decoder(EventStruct)
MANY = msgspec.json.Decoder(list[EventStruct])


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
        f"telemetry.{data.__struct_config__.tag}",
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
        events = MANY.decode(raw) if raw[:1] == b"[" else [_ONE.decode(raw)]
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if not events:
        return None
    if raw.count(b'":') != sum(event.keys() for event in events):
        return None  # a duplicate or unknown key: the models decide what it means
    out = []
    for event in events:
        points = _points(event, now, future_s, past_s)
        if points is None:
            return None
        out.append(points)
    return out
