"""The msgspec columns of an array against the pydantic models: when they answer, the
models accept every event and their points, grouped by series, are exactly the columns.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import pytest

from pipeline.ingest.decode import decode_message
from pipeline.ingest.fast_columns import MIN_EVENTS, fast_columns
from pipeline.ingest.normalize import points_from_event
from pipeline.ingest.point_batches import SeriesColumns, SourceGroups
from tests.unit.ingest.test_fast_paths import (
    BAD_VALUES,
    FAST_VARIANTS,
    FIELDS,
    INSERTIONS,
    LIMITS,
    NOW,
    REPLACEMENTS,
    _compact,
    _doc,
    _drop,
    _set,
    mutated,
)

BASE = 7 * 65536
Groups = dict[tuple[str, tuple[tuple[str, str], ...]], tuple[list[int], list[float], dict]]


def _normal(columns: list[SeriesColumns]) -> Groups:
    """Series -> (offsets, times, fields), absent values as None (the wire form of NaN)."""
    out: Groups = {}
    for c in columns:
        fields = {
            name: [None if v is None or math.isnan(v) else float(v) for v in values]
            for name, values in c.fields.items()
        }
        out[(c.measurement, c.tags)] = (
            [int(o) for o in c.offsets],
            [float(t) for t in c.timestamps],
            fields,
        )
    return out


def _per_event(raw: bytes) -> Groups | None:
    """The models' points grouped by series; None when they refuse any event."""
    decoded = decode_message(raw, NOW.timestamp(), LIMITS)
    if decoded.rejections:
        return None
    points = [points_from_event(event) for event in decoded.events]
    groups = SourceGroups()
    for index, event_points in enumerate(points):
        for point in event_points:
            groups.add_point(BASE + index, point)
    batches = groups.route("t", 0, 1)
    return _normal(batches[0].series)


def _columnar(raw: bytes) -> Groups | None:
    now = NOW.timestamp()
    grouped = fast_columns(raw, BASE, now, LIMITS.max_future_skew_s, LIMITS.max_past_age_s)
    if grouped is None:
        return None
    events, columns = grouped
    assert events == raw.count(b'"event_type":')  # no tag is named so in these tests
    return _normal(columns)


def _assert_agree(raw: bytes) -> bool:
    """True when the columnar path answered (and agreed)."""
    columnar = _columnar(raw)
    if columnar is None:
        return False
    assert _per_event(raw) == columnar, raw
    return True


def _batch(variant: str, n: int, seed: int) -> list[dict[str, Any]]:
    return [_doc(variant, seed * 1000 + i, offset_s=i * 0.37) for i in range(n)]


@pytest.mark.parametrize("variant", FAST_VARIANTS)
def test_generated_batches_take_the_columnar_path_and_agree(variant: str) -> None:
    for seed in range(4):
        assert _assert_agree(_compact(_batch(variant, 40 + seed * 60, seed)))


def test_optional_fields_and_tags_present_absent_and_null_in_one_batch() -> None:
    docs = _batch("telemetry.latency", 48, 3)
    rng = random.Random(5)
    for doc in docs:
        data = doc["payload"]["data"]
        for key in ("ttft_ms", "tokens_per_second", "breakdown"):
            choice = rng.random()
            if choice < 0.3:
                data.pop(key, None)
            elif choice < 0.5:
                data[key] = None
        if rng.random() < 0.4:
            doc.pop("tags", None)
        elif rng.random() < 0.5:
            doc["tags"] = {"region": rng.choice(["eu", "us"]), "service": "chat"}
        for key in ("correlation_id", "parent_event_id", "schema_version", "event_id"):
            if rng.random() < 0.3:
                doc.pop(key, None)
    assert _assert_agree(_compact(docs))


def test_what_the_columns_leave_to_the_models() -> None:
    latency = _batch("telemetry.latency", 12, 1)
    assert _columnar(_compact(latency[: MIN_EVENTS - 1])) is None  # short: the models
    assert _columnar(_compact(latency[0])) is None  # one object, not an array
    raw = _compact(latency)
    duplicated = raw.replace(b'"environment":', b'"environment":"dup","environment":', 1)
    unknown = raw.replace(b'"payload":{', b'"payload":{"extra":1,', 1)
    spaced = raw.replace(b'"severity":', b'"severity" :', 1)
    for case in (duplicated, unknown, spaced):
        assert case != raw and _columnar(case) is None


def test_batches_of_every_payload_variant_mixed_take_the_columnar_path_and_agree() -> None:
    rng = random.Random(8)
    for seed in range(4):
        docs = [_doc(rng.choice(FAST_VARIANTS), seed * 1000 + i, i * 0.37) for i in range(120)]
        assert _assert_agree(_compact(docs))


@pytest.mark.parametrize("path", FIELDS, ids=".".join)
def test_one_mutated_event_in_a_batch_never_passes_unless_the_per_event_path_agrees(
    path: tuple[str, ...],
) -> None:
    batch = _batch("telemetry.latency", 10, 2)
    for position in (0, 6):
        for value in BAD_VALUES:
            docs = copy.deepcopy(batch)
            _set(docs[position], path, value)
            _assert_agree(_compact(docs))
        docs = copy.deepcopy(batch)
        _drop(docs[position], path)
        _assert_agree(_compact(docs))


def test_random_byte_level_mutations_of_batches_agree() -> None:
    rng = random.Random(23)
    bases = [_compact(_batch(v, 10, s)) for v in FAST_VARIANTS for s in range(2)]
    answered = sum(
        _assert_agree(mutated(rng.choice(bases), rng, REPLACEMENTS + b"\n", INSERTIONS + b"\n"))
        for _ in range(3000)
    )
    assert answered > 50  # many mutations (digits in numbers, ids) stay valid
