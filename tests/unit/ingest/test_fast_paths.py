"""The fast paths of one message against the pydantic models: never more lenient, same
points.

Every case is run through both. When a fast path (the compiled scanner, the msgspec
columns) answers, the models must accept every event of the message and yield exactly
the same points; when it declines, ``decode_points`` falls back to the models, so only
its coverage matters.
"""

from __future__ import annotations

import copy
import json
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from pipeline.ingest.decode import IngestLimits, decode_message, decode_points
from pipeline.ingest.fast_columns import message_columns
from pipeline.ingest.normalize import Point, points_from_event
from pipeline.ingest.point_batches import SeriesColumns
from pipeline.sim.simulate import VARIANTS, EventSimulator

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LIMITS = IngestLimits()
FAST_VARIANTS = VARIANTS


def _doc(variant: str, seed: int, offset_s: float = 0.0) -> dict[str, Any]:
    when = NOW - timedelta(seconds=offset_s)
    return json.loads(EventSimulator(seed=seed).make(variant, when).to_wire())


def _compact(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def points_by_event(columns: list[SeriesColumns]) -> list[list[Point]]:
    """Series groups back to each event's points, in event order (count point first)."""
    events: dict[int, list[Point]] = {}
    for c in columns:
        for i, offset in enumerate(c.offsets):
            fields = {}
            for name, values in c.fields.items():
                value = values[i]
                if value is not None and not math.isnan(value):
                    fields[name] = float(value)
            point = Point(c.measurement, float(c.timestamps[i]), c.tags, fields)
            events.setdefault(int(offset), []).append(point)
    return [sorted(events[o], key=lambda p: p.measurement != "hub_events") for o in sorted(events)]


def fast_points(raw: bytes, now: float, future_s: float, past_s: float) -> list[list[Point]] | None:
    """What the fast paths make of one message (an array: the scanner or the columns; one
    event: the columns, as in a poll), as points per event; None: they declined."""
    if raw[:1] != b"[":
        taken, columns = message_columns([raw], np.zeros(1, np.int64), now, future_s, past_s)
        return points_by_event(columns) if taken[0] else None
    limits = IngestLimits(max_future_skew_s=future_s, max_past_age_s=past_s)
    decoded = decode_points(raw, now, limits)
    if decoded.column_events == 0:
        return None
    assert not decoded.points and not decoded.rejections  # a message is taken whole
    return points_by_event(decoded.columns)


def _both(raw: bytes) -> tuple[Any, Any]:
    now = NOW.timestamp()
    fast = fast_points(raw, now, LIMITS.max_future_skew_s, LIMITS.max_past_age_s)
    slow = decode_message(raw, now, LIMITS)
    return fast, slow


def _assert_agree(raw: bytes) -> bool:
    """True when the fast path answered (and agreed)."""
    fast, slow = _both(raw)
    if fast is None:
        return False
    assert slow.rejections == [], (raw, slow.rejections)
    assert fast == [points_from_event(event) for event in slow.events], raw
    return True


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_agrees_and_takes_the_fast_path(variant: str) -> None:
    for seed in range(5):
        raw = _compact(_doc(variant, seed, offset_s=seed * 7.5))
        assert _assert_agree(raw), variant


def test_mixed_batches_agree_and_one_bad_event_sends_the_whole_batch_to_the_models() -> None:
    """(Per event, the models keep the good events and refuse the bad one.)"""
    mixed = [_doc(v, s) for v in FAST_VARIANTS for s in range(3)]
    assert _assert_agree(_compact(mixed))
    mixed[5]["severity"] = "loud"
    assert not _assert_agree(_compact(mixed))  # the columns take an array whole or not
    decoded = decode_points(_compact(mixed), NOW.timestamp(), LIMITS)
    assert len(decoded.points) == len(mixed) - 1 and len(decoded.rejections) == 1


def test_pretty_printed_json_with_spaces_after_colons_still_takes_the_fast_path() -> None:
    doc = _doc("telemetry.latency", 2)
    doc["payload"]["data"]["ttft_ms"] = None
    assert _assert_agree(json.dumps(doc, indent=2).encode())


def _set(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _drop(doc: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    target = doc
    for key in path[:-1]:
        target = target[key]
    if isinstance(target, list):
        del target[path[-1]]
    else:
        target.pop(path[-1], None)
    return doc


DATA = ("payload", "data")
FIELDS = [
    ("event_id",),
    ("timestamp",),
    ("source_module",),
    ("event_type",),
    ("correlation_id",),
    ("schema_version",),
    ("severity",),
    ("environment",),
    ("tags",),
    ("payload",),
    ("payload", "payload_type"),
    (*DATA, "telemetry_type"),
    (*DATA, "model_id"),
    (*DATA, "request_id"),
    (*DATA, "total_latency_ms"),
    (*DATA, "ttft_ms"),
    (*DATA, "tokens_per_second"),
    (*DATA, "breakdown"),
    (*DATA, "breakdown", "queue_time_ms"),
]
BAD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    2**32,
    2**64,
    "",
    "x",
    "1",
    5.0,
    2**63,
    [],
    {},
    {"other": "x"},
    "2026-11-28T12:00:00",
    "2026-11-28 12:00:00Z",
    "2026-02-30T12:00:00Z",
    "2026-11-28T12:00:00.1234567Z",
    "2026-11-28T12:00:00+24:00",
    "2126-11-28T12:00:00Z",
    "1900-11-28T12:00:00Z",
    "2.0.0",
    "1.2",
    "1.0.0-beta",
    "{7ce42c82-1807-4e8c-b5bf-992dc9e9c616}",
    "7ce42c8218074e8cb5bf992dc9e9c616",
    "7CE42C82-1807-4E8C-B5BF-992DC9E9C616",
    "llm-sentinel",
    "critical",
    "telemetry",
    "throughput",
    {"region": "us", "zone": 3},
]


@pytest.mark.parametrize("path", FIELDS, ids=".".join)
def test_mutated_fields_never_pass_the_fast_path_unless_the_models_accept(
    path: tuple[str, ...],
) -> None:
    for value in BAD_VALUES:
        _assert_agree(_compact(_set(_doc("telemetry.latency", 1), path, value)))
    _assert_agree(_compact(_drop(_doc("telemetry.latency", 1), path)))


def test_overflowing_and_huge_numbers_fall_back() -> None:
    base = _compact(_doc("telemetry.latency", 4))
    for literal in (b"1e400", b"-1e400", b"123456789012345678901234567890"):
        raw = base.replace(b'"total_latency_ms":', b'"total_latency_ms":' + literal + b',"x":', 1)
        _assert_agree(raw)
        fast, slow = _both(base.replace(b"1.0.0", b"1.0.0", 1))
        assert fast is not None and slow.rejections == []


def test_duplicate_unknown_and_spaced_keys_fall_back_to_the_models() -> None:
    raw = _compact(_doc("telemetry.latency", 5))
    cases = [
        raw.replace(b'"environment":', b'"environment":"dup","environment":', 1),
        raw.replace(b'"model_id":', b'"model_id":"dup","model_id":', 1),
        raw.replace(b'"tags":{', b'"tags":{"region":"a",', 1),
        raw.replace(b'"payload":{', b'"payload":{"extra":1,', 1),
        raw.replace(b'"severity":', b'"severity" :', 1),
        raw.replace(b'"environment":', b'"environment" :"dup","environment":', 1),
        raw.replace(b'"severity":"info"', b'"severity":"info","severity":"critical"', 1),
        raw.replace(b'"schema_version":"1.0.0"', b'"schema_version":"1.0.0","x":null', 1),
        raw.replace(b'"request_id":"', b'"request_id":"\\u0041', 1),
        raw.replace(b'"ttft_ms":', b'"ttft_ms":null,"ttft_ms":null,"x":', 1),
        raw.replace(b'"event_type":', b'"correlation_id":null,' * 2 + b'"event_type":', 1),
    ]
    for case in cases:
        assert case != raw
        assert not _assert_agree(case), case


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and list position of a document, depth first."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    out = []
    for key, item in items:
        out.append((*path, key))
        out += _leaf_paths(item, (*path, key))
    return out


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_field_of_every_variant_mutated_never_passes_unless_the_models_accept(
    variant: str,
) -> None:
    """Each key (and list element) of a full event of the variant set to each bad value,
    and dropped: the fast path answers only where the models accept the same points."""
    doc = _doc(variant, 3)
    if variant == "telemetry.model_performance":
        doc["payload"]["data"].update(accuracy=0.9, quality_score=None)
    answered = 0
    for path in _leaf_paths(doc):
        for value in BAD_VALUES:
            answered += _assert_agree(_compact(_set(copy.deepcopy(doc), path, value)))
        answered += _assert_agree(_compact(_drop(copy.deepcopy(doc), path)))
    assert answered > 0


REPLACEMENTS = b'0123456789.-eE"{}[],:nulltrufase xyzZT+'
INSERTIONS = b'0123456789"{},: '


def mutated(
    raw: bytes,
    rng: random.Random,
    replacements: bytes = REPLACEMENTS,
    insertions: bytes = INSERTIONS,
) -> bytes:
    """One to three random byte edits: replace, delete or insert."""
    edited = bytearray(raw)
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(len(edited))
        op = rng.random()
        if op < 0.4:
            edited[pos] = rng.choice(replacements)
        elif op < 0.7:
            del edited[pos]
        else:
            edited.insert(pos, rng.choice(insertions))
    return bytes(edited)


def test_random_byte_level_mutations_agree() -> None:
    rng = random.Random(11)
    bases = [_compact(_doc(v, s)) for v in FAST_VARIANTS for s in range(3)]
    answered = sum(_assert_agree(mutated(rng.choice(bases), rng)) for _ in range(6000))
    assert answered > 100  # many mutations (digits in numbers, ids) stay valid and fast
