"""What a series' next value should be: its recent level, or its value at this time of day
or week. The series detector keeps all of them and scores against the one that has
predicted this series best lately (so seasonality is detected per series, not assumed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S


@dataclass(slots=True)
class RecentLevel:
    """The median of the last ``points`` values: follows ramps and level shifts within
    half as many points; one outlier cannot move it."""

    points: int = 15
    _values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _next: int = 0
    _filled: int = 0

    def __post_init__(self) -> None:
        self._values = np.zeros(self.points)

    @property
    def ready(self) -> bool:
        return self._filled >= self.points

    def predict(self, timestamp: float) -> float | None:
        if not self.ready:
            return None
        return float(np.median(self._values))

    def add(self, timestamp: float, value: float, anomalous: bool = False) -> None:
        self._values[self._next] = value
        self._next = (self._next + 1) % self.points
        self._filled = min(self._filled + 1, self.points)


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
    _last: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per slot: the period index of its last value (one value per slot and period)."""

    def __post_init__(self) -> None:
        self._width = max(self.step, self.period / self.max_slots)
        slots = math.ceil(self.period / self._width)
        self._values = np.zeros((slots, self.cycles), dtype=np.float32)
        self._filled = np.zeros(slots, dtype=np.int8)
        self._last = np.full(slots, -1.0)

    def _slot(self, timestamp: float) -> int:
        return min(int((timestamp % self.period) // self._width), len(self._filled) - 1)

    def _base(self, slot: int) -> float | None:
        filled = int(self._filled[slot])
        if filled < self.min_cycles:
            return None
        return float(np.median(self._values[slot, :filled]))

    def shift(self, delta: float) -> None:
        """The series moved to a new level for good: so does every stored value."""
        self._values += np.float32(delta)

    def predict(self, timestamp: float) -> float | None:
        return self._base(self._slot(timestamp))

    def add(self, timestamp: float, value: float, anomalous: bool = False) -> None:
        slot = self._slot(timestamp)
        if anomalous and self._filled[slot] > 0:
            return
        cycle = timestamp // self.period
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
