"""Latency batches through the compiled scanner (``pipeline/_batch_scan.c``).

msgspec builds a struct per event and the columnar path then pulls every field back
out, about 3.5 µs per event, the largest cost left in the worker
(docs/BENCHMARKS.md). The scanner writes the columns in one pass over the bytes;
this module turns them into the same series groups as :func:`pipeline.fast_columns.
fast_columns` (``tests/unit/test_batch_scan.py`` checks that they are equal).

If the extension was not built (no C compiler at install time) or
``HUB_COMPILED_SCAN=0`` is set, :data:`COMPILED` is False and every batch takes the
msgspec path: slower, same results.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import msgspec
import numpy as np

from pipeline.fast_columns import MIN_EVENTS, series_of_rows
from pipeline.models.events import EventType, Severity, SourceModule
from pipeline.normalize import LATENCY_FIELDS, count_series_tags, measurement_series_tags
from pipeline.point_batches import SeriesColumns

_scanner: ModuleType | None
try:
    from pipeline import _batch_scan as _scanner
except ImportError:  # pragma: no cover - depends on the install
    _scanner = None
if os.environ.get("HUB_COMPILED_SCAN", "1") == "0":  # to measure the msgspec path alone
    _scanner = None

COMPILED = _scanner is not None
_MODULES = tuple(member.value for member in SourceModule)
_EVENT_TYPES = tuple(member.value for member in EventType)
_SEVERITIES = tuple(member.value for member in Severity)
if _scanner is not None:
    _scanner.configure(
        *(tuple(name.encode() for name in names) for names in (_MODULES, _EVENT_TYPES, _SEVERITIES))
    )

_VARIANT, _MEASUREMENT = "telemetry.latency", "llm_latency"
_TAGS = msgspec.json.Decoder(dict[str, str])


class _Data:
    """What :func:`measurement_series_tags` reads of a payload: its model."""

    __slots__ = ("model_id",)

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id


def scanned_columns(
    raw: bytes, base: int, now: float, future_s: float, past_s: float
) -> tuple[int, list[SeriesColumns]] | None:
    """The event count and series groups of a latency batch, or None for the other paths."""
    if _scanner is None:
        return None
    scanned = _scanner.scan_latency(raw)
    if scanned is None or scanned[0] < MIN_EVENTS:
        return None
    n, value_bytes, code_bytes, count_groups, measure_groups, environments, models, tags = scanned
    values = np.frombuffer(value_bytes, np.float64).reshape(len(LATENCY_FIELDS) + 1, n)
    moments = values[0]
    if moments.max() > now + future_s or moments.min() < now - past_s:
        return None
    codes = np.frombuffer(code_bytes, np.int32).reshape(n, 8)
    fields = {}
    for name, column in zip(LATENCY_FIELDS, values[1:], strict=True):
        present = ~np.isnan(column)
        fields[name] = (column, None if present.all() else present)
    ones: dict[str, tuple[np.ndarray, np.ndarray | None]] = {"count": (np.ones(n), None)}
    out = []
    for rows in _rows_of_groups(codes[:, 6], count_groups):
        module, event_type, severity, environment = codes[rows[0], :4].tolist()
        series_tags = count_series_tags(
            _MODULES[module],
            environments[environment],
            _EVENT_TYPES[event_type],
            _SEVERITIES[severity],
            _VARIANT,
        )
        out.append(series_of_rows("hub_events", series_tags, rows, base, moments, ones))
    tag_items, groups, merged = _measurement_groups(codes, measure_groups, tags)
    for rows in _rows_of_groups(groups, merged):
        module, environment, model = codes[rows[0], [0, 3, 4]].tolist()
        series_tags = measurement_series_tags(
            _MEASUREMENT,
            _MODULES[module],
            environments[environment],
            _Data(models[model]),
            dict(tag_items[int(rows[0])]),
            {},
        )
        out.append(series_of_rows(_MEASUREMENT, series_tags, rows, base, moments, fields))
    return n, out


def _measurement_groups(
    codes: np.ndarray, groups: int, texts: list[bytes]
) -> tuple[Any, np.ndarray, int]:
    """Each event's measurement group, its tags by row, and the number of groups.

    The scanner groups by the tags' text; equal tags written differently (key order,
    spacing, absent or ``{}``) are one series, so such groups are merged here.
    """
    ids = codes[:, 7]
    if not texts:
        return _NO_TAGS, ids, groups
    items: list[tuple[tuple[str, str], ...]] = [()]  # index 0: absent
    items += [tuple(sorted(_TAGS.decode(text).items())) for text in texts]
    canonical = {key: code for code, key in reversed(list(enumerate(items)))}
    tag_codes = np.array([canonical[key] for key in items], np.int64)[codes[:, 5] + 1]
    by_row = _ItemsByRow(items, tag_codes)
    if len(canonical) == len(items):
        return by_row, ids, groups
    firsts = np.unique(ids, return_index=True)[1]
    keys = [(*codes[first, [0, 3, 4]].tolist(), int(tag_codes[first])) for first in firsts]
    number: dict[tuple[int, ...], int] = {}
    remap = np.array([number.setdefault(key, len(number)) for key in keys], np.int64)
    return by_row, remap[ids], len(number)


class _ItemsByRow:
    """The tag items of a row, looked up only for each group's first row."""

    __slots__ = ("codes", "items")

    def __init__(self, items: list[tuple[tuple[str, str], ...]], codes: np.ndarray) -> None:
        self.items, self.codes = items, codes

    def __getitem__(self, row: int) -> tuple[tuple[str, str], ...]:
        return self.items[int(self.codes[row])]


class _NoTags:
    def __getitem__(self, row: int) -> tuple[tuple[str, str], ...]:
        return ()


_NO_TAGS = _NoTags()


def _rows_of_groups(ids: np.ndarray, groups: int) -> list[np.ndarray]:
    """Rows of each group (numbered in order of first appearance), ascending."""
    if groups == 1:
        return [np.arange(len(ids))]
    order = np.argsort(ids, kind="stable")
    return np.split(order, np.cumsum(np.bincount(ids, minlength=groups))[:-1])
