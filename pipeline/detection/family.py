"""A new series is judged by what its siblings usually show, until it has a history.

A series' own detector says nothing in its warm-up (150 points). A tenant's first-ever
burst of prompt-injection threats, a series that only exists because an incident
created its tag combination: both would be invisible for hours. Their *family* (same
counted metric, window, module and environment, any other tags; three members or
more) has a history: ``FamilyPrior`` keeps the
last ``memory`` positive values its members showed in normal times, and scores a
young member's count by how far above the family it is, in the family's own robust
spread of log-values and in Poisson noise (the smaller of the two z), once it is
above what siblings reach 1 % of the time. The tail probability is the nominal one of
every detector here (Laplace, unit variance), upward only, times the same rate factor
as the series detector's (points per 5 minutes). Only counts: latencies and gauges of
siblings differ by design (models, regions), and a new one is not news for being
faster or slower than the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.detection.tail import nominal_probability


@dataclass(slots=True)
class FamilyPrior:
    memory: int = 2000
    min_values: int = 100
    """Values the family needs before it judges anyone."""
    min_spread: float = 0.05
    """Floor of the log spread (5 %): siblings that all read the same are not infinitely
    sure of it."""
    top_quantile: float = 0.99
    """A young member is news only above what its siblings reach this often: siblings
    differ in level (a busy tenant, a quiet one), and a new one may be either."""
    _values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _next: int = 0
    _filled: int = 0
    _center: float = 0.0
    _spread: float = 0.0
    _top: float = 0.0
    _stale: bool = True
    members: int = 0
    """Series that have joined (a family of one or two says little about siblings)."""
    min_members: int = 3
    since: float | None = None
    """Event time of the family's first value: a member first seen more than its warm-up
    later was born after the family had a history (in event time, not read order)."""

    def __post_init__(self) -> None:
        if not len(self._values):
            self._values = np.zeros(self.memory)

    @property
    def ready(self) -> bool:
        return self._filled >= self.min_values

    def born_after_history(self, timestamp: float, history_s: float) -> bool:
        """A new member, first seen at ``timestamp``: does it come after the family's
        history (in event time), among members enough to judge it?"""
        self.members += 1
        if self.since is None or timestamp < self.since:
            self.since = timestamp
            return False
        return timestamp - self.since >= history_s and self.members > self.min_members

    def learn(self, value: float) -> None:
        """A normal value of a member (positive values only)."""
        if not value > 0 or not math.isfinite(value):
            return
        self._values[self._next] = math.log(value)
        self._next = (self._next + 1) % self.memory
        self._filled = min(self._filled + 1, self.memory)
        self._stale = True

    def probability(self, value: float, unit: float = 0.0) -> float:
        """P(a member's value is at least this far above the family); 1.0 when the family
        is too young or the value is not above its center. ``unit`` > 0: the values are
        totals of events (as in the series detector), so a value is also judged against
        the Poisson noise of the family's typical total (a count of 3 where siblings
        count 1 is not news, however alike the siblings are)."""
        if not self.ready or not value > 0:
            return 1.0
        if self._stale:
            logs = self._values[: self._filled]
            self._center = float(np.median(logs))
            mad = float(np.median(np.abs(logs - self._center)))
            self._spread = max(1.4826 * mad, self.min_spread)
            self._top = float(np.quantile(logs, self.top_quantile))
            self._stale = False
        if math.log(value) <= self._top:
            return 1.0  # within what siblings reach: whatever its level, not news
        z = (math.log(value) - self._center) / self._spread
        if unit > 0:
            typical = math.exp(self._center)
            z = min(z, (value - typical) / math.sqrt(max(typical, unit) * unit))
        return 1.0 if z <= 0 else nominal_probability(z)

    def center(self) -> float:
        """The family's typical value (its median), once ready."""
        self.probability(1.0)  # refreshes the summary
        return math.exp(self._center)
