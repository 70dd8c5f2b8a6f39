"""The windowed aggregation engine of one ``hub.points`` partition, free of Kafka.

State and its durability, in short:

* 1-minute windows are the only ones fed with raw values; they live in memory.
  Larger windows (5m … 30d) are *roll-ups*: merged sketches of closed smaller
  windows, kept in a durable key-value store (a Faust table in the worker, a dict
  in ``hub replay``). A roll-up entry records which children it already holds,
  so merging is idempotent.
* A message may be acknowledged only once every window it fed is closed and
  persisted; after a crash the consumer resumes at the first unacknowledged
  message and the open 1-minute windows are rebuilt by replay.
* The watermark is the lowest progress over all source partitions, minus the
  allowed lateness (as Flink does across input partitions), so a source partition
  that lags in a backlog does not make the others' data late. A source's progress
  is the highest event time it has shown, or, once ingest has read it to its end
  (a *heartbeat*), the wall-clock time at which it was caught up. There is no
  wall-clock idle timeout: a source whose progress is unknown holds the watermark
  back, so a backlog is never closed early, and an idle but caught-up source
  advances through its heartbeats.
* The cursor (watermark, highest source offset applied per source partition)
  is persisted after each message. On replay, values for windows already closed
  are recognised as duplicates by their source offset; values for open windows
  are de-duplicated by the source offset ranges each window has absorbed.
* The engine never writes the store itself: it returns the writes, and the caller
  applies them only after the results they follow from are published. Publish
  first, then persist: a crash in between republishes an identical result
  instead of losing one.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field

import numpy as np
import orjson

from pipeline.ingest.point_batches import PointBatch, column_array
from pipeline.windows.sketch import QuantileSketch

BASE_WINDOW_S = 60
WINDOW_SIZES_S = (60, 300, 900, 3600, 21600, 86400, 604800, 2592000)
PARENTS: dict[int, tuple[int, ...]] = {
    60: (300,),
    300: (900,),
    900: (3600,),
    3600: (21600,),
    21600: (86400,),
    86400: (604800, 2592000),
}
CURSOR_KEY = "cursor"
ROLLUP_PREFIX = "r|"
GAUGE_PREFIX = "g|"
GAUGE_HISTORY = 2
"""Closed windows remembered per gauge series: the previous one gives ``delta``, and
keeping one more lets a window republished after a crash find the same previous."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    allowed_lateness_s: float = 2.0
    grace_s: float = 0.0
    gauge_fields: frozenset[tuple[str, str]] = frozenset()
    """(measurement, field) pairs published as gauges: they need the previous window's value."""
    histogram_bounds: Mapping[tuple[str, str], tuple[float, ...]] = field(default_factory=dict)
    """(measurement, field) -> bucket upper bounds: those fields count values into buckets."""


@dataclass(slots=True)
class WindowResult:
    """A closed window of one series field, ready to publish."""

    size_s: int
    start: int
    series_id: str
    measurement: str
    field: str
    tags: tuple[tuple[str, str], ...]
    sketch: QuantileSketch
    previous_last: float | None = None
    """Gauges: the latest value of the window just before this one, when it had data."""

    @property
    def end(self) -> int:
        return self.start + self.size_s


@dataclass(slots=True)
class LateValue:
    series_id: str
    measurement: str
    tags: tuple[tuple[str, str], ...]
    timestamp: float
    source: str
    source_offset: int
    fields: dict[str, float]
    watermark: float


@dataclass(slots=True)
class StepOutput:
    """What one message (data or heartbeat) produced.

    Publish ``results`` and ``late``, then apply ``writes``, then ack ``ackable``.
    """

    results: list[WindowResult] = field(default_factory=list)
    late: list[LateValue] = field(default_factory=list)
    writes: list[tuple[str, bytes | None]] = field(default_factory=list)
    ackable: list[int] = field(default_factory=list)
    applied_events: int = 0
    duplicate_events: int = 0


@dataclass(slots=True)
class _Rollup:
    measurement: str
    tags: tuple[tuple[str, str], ...]
    children: set[int]
    sketch: QuantileSketch

    def to_bytes(self) -> bytes:
        meta = orjson.dumps({"m": self.measurement, "t": self.tags, "c": sorted(self.children)})
        return meta + b"\n" + self.sketch.to_bytes()

    @classmethod
    def from_bytes(cls, raw: bytes) -> _Rollup:
        meta_raw, _, sketch_raw = raw.partition(b"\n")
        meta = orjson.loads(meta_raw)
        tags = tuple((k, v) for k, v in meta["t"])
        return cls(meta["m"], tags, set(meta["c"]), QuantileSketch.from_bytes(sketch_raw))


def _rollup_key(size: int, start: int, series_id: str, field_name: str) -> str:
    """Field names and series ids may hold any character: the field is length-prefixed."""
    return f"{ROLLUP_PREFIX}{size}|{start}|{len(field_name)}:{field_name}{series_id}"


def _gauge_key(size: int, series_id: str, field_name: str) -> str:
    return f"{GAUGE_PREFIX}{size}|{len(field_name)}:{field_name}{series_id}"


def _parse_gauge_key(key: str) -> tuple[int, str, str]:
    _, size, rest = key.split("|", 2)
    length, _, tail = rest.partition(":")
    n = int(length)
    return int(size), tail[n:], tail[:n]


def _parse_rollup_key(key: str) -> tuple[int, int, str, str]:
    _, size, start, rest = key.split("|", 3)
    length, _, tail = rest.partition(":")
    n = int(length)
    return int(size), int(start), tail[n:], tail[:n]


class PartitionEngine:
    """Event-time windows for one partition; see the module docstring for the protocol."""

    def __init__(
        self,
        store: MutableMapping[str, bytes],
        config: EngineConfig,
        sources: Iterable[str] = (),
    ) -> None:
        """``sources``: every source partition that may feed this one (``topic|partition``).

        Until each has shown data or a heartbeat it holds the watermark back, so one
        that starts late in a backlog is not late.
        """
        self.config = config
        self._bounds = {
            key: np.asarray(bounds, dtype=np.float64)
            for key, bounds in config.histogram_bounds.items()
        }
        self.watermark = -math.inf
        self.max_event_time = -math.inf
        self.applied: dict[str, int] = {}
        self.last_offset = -1
        self.source_time: dict[str, float] = {}
        self._meta: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
        # start -> (series_id, field) -> sketch of an open 1-minute window
        self._open: dict[int, dict[tuple[str, str], QuantileSketch]] = {}
        # (series_id, start, source) -> sorted disjoint [lo, hi] source-offset ranges absorbed
        self._ranges: dict[tuple[str, int, str], list[list[int]]] = {}
        # end of the latest window a message fed -> message offsets; acked once it closed
        self._unacked: dict[int, list[int]] = {}
        # (size, start) -> (series_id, field) -> roll-up entry
        self._rollups: dict[tuple[int, int], dict[tuple[str, str], _Rollup]] = {}
        # (size, series_id, field) -> {window start: latest value}, newest GAUGE_HISTORY
        self._gauge_last: dict[tuple[int, str, str], dict[int, float]] = {}
        self._restore(store)
        for source in sources:
            self.source_time.setdefault(source, -math.inf)

    # ---------------------------------------------------------------- restore
    def _restore(self, store: MutableMapping[str, bytes]) -> None:
        raw = store.get(CURSOR_KEY)
        if raw is not None:
            cursor = orjson.loads(raw)
            self.watermark = cursor["wm"] if cursor["wm"] is not None else -math.inf
            self.max_event_time = cursor["met"] if cursor["met"] is not None else -math.inf
            self.applied = dict(cursor["applied"])
            self.last_offset = cursor["offset"]
            self.source_time = dict(cursor.get("src", {}))
        for key in list(store.keys()):
            if key.startswith(GAUGE_PREFIX):
                self._gauge_last[_parse_gauge_key(key)] = {
                    int(start): value for start, value in orjson.loads(store[key])
                }
            elif key.startswith(ROLLUP_PREFIX):
                size, start, sid, name = _parse_rollup_key(key)
                entry = _Rollup.from_bytes(store[key])
                self._rollups.setdefault((size, start), {})[(sid, name)] = entry
                self._meta.setdefault(sid, (entry.measurement, entry.tags))

    @property
    def open_window_count(self) -> int:
        return sum(len(slots) for slots in self._open.values())

    @property
    def rollup_count(self) -> int:
        return sum(len(entries) for entries in self._rollups.values())

    def state_bytes(self) -> int:
        """Bytes the durable state takes (roll-ups + cursor): the per-sketch budget check."""
        rollups = sum(len(r.to_bytes()) for e in self._rollups.values() for r in e.values())
        return rollups + len(self._cursor_bytes())

    def _cursor_bytes(self) -> bytes:
        finite = math.isfinite
        return orjson.dumps(
            {
                "wm": self.watermark if finite(self.watermark) else None,
                "met": self.max_event_time if finite(self.max_event_time) else None,
                "applied": self.applied,
                "offset": self.last_offset,
                "src": {s: t for s, t in self.source_time.items() if math.isfinite(t)},
            }
        )

    # ----------------------------------------------------------------- ingest
    def _closed(self, start: int, size: int = BASE_WINDOW_S) -> bool:
        return start + size + self.config.grace_s <= self.watermark

    def apply(self, message_offset: int, batch: PointBatch) -> StepOutput:
        """Fold one ``hub.points`` message in, then close whatever the watermark allows."""
        out = StepOutput()
        source = batch.source
        applied_before = self.applied.get(source, -1)
        replayed = message_offset <= self.last_offset
        latest_end = -1
        highest_ts = -math.inf
        highest_offset = applied_before
        for series in batch.series:
            sid = series.series_id
            self._meta.setdefault(sid, (series.measurement, series.tags))
            offsets = np.asarray(series.offsets, dtype=np.int64)
            ts = np.asarray(series.timestamps, dtype=np.float64)
            starts = (np.floor(ts / BASE_WINDOW_S) * BASE_WINDOW_S).astype(np.int64)
            columns = {name: column_array(values) for name, values in series.fields.items()}
            if offsets.size:
                highest_offset = max(highest_offset, int(offsets.max()))
            for start in np.unique(starts).tolist():
                mask = starts == start
                if self._closed(start):
                    self._closed_window_values(
                        out, sid, source, offsets, ts, columns, mask, applied_before, replayed
                    )
                    continue
                keep = self._dedupe(sid, start, source, offsets, mask, out, batch.covered)
                if not keep.any():
                    continue
                n_new = int(keep.sum())
                out.applied_events += n_new
                kept_ts = ts[keep]
                for name, column in columns.items():
                    values = column[keep]
                    present = ~np.isnan(values)
                    values = values[present]
                    if values.size == 0:
                        continue
                    slots = self._open.setdefault(start, {})
                    sketch = slots.get((sid, name))
                    if sketch is None:
                        sketch = slots[(sid, name)] = QuantileSketch()
                    sketch.add_many(values)
                    sketch.observe_latest(kept_ts[present], values)
                    bounds = self._bounds.get((series.measurement, name))
                    if bounds is not None:
                        sketch.count_buckets(values, bounds)
                latest_end = max(latest_end, start + BASE_WINDOW_S)
                highest_ts = max(highest_ts, float(ts[keep].max()))
        self.applied[source] = highest_offset
        self.last_offset = max(self.last_offset, message_offset)
        progress = highest_ts if batch.progress is None else max(batch.progress, highest_ts)
        self._progress(source, progress)
        self.max_event_time = max(self.max_event_time, highest_ts)
        self._advance_watermark()
        self._unacked.setdefault(latest_end, []).append(message_offset)
        self._close(out)
        return out

    def heartbeat(self, message_offset: int, progress: Mapping[str, float]) -> StepOutput:
        """Ingest read these sources to their end: no event before these times is pending."""
        out = StepOutput()
        for source, moment in progress.items():
            self._progress(source, moment)
        self._advance_watermark()
        self.last_offset = max(self.last_offset, message_offset)
        self._unacked.setdefault(-1, []).append(message_offset)
        self._close(out)
        return out

    def _progress(self, source: str, moment: float) -> None:
        if moment > self.source_time.get(source, -math.inf):
            self.source_time[source] = moment

    def _advance_watermark(self) -> None:
        if not self.source_time:
            return
        candidate = min(self.source_time.values()) - self.config.allowed_lateness_s
        if math.isfinite(candidate):
            self.watermark = max(self.watermark, candidate)

    def _closed_window_values(
        self,
        out: StepOutput,
        sid: str,
        source: str,
        offsets: np.ndarray,
        ts: np.ndarray,
        columns: dict[str, np.ndarray],
        mask: np.ndarray,
        applied_before: int,
        replayed: bool,
    ) -> None:
        """Values for a window already closed: duplicates are skipped, genuinely late ones kept."""
        measurement, tags = self._meta[sid]
        reported: set[int] = set()
        for i in np.flatnonzero(mask).tolist():
            offset = int(offsets[i])
            if replayed or offset <= applied_before or offset in reported:
                out.duplicate_events += 1
                continue
            reported.add(offset)
            fields = {
                name: float(col[i]) for name, col in columns.items() if not math.isnan(col[i])
            }
            out.late.append(
                LateValue(
                    sid, measurement, tags, float(ts[i]), source, offset, fields, self.watermark
                )
            )

    def _dedupe(
        self,
        sid: str,
        start: int,
        source: str,
        offsets: np.ndarray,
        mask: np.ndarray,
        out: StepOutput,
        covered: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """Mask of values not yet absorbed by this open window; records the new ones.

        A redelivered message can sit twice in one ingest batch, so offsets are also
        de-duplicated within the batch, not only against earlier ones. When the batch
        says which source offsets it holds completely (``covered``), the window records
        that span: one range per batch, however the series' events interleave with
        others (one range per event would make a window's state grow with its traffic).
        """
        key = (sid, start, source)
        ranges = self._ranges.setdefault(key, [])
        positions = np.flatnonzero(mask)
        chosen = offsets[positions]
        if chosen.size > 1 and not bool(np.all(chosen[1:] > chosen[:-1])):
            chosen, first = np.unique(chosen, return_index=True)
            positions = positions[first]
        spans_batch = covered is not None and covered[0] <= chosen[0] and chosen[-1] <= covered[1]
        if ranges and int(chosen[0]) <= ranges[-1][1]:
            seen = np.array([_in_ranges(ranges, int(o)) for o in chosen.tolist()], dtype=bool)
            positions = positions[~seen]
            chosen = chosen[~seen]
        keep = np.zeros_like(mask)
        keep[positions] = True
        out.duplicate_events += int(mask.sum()) - int(positions.size)
        if spans_batch:
            assert covered is not None
            _add_to_ranges(ranges, covered[0], covered[1])
        elif chosen.size:
            # contiguous runs at once: a batch message's events have consecutive offsets
            breaks = np.flatnonzero(np.diff(chosen) != 1)
            lows = chosen[np.concatenate(([0], breaks + 1))].tolist()
            highs = chosen[np.concatenate((breaks, [chosen.size - 1]))].tolist()
            for low, high in zip(lows, highs, strict=True):
                _add_to_ranges(ranges, low, high)
        return keep

    # ------------------------------------------------------------------ close
    def _close(self, out: StepOutput) -> None:
        """Close due 1m windows, then due roll-ups smallest first; queue writes in safe order."""
        merges: dict[tuple[int, int, str, str], None] = {}
        due_starts = sorted(start for start in self._open if self._closed(start))
        for start in due_starts:
            for (sid, name), sketch in sorted(self._open.pop(start).items()):
                measurement, tags = self._meta[sid]
                out.results.append(
                    WindowResult(BASE_WINDOW_S, start, sid, measurement, name, tags, sketch)
                )
                self._merge_into_parents(BASE_WINDOW_S, start, sid, name, sketch, merges)
        if due_starts:
            closed = set(due_starts)
            for key in [k for k in self._ranges if k[1] in closed]:
                del self._ranges[key]
        deletions: list[str] = []
        finals: list[tuple[str, bytes]] = []
        for size in WINDOW_SIZES_S[1:]:
            ready = sorted(k for k in self._rollups if k[0] == size and self._closed(k[1], size))
            for size_start in ready:
                start = size_start[1]
                for (sid, name), entry in sorted(self._rollups.pop(size_start).items()):
                    out.results.append(
                        WindowResult(
                            size, start, sid, entry.measurement, name, entry.tags, entry.sketch
                        )
                    )
                    self._merge_into_parents(size, start, sid, name, entry.sketch, merges)
                    key = (size, start, sid, name)
                    if merges.pop(key, "unchanged") is None:
                        # Changed in this pass: persist its final state before the cursor,
                        # so a crash before the deletion republishes the same result.
                        finals.append((_rollup_key(*key), entry.to_bytes()))
                    deletions.append(_rollup_key(*key))
        for key in merges:
            size, start, sid, name = key
            out.writes.append(
                (_rollup_key(*key), self._rollups[(size, start)][(sid, name)].to_bytes())
            )
        out.writes.extend(self._gauge_history(out.results))
        out.writes.extend(finals)
        out.writes.append((CURSOR_KEY, self._cursor_bytes()))
        out.writes.extend((key, None) for key in deletions)
        done: list[int] = []
        for end in [e for e in self._unacked if e < 0 or self._closed(e - BASE_WINDOW_S)]:
            done.extend(self._unacked.pop(end))
        out.ackable = sorted(done)

    def _gauge_history(self, results: list[WindowResult]) -> list[tuple[str, bytes]]:
        """Give gauge results their previous window's value; remember theirs (durably)."""
        gauges = self.config.gauge_fields
        if not gauges:
            return []
        writes: dict[str, bytes] = {}
        for result in results:
            if (result.measurement, result.field) not in gauges:
                continue
            key = (result.size_s, result.series_id, result.field)
            history = self._gauge_last.setdefault(key, {})
            result.previous_last = history.get(result.start - result.size_s)
            if math.isnan(result.sketch.last_value):
                continue  # a sketch stored before gauges existed: nothing to remember
            history[result.start] = result.sketch.last_value
            for old in sorted(history)[:-GAUGE_HISTORY]:
                del history[old]
            writes[_gauge_key(*key)] = orjson.dumps(sorted(history.items()))
        return list(writes.items())

    def _merge_into_parents(
        self,
        size: int,
        start: int,
        sid: str,
        name: str,
        sketch: QuantileSketch,
        merges: dict[tuple[int, int, str, str], None],
    ) -> None:
        measurement, tags = self._meta[sid]
        for parent in PARENTS.get(size, ()):
            pstart = start - start % parent
            entries = self._rollups.setdefault((parent, pstart), {})
            entry = entries.get((sid, name))
            if entry is None:
                entry = entries[(sid, name)] = _Rollup(measurement, tags, set(), QuantileSketch())
            if start in entry.children:
                continue  # merged before a restart already: merging is idempotent
            entry.children.add(start)
            entry.sketch.merge(sketch)
            merges[(parent, pstart, sid, name)] = None

    def close_all(self) -> StepOutput:
        """End of input (offline replay): every window is final."""
        self.watermark = math.inf
        out = StepOutput()
        self._close(out)
        return out


def _in_ranges(ranges: list[list[int]], offset: int) -> bool:
    i = bisect.bisect_right(ranges, [offset, math.inf]) - 1
    return i >= 0 and ranges[i][0] <= offset <= ranges[i][1]


def _add_to_ranges(ranges: list[list[int]], low: int, high: int) -> None:
    """Add offsets ``low..high`` (some may be there already), merging neighbours."""
    if not ranges or low > ranges[-1][1] + 1:
        ranges.append([low, high])
        return
    if low > ranges[-1][0]:
        ranges[-1][1] = max(ranges[-1][1], high)
        return
    i = bisect.bisect_right(ranges, [low, math.inf])
    ranges.insert(i, [low, high])
    merged: list[list[int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    ranges[:] = merged
