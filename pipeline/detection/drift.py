"""Slow drift of a latency's typical value: a CUSUM of each window's median.

A creep of +60 % over six hours adds 0.17 % a minute. The p95 of a few dozen
requests moves by ~12 % from one window to the next on its own, and its noise is
heavy-tailed, so a CUSUM on it must ignore small steps (k = 1 spread) and sees the
creep after ~2 hours. The window's median is about 1.7 times less noisy and close
to normal: a CUSUM with k = 0.5 spread sees the same creep in about an hour
(docs/EVALUATION.md), and no detector can do much better at a usable false-alarm
rate (a matched filter for a linear ramp needs ~45 windows at z = 4).

Per window: ``x = log(p50)`` (a drift multiplies latency), its residual from a slow
average of earlier normal windows, times ``sqrt(count)`` (a window of 10 requests
is noisier than one of 100, and load follows the clock), in units of the robust
spread (1.4826 × MAD) of the last ``window`` such residuals. The CUSUM's alarm
opens an episode; the reference then moves to the recent level, and further alarms
the same way continue it. An alarm back to within ``back_z`` spreads of the level
before the episode is the recovery that ends it; a level that holds for
``accept_windows`` without returning becomes the new normal (the episode ends).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

from pipeline.detection.scoring import Scored, logistic_score, median_and_spread
from pipeline.models.correlation import AnomalyType


@dataclass(frozen=True, slots=True)
class DriftConfig:
    window: int = 240
    """Normal windows whose residuals give the spread: the weighted residuals are alike
    day and night, and a spread from 48 is off by ±15 % often enough that k and h
    shrink with it (5 false alarms in 20 incident-free series-days; 1 with 240)."""
    warmup: int = 96
    """Normal windows before any alarm: the reference, their mean, is then off by a
    tenth of a window's noise (a CUSUM with k = 0.5 adds up a bias like that)."""
    alpha: float = 0.003
    """Weight of each normal window in the slow average (a time constant of ~330)."""
    k: float = 0.5
    h: float = 14.0
    step_clip: float = 3.0
    """One window moves the CUSUM by at most this many spreads (a heavy window is noise)."""
    recent: int = 5
    """Windows whose median is "the recent level" after an alarm."""
    back_z: float = 4.0
    accept_windows: int = 1440
    min_count: int = 5
    """Windows with fewer values are skipped: their median says little."""
    z_at_alert: float = 4.0
    z_softness: float = 0.8


@dataclass(slots=True)
class MedianDriftDetector:
    config: DriftConfig = field(default_factory=DriftConfig)
    _reference: float | None = None
    _residuals: deque[float] = field(default_factory=deque)
    _recent: deque[float] = field(default_factory=deque)
    _hi: float = 0.0
    _lo: float = 0.0
    _anchor: float | None = None
    """The reference before the open episode (log scale); None when none is open."""
    _since_alarm: int = 0
    _normal: int = 0
    """Normal windows ever learned from (the warm-up)."""
    _learned: int = 0
    """Windows in the reference since it was last set: it is their plain mean until
    there are ``1 / alpha`` of them (a fresh estimate, not one noisy window, decayed)."""

    def update(
        self, timestamp: float, median: float, count: int, disturbed: bool = False
    ) -> Scored:
        """Score one window by its median and count (``episode_start`` on an alarm that
        opens an episode, ``episode_end`` when it recovers or is accepted).

        ``disturbed``: another detector of the series is handling a sudden incident (a
        spike, a level shift): the window is skipped, neither evidence of a creep nor
        part of the normal the creep is measured from.
        """
        cfg = self.config
        if disturbed or count < cfg.min_count or not median > 0 or not math.isfinite(median):
            return Scored(timestamp, median, 0.0, self.baseline, 0.0, None)
        x = math.log(median)
        self._recent.append(x)
        while len(self._recent) > cfg.recent:
            self._recent.popleft()
        if self._reference is None:
            self._reference, self._learned = x, 1
        weight = math.sqrt(count)
        residual = (x - self._reference) * weight
        if self._normal < cfg.warmup:
            self._learn(x, residual)
            return Scored(timestamp, median, 0.0, None, 0.0, None)
        spread = self._spread()
        step = max(-cfg.step_clip, min(cfg.step_clip, residual / spread))
        self._hi = max(0.0, self._hi + step - cfg.k)
        self._lo = max(0.0, self._lo - step - cfg.k)
        total = max(self._hi, self._lo)
        baseline = math.exp(self._anchor if self._anchor is not None else self._reference)
        if total < cfg.h:
            self._learn(x, residual)
            return self._quiet(timestamp, median, baseline)
        return self._alarm(timestamp, median, total, spread / weight / math.sqrt(len(self._recent)))

    @property
    def drifting(self) -> bool:
        """An episode is open: the series is away from where it was before it."""
        return self._anchor is not None

    @property
    def baseline(self) -> float | None:
        return None if self._reference is None else math.exp(self._reference)

    def _spread(self) -> float:
        return max(median_and_spread(list(self._residuals))[1], 1e-9)

    def _learn(self, x: float, residual: float) -> None:
        """Only normal windows move the reference and the spread."""
        assert self._reference is not None
        self._residuals.append(residual)
        while len(self._residuals) > self.config.window:
            self._residuals.popleft()
        self._learned += 1
        self._normal += 1
        self._reference += max(self.config.alpha, 1.0 / self._learned) * (x - self._reference)

    def _quiet(self, timestamp: float, median: float, baseline: float) -> Scored:
        if self._anchor is None:
            return Scored(timestamp, median, 0.0, baseline, median - baseline, None)
        self._since_alarm += 1
        if self._since_alarm < self.config.accept_windows:
            return Scored(timestamp, median, 0.0, baseline, median - baseline, None)
        self._anchor = None  # held for a day: the new normal
        return Scored(timestamp, median, 0.0, baseline, median - baseline, None, episode_end=True)

    def _alarm(self, timestamp: float, median: float, total: float, spread: float) -> Scored:
        """The CUSUM crossed: a new episode, its continuation, or the return that ends it.

        ``spread``: of the recent level (log scale), whose mean sets the new reference.
        """
        cfg = self.config
        assert self._reference is not None
        self._hi = self._lo = 0.0
        level = statistics.fmean(self._recent)
        previous, self._reference, self._learned = self._reference, level, len(self._recent)
        self._since_alarm = 0
        score = logistic_score(cfg.z_at_alert * total / cfg.h, cfg.z_at_alert, cfg.z_softness)
        anchor = self._anchor
        if anchor is None:
            self._anchor = previous
            baseline = math.exp(previous)
            return Scored(
                timestamp, median, score, baseline, median - baseline,
                AnomalyType.PATTERN_DEVIATION, episode_start=True, since=timestamp,
            )  # fmt: skip
        baseline = math.exp(anchor)
        away_before, away_now = previous - anchor, level - anchor
        returning = (level - previous) * away_before < 0
        if returning and (abs(away_now) < cfg.back_z * spread or away_now * away_before < 0):
            self._anchor = None  # back where it was (or past it): recovered
            return Scored(
                timestamp, median, 0.0, baseline, median - baseline, None, episode_end=True
            )
        return Scored(
            timestamp, median, score, baseline, median - baseline, AnomalyType.PATTERN_DEVIATION
        )
