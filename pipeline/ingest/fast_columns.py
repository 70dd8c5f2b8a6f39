"""Batch messages decoded column by column: the fast path with no Python object per point.

A JSON array of telemetry events of one kind (what ``hub produce``, the batch API
and the Python producer helper send) is decoded by msgspec into structs; everything
after that runs over whole columns with C-level loops (``map``, ``attrgetter``,
``list.count``, numpy): the checks of :mod:`pipeline.ingest.fast_decode`, event times, and
the two points per event, grouped by series. Per-event Python work would cost more
than the rest of the worker together (docs/BENCHMARKS.md).

It answers only what it can decide whole and otherwise returns None; the caller then
takes the per-event fast path, which declines to the pydantic models in turn. When it
answers it must equal :func:`pipeline.ingest.fast_decode.fast_points` grouped by series
(``tests/unit/ingest/test_fast_columns.py`` checks that on generated and mutated batches,
and that the field columns below match the mappers of :mod:`pipeline.ingest.normalize`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
from msgspec import UNSET

from pipeline.ingest.fast_decode import (
    MANY,
    SCHEMA_VERSION_PATTERN,
    TIMESTAMP_PATTERN,
    UUID_PATTERN,
    BreakdownStruct,
    EventStruct,
    LatencyStruct,
    ThroughputStruct,
    TokenUsageStruct,
    has_spaced_key,
)
from pipeline.ingest.fast_timestamps import epoch_seconds
from pipeline.ingest.normalize import count_series_tags, measurement_series_tags
from pipeline.ingest.point_batches import SeriesColumns


def _all_lines(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` for many values joined by newlines: one regex call instead of one per value.

    A decoded value never holds a newline here: the message has no backslash (so no
    escapes) and JSON forbids raw control characters inside strings.
    """
    return re.compile(f"(?:(?:{pattern.pattern})\n)*")


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
"""Shorter arrays gain nothing from columns; the per-event path takes them."""

_DATA = attrgetter("payload.data")
_TIMESTAMP = attrgetter("timestamp")
_OPTIONAL_IDS = tuple(map(attrgetter, ("event_id", "correlation_id", "parent_event_id")))
_SCHEMA_VERSION = attrgetter("schema_version")
_TAGS = attrgetter("tags")
_COUNT_KEY = tuple(map(attrgetter, ("source_module", "environment", "event_type", "severity")))
_SOURCE_MODULE = attrgetter("source_module")
_ENVIRONMENT = attrgetter("environment")
_MODEL_ID = attrgetter("model_id")
_EVENT_KEYS = 8
"""Keys every event has: six top-level, ``payload_type`` and ``data``."""

Column = list[Any]
_NO_BREAKDOWN = BreakdownStruct(*[None] * len(BreakdownStruct.__struct_fields__))  # type: ignore[arg-type]


def _present(column: Column) -> int:
    return len(column) - column.count(UNSET)


def _optional(column: Column) -> Column | None:
    """A column with UNSET made None, or None when no event has the field."""
    absent = column.count(UNSET) + column.count(None)
    if absent == len(column):
        return None
    if absent == 0:
        return column
    return [None if value is UNSET else value for value in column]


def _latency_fields(datas: Column) -> tuple[int, dict[str, Column]]:
    """Data keys and field columns of latency payloads, as ``normalize._latency`` maps them."""
    total = list(map(attrgetter("total_latency_ms"), datas))
    fields: dict[str, Column] = {"total_latency_ms": total}
    keys = 4 * len(datas)
    for name in ("ttft_ms", "tokens_per_second"):
        column = list(map(attrgetter(name), datas))
        keys += _present(column)
        values = _optional(column)
        if values is not None:
            fields[name] = values
    breakdowns = list(map(attrgetter("breakdown"), datas))
    given = _present(breakdowns)
    objects = given - breakdowns.count(None)
    keys += given + 4 * objects
    if objects:
        if objects != len(breakdowns):
            given_only = BreakdownStruct
            breakdowns = [b if b.__class__ is given_only else _NO_BREAKDOWN for b in breakdowns]
        for name in BreakdownStruct.__struct_fields__:
            fields[name] = list(map(attrgetter(name), breakdowns))
    return keys, fields


def _fixed_fields(
    kind: type[msgspec.Struct], names: Sequence[str]
) -> Callable[[Column], tuple[int, dict[str, Column]]]:
    """Field columns of a payload without optional keys: each has all its fields and its tag."""
    getters = [(name, attrgetter(name)) for name in names]
    keys = len(kind.__struct_fields__) + 1

    def fields(datas: Column) -> tuple[int, dict[str, Column]]:
        return keys * len(datas), {n: list(map(g, datas)) for n, g in getters}

    return fields


_VARIANTS: dict[type, tuple[str, str, Callable[[Column], tuple[int, dict[str, Column]]]]] = {
    LatencyStruct: ("telemetry.latency", "llm_latency", _latency_fields),
    ThroughputStruct: (
        "telemetry.throughput",
        "llm_throughput",
        _fixed_fields(
            ThroughputStruct, ("requests_per_second", "tokens_per_second", "concurrent_requests")
        ),
    ),
    TokenUsageStruct: (
        "telemetry.token_usage",
        "llm_token_usage",
        _fixed_fields(TokenUsageStruct, ("prompt_tokens", "completion_tokens", "total_tokens")),
    ),
}
"""Struct type -> (payload variant, measurement, data-key count and field columns)."""


def _ids_valid(events: Column) -> tuple[bool, int]:
    """All given ids are canonical UUIDs; and how many id keys the events hold."""
    keys = 0
    for getter in _OPTIONAL_IDS:
        column = list(map(getter, events))
        keys += _present(column)
        if "" in column:
            return False, keys
        if not _all_match(_UUID_LINES, filter(None, column)):
            return False, keys
    return True, keys


def _timestamps(events: Column, now: float, future_s: float, past_s: float) -> np.ndarray | None:
    texts = list(map(_TIMESTAMP, events))
    moments = epoch_seconds(texts)
    if moments is None:  # a layout the column parser leaves alone: value by value
        if not _all_match(_TIMESTAMP_LINES, texts):
            return None
        try:
            moments = np.fromiter(
                map(datetime.timestamp, map(datetime.fromisoformat, texts)), np.float64, len(texts)
            )
        except ValueError:
            return None
    if moments.max() > now + future_s or moments.min() < now - past_s:
        return None
    return moments


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
    """One series' rows; a field is kept when one of them has it, as the per-event path does.

    ``fields`` holds each column with its presence mask, or None when every row has it.
    ``base``: row ``i``'s offset is ``base + i``, or ``base[i]`` for an array of offsets
    (events of separate messages)."""
    columns: dict[str, np.ndarray] = {}
    for name, (values, present) in fields.items():
        if present is None or present[rows].any():
            columns[name] = values[rows]
    offsets = base[rows] if isinstance(base, np.ndarray) else rows + base
    return SeriesColumns(measurement, tags, offsets, moments[rows], columns)


def _with_presence(
    columns: dict[str, Column],
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    out = {}
    for name, column in columns.items():
        values = np.array(column, dtype=np.float64)
        present = ~np.isnan(values)
        out[name] = (values, None if present.all() else present)
    return out


def fast_columns(
    raw: bytes, base: int, now: float, future_s: float, past_s: float
) -> tuple[int, list[SeriesColumns]] | None:
    """The event count and series groups of one batch message, or None to take the
    per-event path.

    Event ``i`` of the array gets offset ``base + i``; ``now``, ``future_s`` and
    ``past_s`` bound plausible timestamps as the other paths do.
    """
    if raw[:1] != b"[" or b"\\" in raw or has_spaced_key(raw):
        return None
    try:
        events: list[EventStruct] = MANY.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    n = len(events)
    if n < MIN_EVENTS:
        return None
    datas = list(map(_DATA, events))
    kind = type(datas[0])
    if list(map(type, datas)).count(kind) != n:
        return None  # mixed payloads: the per-event path groups them
    variant, measurement, field_columns = _VARIANTS[kind]
    data_keys, fields = field_columns(datas)
    ids_ok, id_keys = _ids_valid(events)
    if not ids_ok:
        return None
    versions = list(map(_SCHEMA_VERSION, events))
    if any(SCHEMA_VERSION_PATTERN.fullmatch(v) is None for v in set(versions) if v is not UNSET):
        return None
    tags = list(map(_TAGS, events))
    given_tags = [t for t in tags if t is not UNSET] if UNSET in tags else tags
    keys = _EVENT_KEYS * n + data_keys + id_keys + _present(versions)
    keys += len(given_tags) + sum(map(len, given_tags))
    if _key_count(raw) != keys:
        return None  # a duplicate or unknown key: the models decide what it means
    moments = _timestamps(events, now, future_s, past_s)
    if moments is None:
        return None
    return n, _count_series(events, variant, base, moments) + _measurement_series(
        events, datas, tags, measurement, fields, base, moments
    )


def _count_series(
    events: list[EventStruct], variant: str, base: int, moments: np.ndarray
) -> list[SeriesColumns]:
    ones: dict[str, tuple[np.ndarray, np.ndarray | None]] = {"count": (np.ones(len(events)), None)}
    columns = [list(map(getter, events)) for getter in _COUNT_KEY]
    out = []
    for (module, environment, event_type, severity), rows in _group_columns(
        columns, [_same] * len(columns)
    ):
        tags = count_series_tags(module, environment, event_type, severity, variant)
        out.append(series_of_rows("hub_events", tags, rows, base, moments, ones))
    return out


def _measurement_series(
    events: list[EventStruct],
    datas: Column,
    tags: Column,
    measurement: str,
    fields: dict[str, Column],
    base: int,
    moments: np.ndarray,
) -> list[SeriesColumns]:
    columns = [
        list(map(_SOURCE_MODULE, events)),
        list(map(_ENVIRONMENT, events)),
        list(map(_MODEL_ID, datas)),
        tags,
    ]
    arrays = _with_presence(fields)
    out = []
    for (module, environment, _model, given), rows in _group_columns(
        columns, [_same, _same, _same, _tag_items]
    ):
        series_tags = measurement_series_tags(
            measurement,
            module,
            environment,
            datas[int(rows[0])],
            {} if given is UNSET else given,
            {},
        )
        out.append(series_of_rows(measurement, series_tags, rows, base, moments, arrays))
    return out
