"""A poll of one-event messages of every payload variant, decoded together, against the
pydantic models message by message: the same points at the same offsets, the same
rejections of the same messages, and the well-formed events through the columns."""

from __future__ import annotations

import json
import random

import numpy as np

from pipeline.ingest.decode import (
    EVENTS_PER_MESSAGE,
    IngestLimits,
    decode_message,
    decode_records,
)
from pipeline.ingest.fast_columns import message_columns
from pipeline.ingest.normalize import points_from_event
from pipeline.ingest.point_batches import SourceGroups
from pipeline.sim.simulate import VARIANTS
from tests.unit.ingest.test_batch_scan import _rows, _together
from tests.unit.ingest.test_fast_paths import (
    INSERTIONS,
    LIMITS,
    NOW,
    REPLACEMENTS,
    _compact,
    _doc,
    mutated,
)


def _by_the_models(raws: list[bytes], bases: list[int], limits: IngestLimits) -> tuple:
    groups, rejected = SourceGroups(), {}
    for i, (raw, base) in enumerate(zip(raws, bases, strict=True)):
        decoded = decode_message(raw, NOW.timestamp(), limits)
        for index, event in enumerate(decoded.events):
            for point in points_from_event(event):
                groups.add_point(base + index, point)
        if decoded.rejections:
            rejected[i] = [(r.code, r.message, r.original) for r in decoded.rejections]
    return _rows(groups), rejected


def _poll(seed: int, n: int, limits: IngestLimits) -> list[bytes]:
    rng = random.Random(seed)
    raws: list[bytes] = []
    for i in range(n):
        doc = _doc(rng.choice(VARIANTS), seed * 10_000 + i, offset_s=rng.uniform(0, 900))
        choice = rng.random()
        if choice < 0.6:
            raw = _compact(doc)
        elif choice < 0.65:
            raw = json.dumps(doc, indent=1).encode()
        elif choice < 0.72:  # arrays of any payloads, some byte-mutated
            size = rng.randint(1, 30)
            docs = [_doc(rng.choice(VARIANTS), seed * 10_000 + i * 31 + j) for j in range(size)]
            raw = _compact(docs)
            if rng.random() < 0.3:
                raw = mutated(raw, rng, REPLACEMENTS + b"\n", INSERTIONS + b"\n")
        elif choice < 0.86:
            raw = mutated(_compact(doc), rng, REPLACEMENTS + b"\n", INSERTIONS + b"\n")
        elif choice < 0.9:
            raw = _compact(doc).replace(b'"environment":', b'"environment":"x","environment":', 1)
        elif choice < 0.95:
            doc["timestamp"] = "2031-01-01T00:00:00Z"  # beyond the future skew
            raw = _compact(doc)
        else:
            raw = _compact(doc) + b" " * limits.max_message_bytes  # oversize
        raws.append(raw)
    return raws


def test_a_mixed_poll_decoded_together_equals_the_models_message_by_message() -> None:
    """One-event messages and arrays of every payload type, well-formed and mutated."""
    limits = IngestLimits(max_message_bytes=4_000)
    for seed in (1, 2, 3):
        raws = _poll(seed, 500, limits)
        bases = [(1_000 + i) * EVENTS_PER_MESSAGE for i in range(len(raws))]
        rows, rejected, decoded = _together(raws, bases, limits)
        assert (rows, rejected) == _by_the_models(raws, bases, limits)
        assert decoded.column_events >= 250  # the compact one-event messages took columns
        assert decoded.consumed == decoded.valid + decoded.rejected
        assert decoded.rejected == sum(len(r) for r in rejected.values()) > 0


def test_the_columns_take_exactly_the_plain_well_formed_messages() -> None:
    good = [_compact(_doc(v, i)) for i, v in enumerate(VARIANTS)]
    repeated = good[0].replace(b'"severity":', b'"severity":"info","severity":', 1)
    unknown = good[1].replace(b'"payload":{', b'"payload":{"extra":1,', 1)
    escaped = good[2].replace(b'"environment":"', b'"environment":"\\u0041', 1)
    raws = [*good, repeated, unknown, escaped, b"[" + good[3] + b"]", b"{not json"]
    offsets = np.arange(len(raws), dtype=np.int64) * 10
    mask, columns = message_columns(raws, offsets, NOW.timestamp(), 3600.0, 400 * 86400.0)
    assert mask.tolist() == [True] * len(good) + [False] * 5
    counted = [c for c in columns if c.measurement == "hub_events"]
    assert sorted(int(o) for c in counted for o in c.offsets) == offsets[: len(good)].tolist()
    decoded = decode_records(raws, offsets.tolist(), NOW.timestamp(), LIMITS)
    assert decoded.column_events == len(good) + 1  # the one-event array too
    assert decoded.valid == len(good) + 3
    assert decoded.rejected == 2  # the models refuse the repeated key, and the unreadable one


def test_an_array_with_one_event_to_refuse_is_left_whole_to_the_models() -> None:
    good = [_compact(_doc(v, i)) for i, v in enumerate(VARIANTS)]
    loud = good[5].replace(b'"severity":"', b'"severity":"loud', 1)
    arrays = [b"[" + b",".join(good[:9]) + b"]", b"[" + b",".join([*good[9:], loud]) + b"]"]
    raws = [*arrays, *good]
    bases = [(100 + i) * EVENTS_PER_MESSAGE for i in range(len(raws))]
    rows, rejected, decoded = _together(raws, bases, LIMITS)
    assert (rows, rejected) == _by_the_models(raws, bases, LIMITS)
    assert decoded.column_events == 9 + len(good)  # the clean array and the singles
    assert list(rejected) == [1] and decoded.valid == 9 + (len(good) - 9) + len(good)
