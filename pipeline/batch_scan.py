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

import msgspec
import numpy as np

from pipeline.fast_columns import series_of_rows
from pipeline.models.events import EventType, Severity, SourceModule
from pipeline.normalize import count_series_tags, measurement_series_tags
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

MIN_EVENTS = 8
"""As the msgspec columnar path: shorter arrays gain nothing from columns."""
_FIELDS = (
    "total_latency_ms",
    "ttft_ms",
    "tokens_per_second",
    "queue_time_ms",
    "processing_time_ms",
    "network_time_ms",
    "other_ms",
)
"""Value columns 1-7 of the scanner, in the order the msgspec path lists them."""
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
    n, value_bytes, code_bytes, environments, models, tag_texts = scanned
    values = np.frombuffer(value_bytes, np.float64).reshape(n, len(_FIELDS) + 1)
    moments = np.ascontiguousarray(values[:, 0])
    if moments.max() > now + future_s or moments.min() < now - past_s:
        return None
    codes = np.frombuffer(code_bytes, np.int32).reshape(n, 6).astype(np.int64)
    tag_items, tag_codes = _canonical_tags(tag_texts, codes[:, 5])
    fields = {}
    for column, name in enumerate(_FIELDS, start=1):
        field = np.ascontiguousarray(values[:, column])
        present = ~np.isnan(field)
        fields[name] = (field, None if present.all() else present)
    ones: dict[str, tuple[np.ndarray, np.ndarray | None]] = {"count": (np.ones(n), None)}
    out = []
    for (module, event_type, severity, environment), rows in _groups(codes[:, [0, 1, 2, 3]]):
        tags = count_series_tags(
            _MODULES[module],
            environments[environment],
            _EVENT_TYPES[event_type],
            _SEVERITIES[severity],
            _VARIANT,
        )
        out.append(series_of_rows("hub_events", tags, rows, base, moments, ones))
    keys = np.column_stack((codes[:, 0], codes[:, 3], codes[:, 4], tag_codes))
    for (module, environment, model, tag_code), rows in _groups(keys):
        tags = measurement_series_tags(
            _MEASUREMENT,
            _MODULES[module],
            environments[environment],
            _Data(models[model]),
            dict(tag_items[tag_code]),
            {},
        )
        out.append(series_of_rows(_MEASUREMENT, tags, rows, base, moments, fields))
    return n, out


def _canonical_tags(
    texts: list[bytes], codes: np.ndarray
) -> tuple[list[tuple[tuple[str, str], ...]], np.ndarray]:
    """Each distinct tags text decoded once; texts with equal items in any order (or none)
    share a code.

    Code 0 is "no tags" (absent or ``{}``), as the msgspec path groups them.
    """
    items: list[tuple[tuple[str, str], ...]] = [()]
    code_of: dict[tuple[tuple[str, str], ...], int] = {(): 0}
    remap = np.empty(len(texts) + 1, np.int64)
    remap[0] = 0  # absent (-1 + 1)
    for index, text in enumerate(texts, start=1):
        key = tuple(sorted(_TAGS.decode(text).items()))
        if key not in code_of:
            code_of[key] = len(items)
            items.append(key)
        remap[index] = code_of[key]
    return items, remap[codes + 1]


def _groups(keys: np.ndarray) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Rows of each distinct key row (small non-negative codes), keys in order of first
    appearance, rows ascending."""
    if (keys == keys[0]).all():
        return [(tuple(int(k) for k in keys[0]), np.arange(len(keys)))]
    combined = keys[:, 0].copy()
    span = int(combined.max()) + 1
    for column in range(1, keys.shape[1]):
        size = int(keys[:, column].max()) + 1
        span *= size
        if span >= 2**62:  # codes too many to pack in one integer: compare whole rows
            _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            return _grouped(keys, first, inverse)
        combined = combined * size + keys[:, column]
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return _grouped(keys, first, inverse)


def _grouped(
    keys: np.ndarray, first: np.ndarray, inverse: np.ndarray
) -> list[tuple[tuple[int, ...], np.ndarray]]:
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    rows_of = np.split(order, np.cumsum(np.bincount(inverse, minlength=len(first)))[:-1])
    return [(tuple(int(k) for k in keys[first[g]]), rows_of[g]) for g in np.argsort(first)]
