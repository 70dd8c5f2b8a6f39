"""Events decoded column by column: the fast path with no Python object per point.

Two shapes take it: a JSON array of events (what ``hub produce``, the batch API and
the Python producer helper send), and a poll of messages of one event each (what
every other producer sends), decoded by msgspec into the structs of
:mod:`pipeline.ingest.event_structs`, any mix of payload types. Everything after that
runs over whole columns with C-level loops (``map``, ``list.count``, numpy): key
counts, ids, schema versions, event times, and the points of each event grouped by
series. Per-event Python work would cost more than the rest of the worker together
(docs/BENCHMARKS.md).

It answers only what it can decide exactly: an array whole or not at all, and of a
poll the messages it can decide, one by one. Everything else goes to the pydantic
models, which explain each rejection. When it answers it must equal the models' points
grouped by series (tests/unit/ingest/test_fast_columns.py, test_fast_paths.py and
test_message_columns.py check that on generated and mutated events of every variant).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
from msgspec import UNSET

from pipeline.ingest.event_structs import (
    MANY,
    ONE,
    VARIANT_NAME,
    EventStruct,
    settle,
    total_keys,
    value_keys,
)
from pipeline.ingest.fast_timestamps import epoch_seconds
from pipeline.ingest.normalize import count_series_tags, mapper_of, measurement_series_tags
from pipeline.ingest.point_batches import SeriesColumns

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


def _all_lines(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` for many values joined by newlines: one regex call instead of one per value.

    A decoded value never holds a newline here: the message has no backslash (so no
    escapes) and JSON forbids raw control characters inside strings.
    """
    return re.compile(f"(?:(?:{pattern.pattern})\\n)*")


_UUID_LINES = _all_lines(UUID_PATTERN)
_TIMESTAMP_LINES = _all_lines(TIMESTAMP_PATTERN)


def _all_match(lines: re.Pattern[str], values: Iterable[str]) -> bool:
    text = "\n".join(values)
    return not text or lines.fullmatch(text + "\n") is not None


def _key_count(raw: bytes) -> int:
    """Occurrences of ``":``: every key ends so, nothing else can (no escapes, no spaced
    keys). numpy compares the shifted bytes five times faster than ``bytes.count``."""
    chars = np.frombuffer(raw, np.uint8)
    return int(np.count_nonzero((chars[:-1] == _QUOTE) & (chars[1:] == _COLON)))


_QUOTE, _COLON = ord('"'), ord(":")

MIN_EVENTS = 8
"""Fewer events do not pay the columns' fixed cost (~0.2 ms a batch): the models take
them (light traffic, where a poll holds a few messages)."""

_DATA = attrgetter("payload.data")
_TIMESTAMP = attrgetter("timestamp")
_OPTIONAL_IDS = tuple(map(attrgetter, ("event_id", "correlation_id", "parent_event_id")))
_SCHEMA_VERSION = attrgetter("schema_version")
_TAGS = attrgetter("tags")
_COUNT_KEY = tuple(map(attrgetter, ("source_module", "environment", "event_type", "severity")))
_SOURCE_MODULE = attrgetter("source_module")
_ENVIRONMENT = attrgetter("environment")
_NAN = math.nan

Column = list[Any]


def _plain(raw: bytes) -> bool:
    """Bytes whose keys can be counted: no escapes, no whitespace before a colon."""
    return b"\\" not in raw and not has_spaced_key(raw)


def fast_columns(
    raw: bytes, base: int, now: float, future_s: float, past_s: float
) -> tuple[int, list[SeriesColumns]] | None:
    """The event count and series groups of one array message, or None to leave it to
    the models.

    Event ``i`` of the array gets offset ``base + i``; ``now``, ``future_s`` and
    ``past_s`` bound plausible timestamps as the other paths do.
    """
    if raw[:1] != b"[" or not _plain(raw):
        return None
    try:
        events: list[EventStruct] = MANY.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    n = len(events)
    if n < MIN_EVENTS:
        return None
    datas = list(map(_DATA, events))
    if _key_count(raw) != total_keys(events, datas):
        return None  # a repeated or unknown key: the models decide what it means
    moments, valid = _checked(events, now, future_s, past_s)
    if not valid.all():
        return None
    return n, event_columns(events, datas, np.arange(n, dtype=np.int64) + base, moments)


def array_columns(
    raws: Sequence[bytes],
    bases: np.ndarray,
    now: float,
    future_s: float,
    past_s: float,
    max_events: int,
) -> tuple[np.ndarray, list[SeriesColumns], int]:
    """Array messages of a poll as one batch: which it took (a mask), their events' series
    groups (event ``j`` of message ``i`` at ``bases[i] + j``) and the event count.

    Each array is taken whole or not at all, as :func:`fast_columns` takes one; grouping
    a poll's arrays together pays the per-series work once per poll instead of once per
    message (mixed traffic: many series, few events each in one message)."""
    taken = np.zeros(len(raws), dtype=bool)
    events: list[EventStruct] = []
    datas: list[Any] = []
    owners: list[int] = []
    offsets: list[np.ndarray] = []
    for i, raw in enumerate(raws):
        if raw[:1] != b"[" or not _plain(raw):
            continue
        try:
            decoded: list[EventStruct] = MANY.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        n = len(decoded)
        if n == 0 or n > max_events:
            continue
        its_datas = list(map(_DATA, decoded))
        if _key_count(raw) != total_keys(decoded, its_datas):
            continue  # a repeated or unknown key: the models decide what it means
        events += decoded
        datas += its_datas
        owners += [i] * n
        offsets.append(np.arange(n, dtype=np.int64) + int(bases[i]))
    if not events:
        return taken, [], 0
    moments, valid = _checked(events, now, future_s, past_s)
    owner = np.asarray(owners)
    taken[owner] = True
    taken[owner[~valid]] = False  # one event the models must judge: its whole array
    keep = taken[owner]
    if not keep.all():
        events, datas = _rows(events, keep), _rows(datas, keep)
        moments = moments[keep]
    all_offsets = np.concatenate(offsets)[keep]
    return taken, event_columns(events, datas, all_offsets, moments), len(events)


def message_columns(
    raws: Sequence[bytes], offsets: np.ndarray, now: float, future_s: float, past_s: float
) -> tuple[np.ndarray, list[SeriesColumns]]:
    """Messages of one event each, any payloads, as one batch: which messages it took (a
    mask) and their events' series groups, message ``i``'s event at ``offsets[i]``.
    Messages it did not take (an array, anything to explain or refuse, an implausible
    timestamp, a repeated or unknown key) are the caller's, for the per-message paths."""
    taken = np.zeros(len(raws), dtype=bool)
    events: list[EventStruct] = []
    rows: list[int] = []
    decode = ONE.decode
    all_plain = _plain(b"".join(raws))  # one scan; message by message only if needed
    for i, raw in enumerate(raws):
        if raw[:1] != b"{" or not (all_plain or _plain(raw)):
            continue
        try:
            events.append(decode(raw))
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        rows.append(i)
    if not events:
        return taken, []
    datas = list(map(_DATA, events))
    chosen = [raws[i] for i in rows]
    if _key_count(b"".join(chosen)) != total_keys(events, datas):
        # some message repeats or adds a key: find which, one by one (rare)
        exact = [raw.count(b'":') == value_keys(e) for raw, e in zip(chosen, events, strict=True)]
        keep = np.fromiter(exact, bool, len(events))
        events, datas = _rows(events, keep), _rows(datas, keep)
        rows = _rows(rows, keep)
    moments, valid = _checked(events, now, future_s, past_s)
    if not valid.all():
        events, datas, rows = _rows(events, valid), _rows(datas, valid), _rows(rows, valid)
        moments = moments[valid]
    if not events:
        return taken, []
    taken[rows] = True
    return taken, event_columns(events, datas, np.asarray(offsets)[rows], moments)


def _rows(values: list[Any], keep: np.ndarray) -> list[Any]:
    return [value for value, kept in zip(values, keep.tolist(), strict=True) if kept]


def _checked(
    events: list[EventStruct], now: float, future_s: float, past_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each event's time (epoch s) and whether its ids, schema version and time are ones
    this path may accept (the others are the models' to judge)."""
    n = len(events)
    valid = np.ones(n, dtype=bool)
    for getter in _OPTIONAL_IDS:
        column = list(map(getter, events))
        given = [value for value in column if isinstance(value, str)]
        if given and ("" in given or not _all_match(_UUID_LINES, given)):
            valid &= [not isinstance(v, str) or UUID_PATTERN.fullmatch(v) is not None
                      for v in column]  # fmt: skip
    versions = list(map(_SCHEMA_VERSION, events))
    known = {v: v is UNSET or SCHEMA_VERSION_PATTERN.fullmatch(v) is not None
             for v in set(versions)}  # fmt: skip
    if not all(known.values()):
        valid &= np.fromiter(map(known.__getitem__, versions), bool, n)
    moments = _moments(list(map(_TIMESTAMP, events)))
    valid &= (moments <= now + future_s) & (moments >= now - past_s)  # NaN: False
    return moments, valid


def _moments(texts: list[str]) -> np.ndarray:
    """Epoch seconds of each timestamp; NaN where the models must judge it."""
    moments = epoch_seconds(texts)
    if moments is not None:
        return moments
    out = np.full(len(texts), _NAN)  # a layout the column parser leaves alone: one by one
    for i, text in enumerate(texts):
        if TIMESTAMP_PATTERN.fullmatch(text) is None:
            continue
        try:
            out[i] = datetime.fromisoformat(text).timestamp()
        except ValueError:
            continue
    return out


def event_columns(
    events: list[EventStruct], datas: list[Any], offsets: np.ndarray, moments: np.ndarray
) -> list[SeriesColumns]:
    """Valid events' points grouped by series: one ``hub_events`` count per event, and
    the measurement its payload maps to (``pipeline.ingest.normalize``)."""
    settle(datas)
    variants = [VARIANT_NAME[kind] for kind in map(type, datas)]
    out = _count_series(events, variants, offsets, moments)
    for variant, rows in _group(variants).items():
        mapper = mapper_of(variant)
        if mapper is None:
            continue
        picked = rows.tolist()
        out += _measurement_series(
            [events[i] for i in picked], [datas[i] for i in picked], mapper,
            offsets[rows], moments[rows],
        )  # fmt: skip
    return out


def _group(keys: Column) -> dict[Any, np.ndarray]:
    """Row indices of each distinct key, ascending, in C-level loops."""
    distinct = dict.fromkeys(keys)
    if len(distinct) == 1:
        return {keys[0]: np.arange(len(keys))}
    code_of = {key: code for code, key in enumerate(distinct)}
    codes = np.fromiter(map(code_of.__getitem__, keys), np.int64, len(keys))
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(distinct)))[:-1]
    return dict(zip(distinct, np.split(order, bounds), strict=True))


def _group_columns(
    columns: Sequence[Column], hashable: Sequence[Callable[[Any], Any]]
) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    """Rows of each distinct combination of the columns' values, as ``(values, rows)``.

    A batch usually comes from one producer: most columns hold one value throughout.
    Those are found with ``list.count`` and left out of the key, so only the varying
    columns are hashed (``hashable`` makes a column's values hashable, e.g. tag dicts).
    """
    n = len(columns[0])
    varying = [i for i, column in enumerate(columns) if column.count(column[0]) != n]
    if not varying:
        return [(tuple(column[0] for column in columns), np.arange(n))]
    if len(varying) == 1:
        keys = list(map(hashable[varying[0]], columns[varying[0]]))
    else:
        keys = list(zip(*(map(hashable[i], columns[i]) for i in varying), strict=True))
    out = []
    for rows in _group(keys).values():
        first = int(rows[0])
        out.append((tuple(column[first] for column in columns), rows))
    return out


def _same(value: Any) -> Any:
    return value


def _tag_items(tags: Any) -> tuple[tuple[str, str], ...]:
    """A tag dict's identity: equal dicts written in another key order are one series."""
    return () if tags is UNSET else tuple(sorted(tags.items()))


def series_of_rows(
    measurement: str,
    tags: tuple[tuple[str, str], ...],
    rows: np.ndarray,
    base: int | np.ndarray,
    moments: np.ndarray,
    fields: dict[str, tuple[np.ndarray, np.ndarray | None]],
) -> SeriesColumns:
    """One series' rows; a field is kept when one of them has it, as the models' points do.

    ``fields`` holds each column with its presence mask, or None when every row has it.
    ``base``: row ``i``'s offset is ``base + i``, or ``base[i]`` for an array of offsets
    (events of separate messages)."""
    columns: dict[str, np.ndarray] = {}
    for name, (values, present) in fields.items():
        if present is None or present[rows].any():
            columns[name] = values[rows]
    offsets = base[rows] if isinstance(base, np.ndarray) else rows + base
    return SeriesColumns(measurement, tags, offsets, moments[rows], columns)


def _count_series(
    events: list[EventStruct], variants: list[str], offsets: np.ndarray, moments: np.ndarray
) -> list[SeriesColumns]:
    ones: dict[str, tuple[np.ndarray, np.ndarray | None]] = {"count": (np.ones(len(events)), None)}
    columns = [list(map(getter, events)) for getter in _COUNT_KEY] + [variants]
    out = []
    for (module, environment, event_type, severity, variant), rows in _group_columns(
        columns, [_same] * len(columns)
    ):
        tags = count_series_tags(module, environment, event_type, severity, variant)
        out.append(series_of_rows("hub_events", tags, rows, offsets, moments, ones))
    return out


def _measurement_series(
    events: list[EventStruct],
    datas: list[Any],
    mapper: Callable[[Any], tuple[str, dict[str, str], dict[str, float]]],
    offsets: np.ndarray,
    moments: np.ndarray,
) -> list[SeriesColumns]:
    """One variant's events: the mapper per event, then rows grouped by series."""
    mapped = list(map(mapper, datas))
    measurement = mapped[0][0]
    columns = [
        list(map(_SOURCE_MODULE, events)),
        list(map(_ENVIRONMENT, events)),
        [getattr(data, "model_id", None) for data in datas],
        list(map(_TAGS, events)),
        [extra for _, extra, _ in mapped],
    ]
    fields = [given for _, _, given in mapped]
    out = []
    for (module, environment, _model, given, extra), rows in _group_columns(
        columns, [_same, _same, _same, _tag_items, _items]
    ):
        picked = [fields[i] for i in rows.tolist()]
        names = dict.fromkeys(name for row in picked for name in row)
        if not names:
            continue  # no field: no point (as ``points_from_parts``)
        arrays = {}
        for name in names:
            values = np.fromiter((row.get(name, _NAN) for row in picked), np.float64, len(picked))
            arrays[name] = (values, None)
        tags = measurement_series_tags(
            measurement,
            module,
            environment,
            datas[int(rows[0])],
            {} if given is UNSET else given,
            extra,
        )
        local = np.arange(len(picked))
        out.append(series_of_rows(measurement, tags, local, offsets[rows], moments[rows], arrays))
    return out


def _items(extra: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(extra.items())
