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

import numpy as np
import orjson

from pipeline.normalize import Point
from pipeline.windows import series_id_of


@dataclass(slots=True)
class SeriesColumns:
    """Events of one series: offsets, timestamps and one value column per field (NaN = absent)."""

    measurement: str
    tags: tuple[tuple[str, str], ...]
    offsets: list[int] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    fields: dict[str, list[float | None]] = field(default_factory=dict)

    @property
    def series_id(self) -> str:
        return series_id_of(self.measurement, self.tags)

    def append(self, offset: int, point: Point) -> None:
        n = len(self.offsets)
        self.offsets.append(offset)
        self.timestamps.append(point.timestamp)
        for name, column in self.fields.items():
            if name not in point.fields:
                column.append(None)
        for name, value in point.fields.items():
            column = self.fields.get(name)
            if column is None:
                column = self.fields[name] = [None] * n
            column.append(value)

    def extend(self, other: SeriesColumns) -> None:
        """Append another group of the same series (absent fields become None)."""
        n, m = len(self.offsets), len(other.offsets)
        self.offsets.extend(other.offsets)
        self.timestamps.extend(other.timestamps)
        for name, column in self.fields.items():
            if name not in other.fields:
                column.extend([None] * m)
        for name, values in other.fields.items():
            column = self.fields.get(name)
            if column is None:
                column = self.fields[name] = [None] * n
            column.extend(values)


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
        self._by_series: dict[tuple[str, tuple[tuple[str, str], ...]], SeriesColumns] = {}
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
        columns = self._by_series.get(key)
        if columns is None:
            columns = self._by_series[key] = SeriesColumns(point.measurement, point.tags)
        columns.append(offset, point)

    def add_columns(self, columns: SeriesColumns) -> None:
        """A whole group of one series (offsets ascending), merged into what is there."""
        if not columns.timestamps:
            return
        latest = max(columns.timestamps)
        if self.progress is None or latest > self.progress:
            self.progress = latest
        key = (columns.measurement, columns.tags)
        existing = self._by_series.get(key)
        if existing is None:
            self._by_series[key] = columns
        else:
            existing.extend(columns)

    def route(
        self, source_topic: str, source_partition: int, partitions: int
    ) -> dict[int, PointBatch]:
        """Every destination partition's batch, empty or not, carrying the source's progress,
        so each partition's watermark knows how far every source has come."""
        batches = {
            dest: PointBatch(source_topic, source_partition, [], self.progress, self.covered)
            for dest in range(partitions)
        }
        for columns in self._by_series.values():
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


def encode_batch(batch: PointBatch) -> bytes:
    return orjson.dumps(
        {
            "src": [batch.source_topic, batch.source_partition],
            "progress": batch.progress,
            "covered": batch.covered,
            "series": [
                [s.measurement, s.tags, s.offsets, s.timestamps, s.fields] for s in batch.series
            ],
        }
    )


def decode_batch(raw: bytes) -> PointBatch:
    doc = orjson.loads(raw)
    topic, partition = doc["src"]
    series = [
        SeriesColumns(m, tuple((k, v) for k, v in tags), offsets, ts, fields)
        for m, tags, offsets, ts, fields in doc["series"]
    ]
    covered = doc.get("covered")
    return PointBatch(
        topic, partition, series, doc.get("progress"), None if covered is None else tuple(covered)
    )


def column_array(values: list[float | None]) -> np.ndarray:
    """A field column as float64 with NaN where the event had no value."""
    return np.array(values, dtype=np.float64)


def is_absent(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
