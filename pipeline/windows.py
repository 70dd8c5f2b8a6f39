"""Event-time tumbling windows with a watermark, independent of Kafka.

One ``WindowAggregator`` serves one partition of the repartitioned point stream,
so each series is aggregated in exactly one place. The watermark is the highest
event time seen minus the allowed lateness; a window closes once the watermark
passes its end plus the grace period, and its result is emitted exactly once.
An idle partition advances its watermark from the wall clock so results are not
held back forever when producers go quiet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pipeline.sketch import QuantileSketch


def window_start(ts: float, size_s: int) -> int:
    """Start (epoch seconds) of the epoch-aligned tumbling window holding ``ts``."""
    return math.floor(ts / size_s) * size_s


@dataclass(frozen=True, slots=True)
class SeriesField:
    """What one sketch measures: a series (measurement + tags) and one of its fields."""

    series_id: str
    measurement: str
    field: str
    tags: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class ClosedWindow:
    key: SeriesField
    size_s: int
    start: int
    sketch: QuantileSketch

    @property
    def end(self) -> int:
        return self.start + self.size_s


@dataclass
class WindowAggregator:
    """Sketches per (series field, window start) for one window size and one partition."""

    size_s: int
    allowed_lateness_s: float = 5.0
    grace_s: float = 0.0
    watermark: float = -math.inf
    max_event_time: float = -math.inf
    open_windows: dict[tuple[SeriesField, int], QuantileSketch] = field(default_factory=dict)
    late_count: int = 0

    def is_late(self, ts: float) -> bool:
        """True when the window holding ``ts`` has already been closed and emitted."""
        return window_start(ts, self.size_s) + self.size_s + self.grace_s <= self.watermark

    def add(self, key: SeriesField, ts: float, value: float) -> bool:
        """Fold one value in; returns False (and counts it) when it arrived too late."""
        if self.is_late(ts):
            self.late_count += 1
            return False
        slot = (key, window_start(ts, self.size_s))
        sketch = self.open_windows.get(slot)
        if sketch is None:
            sketch = self.open_windows[slot] = QuantileSketch()
        sketch.add(value)
        return True

    def add_many(self, key: SeriesField, ts: Sequence[float], values: Sequence[float]) -> int:
        """Batch form of :meth:`add` for one series field; returns how many were late."""
        grouped: dict[int, list[float]] = {}
        late = 0
        for t, v in zip(ts, values, strict=True):
            if self.is_late(t):
                late += 1
                continue
            grouped.setdefault(window_start(t, self.size_s), []).append(v)
        for start, vals in grouped.items():
            slot = (key, start)
            sketch = self.open_windows.get(slot)
            if sketch is None:
                sketch = self.open_windows[slot] = QuantileSketch()
            sketch.add_many(vals)
        self.late_count += late
        return late

    def observe_event_time(self, ts: float) -> None:
        """Advance the watermark from event time (called for every accepted point)."""
        if ts > self.max_event_time:
            self.max_event_time = ts
            self.watermark = max(self.watermark, ts - self.allowed_lateness_s)

    def advance_idle(self, wall_now: float) -> None:
        """Idle partition: let wall-clock time stand in for event time."""
        self.watermark = max(self.watermark, wall_now - self.allowed_lateness_s)

    def close_due(self) -> list[ClosedWindow]:
        """Remove and return every window whose end plus grace the watermark has passed."""
        due = [
            slot
            for slot in self.open_windows
            if slot[1] + self.size_s + self.grace_s <= self.watermark
        ]
        due.sort(key=lambda slot: (slot[1], slot[0].series_id, slot[0].field))
        return [
            ClosedWindow(slot[0], self.size_s, slot[1], self.open_windows.pop(slot)) for slot in due
        ]

    def close_all(self) -> list[ClosedWindow]:
        """End of input (offline replay): emit everything still open."""
        self.watermark = math.inf
        return self.close_due()


def series_id_of(measurement: str, tags: Iterable[tuple[str, str]]) -> str:
    """Stable identity of a series: measurement plus sorted tag pairs."""
    return measurement + "|" + ",".join(f"{k}={v}" for k, v in sorted(tags))
