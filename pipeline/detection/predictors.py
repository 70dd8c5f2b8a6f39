"""What a series' next value should be: its recent level, or its value at this time of day
or week. The series detector keeps all of them and scores against the one that has
predicted this series best lately (so seasonality is detected per series, not assumed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import median

import numpy as np

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S


def median_of(values: np.ndarray) -> float:
    """np.median of a 1-d array, by partition (np.median's own checks cost ~20 µs a call,
    and every point computes several)."""
    n = len(values)
    half = n // 2
    if n % 2:
        return float(np.partition(values, half)[half])
    low, high = np.partition(values, (half - 1, half))[half - 1 : half + 1]
    return (float(low) + float(high)) / 2.0


@dataclass(slots=True)
class RecentLevel:
    """The median of the last ``points`` values: follows ramps and level shifts within
    half as many points; one outlier cannot move it."""

    points: int = 15
    _values: list[float] = field(default_factory=list)
    _next: int = 0

    @property
    def ready(self) -> bool:
        return len(self._values) >= self.points

    def predict(self, timestamp: float) -> float | None:
        if not self.ready:
            return None
        return median(self._values)

    def add(self, timestamp: float, value: float, anomalous: bool = False) -> None:
        if len(self._values) < self.points:
            self._values.append(value)
        else:
            self._values[self._next] = value
        self._next = (self._next + 1) % self.points


@dataclass(slots=True)
class SeasonalProfile:
    """The median of the values at the same phase of the last ``cycles`` periods
    (a day or a week), in slots of the series' own spacing, at most ``max_slots`` per
    period (a week of minutes is coarsened to 5-minute slots). An anomalous value is
    not stored once its slot holds one (yesterday's incident is not today's normal);
    ``shift`` moves the whole profile when the series settles at a new level."""

    period: float
    step: float
    cycles: int = 3
    max_slots: int = 2016
    min_cycles: int = 1
    _width: float = 0.0
    _values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    _filled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    _last: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    """Per slot: the period index of its last value (one value per slot and period)."""

    def __post_init__(self) -> None:
        self._width = max(self.step, self.period / self.max_slots)
        slots = math.ceil(self.period / self._width)
        self._values = np.zeros((slots, self.cycles), dtype=np.float32)
        self._filled = np.zeros(slots, dtype=np.int8)
        self._last = np.full(slots, -1, dtype=np.int32)

    def _slot(self, timestamp: float) -> int:
        return min(int((timestamp % self.period) // self._width), len(self._filled) - 1)

    def _base(self, slot: int) -> float | None:
        filled = int(self._filled[slot])
        if filled < self.min_cycles:
            return None
        row = sorted(float(v) for v in self._values[slot, :filled])
        middle = filled // 2
        return row[middle] if filled % 2 else (row[middle - 1] + row[middle]) / 2.0

    def shift(self, delta: float) -> None:
        """The series moved to a new level for good: so does every stored value."""
        self._values += np.float32(delta)

    def predict(self, timestamp: float) -> float | None:
        return self._base(self._slot(timestamp))

    def add(self, timestamp: float, value: float, anomalous: bool = False) -> None:
        slot = self._slot(timestamp)
        if anomalous and self._filled[slot] > 0:
            return
        cycle = int(timestamp // self.period)
        row = self._values[slot]
        filled = int(self._filled[slot])
        if self._last[slot] == cycle and filled:  # a coarse slot: keep the latest value
            row[filled - 1] = value
            return
        self._last[slot] = cycle
        if filled < self.cycles:
            row[filled] = value
            self._filled[slot] = filled + 1
        else:
            row[:-1] = row[1:]
            row[-1] = value
