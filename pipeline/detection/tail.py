"""How rare is a value of a statistic, judged by the statistic's own recent history.

Every detector statistic here (a standardized residual, the mean of a few of them)
has a distribution that differs from series to series: Gaussian-ish for a CPU gauge,
heavy-tailed for tweet counts, degenerate for a disk that writes nothing most of the
time. ``TailModel`` turns a value into the probability of seeing one at least as
large under that history, so one threshold means the same thing everywhere.

* The history is a decayed histogram on a geometric grid (200 numbers, no raw
  values): each entry's weight decays by ``1 - 1/memory`` per later entry, so the
  model forgets at the pace of a sliding window of ``memory`` points.
* Within the bulk, the probability is the (weighted) share of the history at or
  above the value. Beyond the ``quantile`` (0.9), an exponential tail is fitted by
  its median excess (robust: one huge earlier anomaly does not flatten it), which
  extrapolates past anything seen.
* **Precedent**: a value that ``precedent`` or more earlier extremes (entries beyond
  the bulk when they came, over the last ``recall`` memories) matched is no rarer
  than their frequency says: a burst that recurs every few days is part of the series.
* **Young history**: until it holds ``trusted_after`` entries, a value is never
  rarer than under the nominal distribution (all these statistics are z-like: a
  Laplace of unit variance, heavier-tailed than a normal, is assumed).
* **Degenerate history**: when the bulk has no spread (a statistic that is almost
  always 0, or always the same value), nothing can be
  extrapolated from it; the nominal distribution is used instead.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

_LOW = 0.02
"""Values below this share the first bin (statistics here are in units of spread)."""
_RATIO = 1.15
_BINS = 200
"""Bins of ratio 1.15 from 0.02 cover up to ~2e10 spreads; larger values go in the last."""
_LOG_RATIO = math.log(_RATIO)
_EDGES = _LOW * _RATIO ** np.arange(_BINS)
"""Lower edge of bin ``b + 1`` (bin 0 starts at 0)."""
_RESCALE_AT = 1e200
_NO_WEIGHTS = np.zeros(0)


def _bin(value: float) -> int:
    if value < _LOW:
        return 0
    return min(_BINS - 1, 1 + int(math.log(value / _LOW) / _LOG_RATIO))


def nominal_probability(value: float) -> float:
    """P(|Z| ≥ value) for a Laplace Z of unit variance: what a z-like statistic of a real
    series is assumed to do before its own history says (heavier-tailed than a normal:
    at z = 5, 8.5e-4 instead of 5.7e-7; real residuals are rarely Gaussian)."""
    return math.exp(-math.sqrt(2.0) * value)


@dataclass(slots=True)
class TailModel:
    memory: int = 2000
    quantile: float = 0.9
    precedent: int = 2
    recall: int = 5
    min_history: int = 50
    degenerate: float = 0.05
    """The bulk is degenerate when its tail's spread is below this share of its edge."""
    trusted_after: int = 1000
    """Entries before a fitted tail may claim more rarity than the nominal distribution:
    a tail beyond p = 1e-3 says little until the history is longer than that."""
    count: int = 0
    _weights: np.ndarray = field(default_factory=lambda: _NO_WEIGHTS)
    """Allocated at the first entry: most series of a deployment are sparse, and many
    never get one."""
    _unit: float = 1.0
    """Weight of the next entry; grows by 1/(1 - 1/memory) per entry (the decay), every
    weight rescaled when it gets large."""
    _extremes: deque[tuple[int, float]] = field(default_factory=deque)
    """(entry number, value) of the entries beyond the bulk when they came."""
    _bulk_edge: float = math.inf

    def add(self, value: float) -> None:
        if self._weights.size == 0:
            self._weights = np.zeros(_BINS)
        self._weights[_bin(value)] += self._unit
        self.count += 1
        if value > self._bulk_edge:
            self._extremes.append((self.count, value))
            horizon = self.memory * self.recall
            while self._extremes and (
                self._extremes[0][0] <= self.count - horizon or len(self._extremes) > horizon // 4
            ):
                self._extremes.popleft()
        self._unit /= 1.0 - 1.0 / self.memory
        if self._unit > _RESCALE_AT:
            self._weights /= self._unit
            self._unit = 1.0

    def probability(self, value: float) -> float:
        """P(a value ≥ ``value``) under the history; 1.0 until it holds ``min_history``."""
        if self.count < self.min_history or self._weights.size == 0:
            return 1.0
        above = np.cumsum(self._weights[::-1])[::-1]
        above /= above[0]  # above[b]: share of the history in bins >= b
        share = _share_at_or_above(above, value)
        bulk = 1.0 - self.quantile
        edge = self._bulk_edge = _quantile_value(above, bulk)
        if share >= bulk:
            return share
        half = _quantile_value(above, bulk / 2)
        spread = (half - edge) / math.log(2)
        if half < _LOW or spread <= self.degenerate * max(edge, _LOW):
            return nominal_probability(value)
        fitted = bulk * math.exp(-(value - edge) / spread)
        horizon = self.memory * self.recall
        window = min(self.count, horizon)
        most = (len(self._extremes) - self.precedent + 1) / (window + 1)
        if self.precedent and most > fitted:  # else no count of precedents could matter
            oldest = self.count - horizon
            seen = sum(1 for n, earlier in self._extremes if earlier >= value and n > oldest)
            if seen >= self.precedent:
                fitted = max(fitted, (seen - self.precedent + 1) / (window + 1))
        if self.count < self.trusted_after:
            return max(fitted, nominal_probability(value))
        return fitted


def _share_at_or_above(above: np.ndarray, value: float) -> float:
    """Share of the history at or above ``value``, interpolated inside its bin."""
    b = _bin(value)
    after = float(above[b + 1]) if b + 1 < _BINS else 0.0
    inside = float(above[b]) - after
    if b == 0:
        position = min(value, _LOW) / _LOW
    else:
        low = float(_EDGES[b - 1])
        position = math.log(min(value, low * _RATIO) / low) / _LOG_RATIO
    return after + inside * (1.0 - position)


def _quantile_value(above: np.ndarray, share: float) -> float:
    """The value with ``share`` of the history at or above it."""
    b = int(np.searchsorted(-above, -share, side="right")) - 1  # last bin with above >= share
    b = max(0, min(b, _BINS - 1))
    after = float(above[b + 1]) if b + 1 < _BINS else 0.0
    inside = float(above[b]) - after
    position = 0.0 if inside <= 0 else (float(above[b]) - share) / inside
    if b == 0:
        return _LOW * position
    return float(_EDGES[b - 1]) * _RATIO**position
