"""The compiled latency-batch scanner against the paths it accelerates.

When it answers, the pydantic models must accept every event and give exactly its
series groups (and so must the per-event fast path, where that stricter path answers);
on well-formed batches it must answer and equal the msgspec columnar path; every
number and timestamp it reads must be bit for bit what Python's own parsers give.
"""

from __future__ import annotations

import copy
import json
import random
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.ingest.batch_scan import COMPILED, MIN_EVENTS, scanned_columns
from pipeline.ingest.decode import (
    EVENTS_PER_MESSAGE,
    DecodedPoints,
    DecodedRecords,
    IngestLimits,
    decode_message,
    decode_points,
    decode_records,
)
from pipeline.ingest.fast_columns import fast_columns
from pipeline.ingest.normalize import points_from_event
from pipeline.ingest.point_batches import SourceGroups
from tests.unit.ingest.test_fast_columns import BASE, Groups, _batch, _normal, _per_event
from tests.unit.ingest.test_fast_paths import (
    BAD_VALUES,
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

BOUNDS = (NOW.timestamp(), LIMITS.max_future_skew_s, LIMITS.max_past_age_s)


def _scanned(raw: bytes) -> Groups | None:
    grouped = scanned_columns(raw, BASE, *BOUNDS)
    if grouped is None:
        return None
    events, columns = grouped
    assert events == raw.count(b'"event_type"')  # no tag is named so in these tests
    return _normal(columns)


def _msgspec_columns(raw: bytes) -> Groups | None:
    grouped = fast_columns(raw, BASE, *BOUNDS)
    return None if grouped is None else _normal(grouped[1])


def _models(raw: bytes) -> Groups | None:
    """The pydantic models' points grouped by series, or None if they reject an event."""
    decoded = decode_message(raw, NOW.timestamp(), LIMITS)
    if decoded.rejections:
        return None
    groups = SourceGroups()
    for index, event in enumerate(decoded.events):
        for point in points_from_event(event):
            groups.add_point(BASE + index, point)
    return _normal(groups.route("t", 0, 1)[0].series)


def _assert_agree(raw: bytes) -> bool:
    """True when the scanner answered; then the pydantic models accept every event and
    give exactly the same series (the per-event fast path, stricter, may decline)."""
    scanned = _scanned(raw)
    if scanned is None:
        return False
    assert _models(raw) == scanned, raw
    per_event = _per_event(raw)
    assert per_event is None or per_event == scanned, raw
    return True


def test_the_extension_is_built() -> None:
    # `make setup` compiles it; without it every batch silently takes the slower path.
    assert COMPILED, "pipeline/ingest/_batch_scan.c was not built: run `make setup` (needs gcc)"


@pytest.mark.parametrize("seed", range(6))
def test_generated_batches_are_scanned_and_equal_both_other_paths(seed: int) -> None:
    raw = _compact(_batch("telemetry.latency", 20 + seed * 70, seed))
    scanned = _scanned(raw)
    assert scanned is not None
    assert scanned == _msgspec_columns(raw) == _per_event(raw)


def test_optional_fields_tags_and_ids_present_absent_and_null() -> None:
    rng = random.Random(11)
    for _ in range(20):
        docs = _batch("telemetry.latency", 30, rng.randrange(1000))
        for doc in docs:
            data = doc["payload"]["data"]
            for key in ("ttft_ms", "tokens_per_second", "breakdown"):
                choice = rng.random()
                if choice < 0.3:
                    data.pop(key, None)
                elif choice < 0.5:
                    data[key] = None
            choice = rng.random()
            if choice < 0.3:
                doc.pop("tags", None)
            elif choice < 0.4:
                doc["tags"] = {}
            elif choice < 0.7:
                items = [("region", rng.choice(["eu", "us"])), ("service", "chat")]
                doc["tags"] = dict(items if rng.random() < 0.5 else items[::-1])
            for key in ("correlation_id", "parent_event_id", "schema_version", "event_id"):
                if rng.random() < 0.3:
                    doc.pop(key, None)
                elif key in ("correlation_id", "parent_event_id") and rng.random() < 0.3:
                    doc[key] = None
        raw = _compact(docs)
        assert _assert_agree(raw)
        assert _scanned(raw) == _msgspec_columns(raw)


def test_whitespace_between_tokens_is_read_but_not_before_a_colon() -> None:
    docs = _batch("telemetry.latency", 12, 4)
    for raw in (json.dumps(docs).encode(), json.dumps(docs, indent=2).encode()):
        assert _assert_agree(raw)
    spaced = _compact(docs).replace(b'"severity":', b'"severity" :', 1)
    assert _scanned(spaced) is None


def test_what_the_scanner_leaves_to_the_other_paths() -> None:
    latency = _batch("telemetry.latency", 12, 1)
    raw = _compact(latency)
    declined = {
        "short": _compact(latency[: MIN_EVENTS - 1]),
        "one object": _compact(latency[0]),
        "another payload": _compact([*latency, _doc("telemetry.throughput", 9)]),
        "duplicate key": raw.replace(b'"environment":', b'"environment":"x","environment":', 1),
        "unknown key": raw.replace(b'"payload":{', b'"payload":{"extra":1,', 1),
        "duplicate tag": raw.replace(b'"tags":{', b'"tags":{"a":"1","a":"2",', 1),
        "escape": raw.replace(b'"environment":"', b'"environment":"\\u0041', 1),
        "non-ASCII": raw.replace(b'"environment":"', '"environment":"é'.encode(), 1),
        "raw control": raw.replace(b'"environment":"', b'"environment":"\t', 1),
        "trailing bytes": raw + b"x",
        "leading space": b" " + raw,
    }
    for name, case in declined.items():
        assert case != raw, name
        assert _scanned(case) is None, name
    assert _scanned(raw) is not None


@pytest.mark.parametrize("path", FIELDS, ids=".".join)
def test_one_mutated_event_never_passes_unless_the_per_event_path_agrees(
    path: tuple[str, ...],
) -> None:
    batch = _batch("telemetry.latency", 10, 2)
    for position in (0, 7):
        for value in BAD_VALUES:
            docs = copy.deepcopy(batch)
            _set(docs[position], path, value)
            _assert_agree(_compact(docs))
        docs = copy.deepcopy(batch)
        _drop(docs[position], path)
        _assert_agree(_compact(docs))


def test_random_byte_level_mutations_agree() -> None:
    rng = random.Random(29)
    bases = [_compact(_batch("telemetry.latency", 10, s)) for s in range(3)]
    answered = sum(
        _assert_agree(mutated(rng.choice(bases), rng, REPLACEMENTS + b"\n", INSERTIONS + b"\n"))
        for _ in range(3000)
    )
    assert answered > 100  # many mutations (digits in numbers, ids) stay valid


def _with_texts(key: str, texts: list[str]) -> bytes:
    """A latency batch whose events carry ``texts`` as the raw JSON of ``key``."""
    raw = _compact(_batch("telemetry.latency", len(texts), 5))
    values = iter(texts)
    pattern = re.compile(rf'("{key}":)("[^"]*"|[^,}}]*)'.encode())
    return pattern.sub(lambda m: m.group(1) + next(values).encode(), raw)


def _column(raw: bytes, field: str) -> list[float]:
    grouped = scanned_columns(raw, BASE, *BOUNDS)
    assert grouped is not None, raw[:300]
    by_offset: dict[int, float] = {}
    for series in grouped[1]:
        values = series.timestamps if field == "timestamp" else series.fields.get(field, [])
        for offset, value in zip(series.offsets, values, strict=False):
            by_offset[int(offset)] = float(value)
    return [by_offset[BASE + i] for i in range(len(by_offset))]


def _number_texts(rng: random.Random) -> list[str]:
    texts = [
        "0",
        "-0",
        "-0.0",
        "1",
        "9007199254740993",  # 2**53 + 1: a tie, rounded to even
        "9007199254740995",
        "18446744073709551615",
        "123456789012345678901234",
        "0.1",
        "0.30000000000000004",
        "1e3",
        "1E-3",
        "2.5e+2",
        "4.9406564584124654e-324",
        "1.7976931348623157e308",
        "0.000001234",
        "346.68666322994636",
        "0.0000000000000000000001",
    ]
    for _ in range(400):
        value = rng.lognormvariate(5, 3)
        style = rng.randrange(4)
        if style == 0:
            texts.append(repr(value))
        elif style == 1:
            texts.append(f"{value:.{rng.randrange(0, 8)}f}")
        elif style == 2:
            texts.append(f"{value:.{rng.randrange(1, 20)}g}")
        else:
            texts.append(str(rng.randrange(10 ** rng.randrange(1, 20))))
    return texts


def test_numbers_are_read_bit_for_bit_as_python_reads_them() -> None:
    texts = _number_texts(random.Random(3))
    for start in range(0, len(texts), 100):
        chunk = texts[start : start + 100]
        got = _column(_with_texts("total_latency_ms", chunk), "total_latency_ms")
        assert [v.hex() for v in got] == [float(t).hex() for t in chunk]


def test_numbers_json_forbids_are_declined() -> None:
    for text in ("01", "1.", ".5", "+1", "-", "1e", "1e+", "NaN", "Infinity", "1e400", "0x10"):
        texts = ["1.5"] * 9
        texts[4] = text
        assert scanned_columns(_with_texts("total_latency_ms", texts), BASE, *BOUNDS) is None, text


def _timestamp_texts(rng: random.Random) -> list[str]:
    texts = []
    for _ in range(300):
        instant = NOW - timedelta(seconds=rng.uniform(0, min(LIMITS.max_past_age_s, 30 * 86400)))
        instant = instant.replace(microsecond=rng.randrange(1_000_000))
        minutes = rng.choice([0, 0, 60, -300, 330, -570, 1140])
        local = instant.astimezone(timezone(timedelta(minutes=minutes)))
        digits = rng.randrange(7)
        text = local.strftime("%Y-%m-%dT%H:%M:%S")
        if digits:
            text += "." + f"{local.microsecond:06d}"[:digits]
        if minutes == 0 and rng.random() < 0.7:
            text += "Z"
        else:
            text += local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
        texts.append(text)
    return texts


def test_timestamps_are_the_seconds_datetime_gives() -> None:
    texts = _timestamp_texts(random.Random(8))
    for start in range(0, len(texts), 100):
        chunk = texts[start : start + 100]
        quoted = [f'"{t}"' for t in chunk]
        got = _column(_with_texts("timestamp", quoted), "timestamp")
        expected = [datetime.fromisoformat(t).timestamp() for t in chunk]
        assert [v.hex() for v in got] == [v.hex() for v in expected]


def test_malformed_timestamps_are_declined() -> None:
    good = NOW.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for text in (
        good,  # no zone
        good + "z",
        good + ".Z",
        good + ".1234567Z",
        good + "+24:00",
        good + "+05:60",
        good.replace("T", " ") + "Z",
        "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T12:60:00Z",
        "2026-11-28T12:00:60Z",
    ):
        texts = [f'"{good}Z"'] * 9
        texts[3] = f'"{text}"'
        assert scanned_columns(_with_texts("timestamp", texts), BASE, *BOUNDS) is None, text


Rows = dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, float, tuple]]]


def _rows(groups: SourceGroups) -> Rows:
    """Series -> its events as (offset, time, present fields), by offset: the order in
    which a batch lists them does not matter downstream (the windows deduplicate by
    offset and sort)."""
    out: Rows = {}
    for series, (offsets, times, fields) in _normal(groups.route("t", 0, 1)[0].series).items():
        rows = out.setdefault(series, [])
        for i, (offset, moment) in enumerate(zip(offsets, times, strict=True)):
            present = tuple(sorted((k, v[i]) for k, v in fields.items() if v[i] is not None))
            rows.append((offset, moment, present))
        rows.sort()
    return out


def _message_by_message(raws: list[bytes], bases: list[int], limits: IngestLimits) -> tuple:
    groups, rejected = SourceGroups(), {}
    for i, (raw, base) in enumerate(zip(raws, bases, strict=True)):
        decoded = decode_points(raw, NOW.timestamp(), limits, base)
        _add(groups, decoded, base)
        if decoded.rejections:
            rejected[i] = [(r.code, r.message, r.original) for r in decoded.rejections]
    return _rows(groups), rejected


def _together(raws: list[bytes], bases: list[int], limits: IngestLimits) -> tuple:
    decoded = decode_records(raws, bases, NOW.timestamp(), limits)
    groups, rejected = SourceGroups(), {}
    for columns in decoded.columns:
        groups.add_columns(columns)
    for i, one in decoded.rest:
        _add(groups, one, bases[i])
        if one.rejections:
            rejected[i] = [(r.code, r.message, r.original) for r in one.rejections]
    return _rows(groups), rejected, decoded


def _add(groups: SourceGroups, decoded: DecodedPoints, base: int) -> None:
    for columns in decoded.columns:
        groups.add_columns(columns)
    for index, points in enumerate(decoded.points):
        for point in points:
            groups.add_point(base + index, point)


def test_messages_of_one_event_scanned_together_equal_them_one_by_one() -> None:
    """A poll of mixed messages (single latency events, compact and indented, arrays,
    other payloads, byte-mutated events, implausible times, oversize messages) gives the
    same events at the same offsets, and the same rejections of the same messages, as
    decoding message by message; the single latency events take the batch scan."""
    rng = random.Random(41)
    limits = IngestLimits(max_message_bytes=2_000)
    raws: list[bytes] = []
    for i in range(400):
        doc = _doc("telemetry.latency", i, offset_s=rng.uniform(0, 600))
        choice = rng.random()
        if choice < 0.55:
            raw = _compact(doc)
        elif choice < 0.6:
            raw = json.dumps(doc, indent=1).encode()
        elif choice < 0.65:
            raw = _compact(_batch("telemetry.latency", rng.randint(1, 12), i))
        elif choice < 0.75:
            raw = _compact(_doc(rng.choice(("telemetry.throughput", "security.threat")), i))
        elif choice < 0.9:
            raw = mutated(_compact(doc), rng, REPLACEMENTS + b"\n", INSERTIONS + b"\n")
        elif choice < 0.95:
            doc["timestamp"] = "2031-01-01T00:00:00Z"  # beyond the future skew
            raw = _compact(doc)
        else:
            raw = _compact(doc) + b" " * 2_000  # oversize
        raws.append(raw)
    bases = [(1_000 + i) * EVENTS_PER_MESSAGE for i in range(len(raws))]
    rows, rejected, decoded = _together(raws, bases, limits)
    assert (rows, rejected) == _message_by_message(raws, bases, limits)
    assert decoded.column_events >= 150  # the single latency events took the scan
    assert decoded.consumed == decoded.valid + decoded.rejected
    assert decoded.rejected == sum(len(r) for r in rejected.values()) > 0


def test_a_short_poll_is_decoded_message_by_message() -> None:
    raws = [_compact(_doc("telemetry.latency", i)) for i in range(MIN_EVENTS - 1)]
    bases = [i * EVENTS_PER_MESSAGE for i in range(len(raws))]
    decoded = decode_records(raws, bases, NOW.timestamp(), LIMITS)
    assert decoded.column_events == 0 and len(decoded.rest) == len(raws)
    assert _rows_of(decoded, bases) == _message_by_message(raws, bases, LIMITS)[0]


def _rows_of(decoded: DecodedRecords, bases: list[int]) -> Rows:
    groups = SourceGroups()
    for columns in decoded.columns:
        groups.add_columns(columns)
    for i, one in decoded.rest:
        _add(groups, one, bases[i])
    return _rows(groups)
