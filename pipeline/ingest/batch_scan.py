"""Latency batches through the compiled scanner (``pipeline/ingest/_batch_scan.c``).

msgspec builds a struct per event and the columnar path then pulls every field back
out, about 3.5 µs per event, the largest cost left in the worker
(docs/BENCHMARKS.md). The scanner writes the columns in one pass over the bytes;
this module turns them into the same series groups as :func:`pipeline.ingest.fast_columns.
fast_columns` (``tests/unit/ingest/test_batch_scan.py`` checks that they are equal).

If the extension was not built (no C compiler at install time) or
``HUB_COMPILED_SCAN=0`` is set, :data:`COMPILED` is False and every batch takes the
msgspec path: slower, same results.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import msgspec
import numpy as np

from pipeline.ingest.fast_columns import MIN_EVENTS, series_of_rows
from pipeline.ingest.normalize import LATENCY_FIELDS, count_series_tags, measurement_series_tags
from pipeline.ingest.point_batches import SeriesColumns
from pipeline.models.events import EventType, Severity, SourceModule

_scanner: ModuleType | None
try:
    from pipeline.ingest import _batch_scan as _scanner
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
    n = scanned[0]
    moments = np.frombuffer(scanned[1], np.float64)[:n]
    if moments.max() > now + future_s or moments.min() < now - past_s:
        return None
    return n, _series(scanned, np.arange(n, dtype=np.int64) + base, None)


def scanned_messages(
    raws: Sequence[bytes], offsets: np.ndarray, now: float, future_s: float, past_s: float
) -> tuple[np.ndarray, list[SeriesColumns]] | None:
    """Messages of one latency event each, as one batch: which messages it took (a mask)
    and their events' series groups, event ``i`` at ``offsets[i]``. Messages it did not
    take (another payload, an array, anything to explain or refuse, a timestamp out of
    bounds) are the caller's, for the per-message paths. None: the scanner is off."""
    if _scanner is None:
        return None
    scanned, mask = _scanner.scan_latency_each(raws)
    taken = np.frombuffer(mask, np.uint8).astype(bool)
    if scanned is None:  # the rows could not be grouped: every message takes its own path
        return np.zeros(len(raws), dtype=bool), []
    n = scanned[0]
    if n == 0:
        return taken, []
    moments = np.frombuffer(scanned[1], np.float64)[:n]
    plausible = (moments <= now + future_s) & (moments >= now - past_s)
    keep = None
    if not plausible.all():  # those messages get their precise rejection elsewhere
        taken[np.flatnonzero(taken)[~plausible]] = False
        keep = plausible
    return taken, _series(scanned, np.asarray(offsets)[taken], keep)


def _series(
    scanned: tuple[Any, ...], offsets: np.ndarray, keep: np.ndarray | None
) -> list[SeriesColumns]:
    """The scanner's rows as series groups; ``offsets``: each kept row's source offset;
    ``keep``: the rows to keep (None: all)."""
    n, value_bytes, code_bytes, count_groups, measure_groups, environments, models, tags = scanned
    values = np.frombuffer(value_bytes, np.float64).reshape(len(LATENCY_FIELDS) + 1, n)
    codes = np.frombuffer(code_bytes, np.int32).reshape(n, 8)
    if keep is not None:
        values, codes = values[:, keep], codes[keep]
    n = codes.shape[0]
    moments = values[0]
    fields = {}
    for name, column in zip(LATENCY_FIELDS, values[1:], strict=True):
        present = ~np.isnan(column)
        fields[name] = (column, None if present.all() else present)
    ones: dict[str, tuple[np.ndarray, np.ndarray | None]] = {"count": (np.ones(n), None)}
    out = []
    for rows in _rows_of_groups(codes[:, 6], count_groups):
        if not rows.size:
            continue
        module, event_type, severity, environment = codes[rows[0], :4].tolist()
        series_tags = count_series_tags(
            _MODULES[module],
            environments[environment],
            _EVENT_TYPES[event_type],
            _SEVERITIES[severity],
            _VARIANT,
        )
        out.append(series_of_rows("hub_events", series_tags, rows, offsets, moments, ones))
    tag_items, groups, merged = _measurement_groups(codes, measure_groups, tags)
    for rows in _rows_of_groups(groups, merged):
        if not rows.size:
            continue
        module, environment, model = codes[rows[0], [0, 3, 4]].tolist()
        series_tags = measurement_series_tags(
            _MEASUREMENT,
            _MODULES[module],
            environments[environment],
            _Data(models[model]),
            dict(tag_items[int(rows[0])]),
            {},
        )
        out.append(series_of_rows(_MEASUREMENT, series_tags, rows, offsets, moments, fields))
    return out


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
    present, firsts = np.unique(ids, return_index=True)  # rows may have been dropped
    keys = [(*codes[first, [0, 3, 4]].tolist(), int(tag_codes[first])) for first in firsts]
    number: dict[tuple[int, ...], int] = {}
    remap = np.zeros(groups, np.int64)
    remap[present] = [number.setdefault(key, len(number)) for key in keys]
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
