"""The internal ``hub.points`` messages: points of one source partition grouped by
series, and progress heartbeats.

Points are re-keyed by series so that each series is aggregated by exactly one
partition. Each series group carries the source offset of every event next to
its timestamp and field values (columnar, so the aggregator can use numpy), which
makes state updates idempotent: a redelivered event is recognised by its source
topic, partition and offset.

A heartbeat says that ingest has read some source partitions to their end: every
event appended to them before the given wall-clock time is already in ``hub.points``
ahead of the heartbeat, so their progress is at least that time.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from pipeline.ingest.normalize import Point
from pipeline.windows.alignment import series_id_of

Column = list[float | None] | np.ndarray
"""A field column: a list (None = absent) from the per-event paths, or float64 with NaN."""


@dataclass(slots=True)
class SeriesColumns:
    """Events of one series: offsets, timestamps and one value column per field.

    The per-event paths fill lists point by point; the columnar path and decoded
    ``hub.points`` messages hold numpy arrays (NaN = absent). Consumers take either
    through ``np.asarray``.
    """

    measurement: str
    tags: tuple[tuple[str, str], ...]
    offsets: list[int] | np.ndarray = field(default_factory=list)
    timestamps: list[float] | np.ndarray = field(default_factory=list)
    fields: dict[str, Column] = field(default_factory=dict)

    @property
    def series_id(self) -> str:
        return series_id_of(self.measurement, self.tags)

    def append(self, offset: int, point: Point) -> None:
        """One point more (list columns only: the per-event paths' groups)."""
        n = len(self.offsets)
        self.offsets.append(offset)  # type: ignore[union-attr]
        self.timestamps.append(point.timestamp)  # type: ignore[union-attr]
        for name, column in self.fields.items():
            if name not in point.fields:
                column.append(None)  # type: ignore[union-attr]
        for name, value in point.fields.items():
            existing = self.fields.get(name)
            if existing is None:
                existing = self.fields[name] = [None] * n
            existing.append(value)  # type: ignore[union-attr]


def concat_columns(chunks: list[SeriesColumns]) -> SeriesColumns:
    """Chunks of one series, in order, as one group of arrays (absent fields become NaN)."""
    first = chunks[0]
    names = list(dict.fromkeys(name for chunk in chunks for name in chunk.fields))
    fields = {
        name: np.concatenate(
            [
                np.asarray(chunk.fields[name], dtype=np.float64)
                if name in chunk.fields
                else np.full(len(chunk.offsets), np.nan)
                for chunk in chunks
            ]
        )
        for name in names
    }
    return SeriesColumns(
        first.measurement,
        first.tags,
        np.concatenate([np.asarray(chunk.offsets, dtype=np.int64) for chunk in chunks]),
        np.concatenate([np.asarray(chunk.timestamps, dtype=np.float64) for chunk in chunks]),
        fields,
    )


@dataclass(slots=True)
class PointBatch:
    """One message of ``hub.points``: series groups from one source partition."""

    source_topic: str
    source_partition: int
    series: list[SeriesColumns]
    progress: float | None = None
    """Highest event time the source partition has shown, sent to every partition (watermarks)."""
    covered: tuple[int, int] | None = None
    """Source offsets ``[low, high]`` whose points this batch holds completely (for its
    destination): every point of those source offsets routed here is in it. Lets an open
    window record one range per batch instead of one per event (None: unknown)."""

    @property
    def source(self) -> str:
        return f"{self.source_topic}|{self.source_partition}"

    def event_count(self) -> int:
        return sum(len(s.offsets) for s in self.series)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Progress of caught-up source partitions (``topic|partition`` -> epoch seconds)."""

    progress: dict[str, float]


def encode_heartbeat(heartbeat: Heartbeat) -> bytes:
    return orjson.dumps({"heartbeat": heartbeat.progress})


def decode_points_message(raw: bytes) -> PointBatch | Heartbeat:
    """Either message of ``hub.points``; a heartbeat is a small object with one key."""
    if raw.startswith(b'{"heartbeat"'):
        progress = orjson.loads(raw)["heartbeat"]
        return Heartbeat({str(k): float(v) for k, v in progress.items()})
    return decode_batch(raw)


def partition_for_series(series_id: str, partitions: int) -> int:
    """Deterministic series-to-partition routing (the same on every worker)."""
    return zlib.crc32(series_id.encode()) % partitions


class SourceGroups:
    """The series groups of one source partition's points, before routing.

    Filled point by point (the per-event paths) or with whole columns (the columnar
    batch path); either way each series ends up in one group.
    """

    def __init__(self) -> None:
        self._chunks: dict[tuple[str, tuple[tuple[str, str], ...]], list[SeriesColumns]] = {}
        self._filling: dict[tuple[str, tuple[tuple[str, str], ...]], SeriesColumns] = {}
        """The chunk ``add_point`` appends to, per series, until whole columns follow it."""
        self.progress: float | None = None
        self.covered: tuple[int, int] | None = None

    def cover(self, low: int, high: int) -> None:
        """Source offsets ``low..high`` are read, whether or not they yield points: the
        messages of one source in a poll are contiguous, so the span stays exact."""
        if self.covered is None:
            self.covered = (low, high)
        else:
            self.covered = (min(self.covered[0], low), max(self.covered[1], high))

    def add_point(self, offset: int, point: Point) -> None:
        if self.progress is None or point.timestamp > self.progress:
            self.progress = point.timestamp
        key = (point.measurement, point.tags)  # cheaper to hash than building the id
        columns = self._filling.get(key)
        if columns is None:
            columns = self._filling[key] = SeriesColumns(point.measurement, point.tags)
            self._chunks.setdefault(key, []).append(columns)
        columns.append(offset, point)

    def add_columns(self, columns: SeriesColumns) -> None:
        """A whole group of one series (offsets ascending), after what is there."""
        if not len(columns.timestamps):
            return
        latest = float(np.max(columns.timestamps))
        if self.progress is None or latest > self.progress:
            self.progress = latest
        key = (columns.measurement, columns.tags)
        self._filling.pop(key, None)
        self._chunks.setdefault(key, []).append(columns)

    def route(
        self, source_topic: str, source_partition: int, partitions: int
    ) -> dict[int, PointBatch]:
        """Every destination partition's batch, empty or not, carrying the source's progress,
        so each partition's watermark knows how far every source has come."""
        batches = {
            dest: PointBatch(source_topic, source_partition, [], self.progress, self.covered)
            for dest in range(partitions)
        }
        for chunks in self._chunks.values():
            columns = chunks[0] if len(chunks) == 1 else concat_columns(chunks)
            batches[partition_for_series(columns.series_id, partitions)].series.append(columns)
        return batches


def group_points(
    source_topic: str,
    source_partition: int,
    items: Iterable[tuple[int, Point]],
    partitions: int,
) -> dict[int, PointBatch]:
    """Route (offset, point) pairs to every destination partition, grouped by series."""
    groups = SourceGroups()
    for offset, point in items:
        groups.add_point(offset, point)
    return groups.route(source_topic, source_partition, partitions)


_BINARY = b"\x00hp2"
"""Leads a binary batch; the older JSON form starts with ``{`` (still read, for upgrades)."""
_OFFSET = np.dtype("<i8")
_FLOAT = np.dtype("<f8")


def encode_batch(batch: PointBatch) -> bytes:
    """A small JSON header (source, progress, span, each series' tags, length and field
    names) and then every column's raw little-endian bytes: no float is formatted or
    parsed on the way through Kafka, and the aggregator reads the columns in place."""
    header = {
        "src": [batch.source_topic, batch.source_partition],
        "progress": batch.progress,
        "covered": batch.covered,
        "series": [[s.measurement, s.tags, len(s.offsets), list(s.fields)] for s in batch.series],
    }
    body = []
    for s in batch.series:
        body.append(np.asarray(s.offsets, dtype=_OFFSET).tobytes())
        body.append(np.asarray(s.timestamps, dtype=_FLOAT).tobytes())
        body.extend(np.asarray(column, dtype=_FLOAT).tobytes() for column in s.fields.values())
    head = orjson.dumps(header)
    return b"".join([_BINARY, len(head).to_bytes(4, "little"), head, *body])


def decode_batch(raw: bytes) -> PointBatch:
    if not raw.startswith(_BINARY):
        return _decode_json_batch(raw)
    start = len(_BINARY) + 4
    end = start + int.from_bytes(raw[len(_BINARY) : start], "little")
    doc = orjson.loads(raw[start:end])
    series = []
    at = end
    for measurement, tags, n, names in doc["series"]:
        offsets = np.frombuffer(raw, _OFFSET, n, at)
        at += 8 * n
        columns = []
        for _ in range(len(names) + 1):
            columns.append(np.frombuffer(raw, _FLOAT, n, at))
            at += 8 * n
        fields = dict(zip(names, columns[1:], strict=True))
        series.append(SeriesColumns(measurement, _tags(tags), offsets, columns[0], fields))
    if at != len(raw):
        raise ValueError(f"hub.points batch has {len(raw) - at} bytes beyond its columns")
    return _batch(doc, series)


def _tags(pairs: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in pairs)


def _batch(doc: dict[str, Any], series: list[SeriesColumns]) -> PointBatch:
    topic, partition = doc["src"]
    covered = doc.get("covered")
    return PointBatch(
        topic, partition, series, doc.get("progress"), None if covered is None else tuple(covered)
    )


def _decode_json_batch(raw: bytes) -> PointBatch:
    """The JSON form written before the binary one (lists; None = absent)."""
    doc = orjson.loads(raw)
    series = [
        SeriesColumns(m, _tags(tags), offsets, ts, fields)
        for m, tags, offsets, ts, fields in doc["series"]
    ]
    return _batch(doc, series)


def column_array(values: Column) -> np.ndarray:
    """A field column as float64 with NaN where the event had no value (arrays as they are)."""
    return np.asarray(values, dtype=np.float64)


def is_absent(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
