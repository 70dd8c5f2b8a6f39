"""Distribution shift from a window's histogram: its bucket counts against the recent normal.

A rollout that makes half the requests faster and half slower keeps the mean; the
spread of a few dozen values (stddev/avg) shows it only 3-4 noise widths off. The
bucket counts the hub publishes for each window (OpenTelemetry boundaries) carry the
whole shape: a G-test of the window's counts against the pooled counts of the last
``window`` normal windows uses every value and knows its own sampling noise (the
window's count), with no spread to estimate. Two consecutive windows pool their
statistics (their samples are independent), so a shift that one window shows only
weakly is raised at its second window.

The buckets are a factor of two wide: a model whose values sit in the middle of one
(700 ms in 640-1280) changes its counts only a little when half its requests get
40 % faster and half 40 % slower, at ~16 values a window at night; no pair of
windows clears the bar, and the baseline slowly learns the new shape. A CUSUM of
the windows' z-scores adds those small excesses up (and, while it builds, the
windows are not learned from); it alerts at warning level, never critical on its
own: it knows the shape changed, not by how much.

The statistic is turned into a z-score (Wilson-Hilferty, chi-square with the
buckets' degrees of freedom) and scored like every other detector: z = 4 is the
alert threshold, z ≥ 5.1 critical. On simulated lognormal latencies the G
statistic of small windows has a lighter tail than the chi-square, so the threshold
errs on the quiet side (docs/DETECTION.md).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from pipeline.detection.predictors import DAY_S
from pipeline.detection.scoring import CRITICAL_SCORE, Scored, logistic_score, median_and_spread
from pipeline.models.correlation import AnomalyType


@dataclass(frozen=True, slots=True)
class ShiftConfig:
    window: int = 48
    """Normal windows pooled into the baseline distribution."""
    warmup: int = 24
    min_count: int = 10
    """Windows with fewer values are neither scored nor learned from."""
    rare_share: float = 0.002
    """Baseline buckets under this share are pooled into one (their expected counts
    are too small for the test)."""
    window_z: float = 1.645
    """Each window of a pair must be off on its own at least this much (one extreme
    window next to a normal one is not a shift)."""
    location_z: float = 3.0
    """A window whose mean is this far off (robust z) moved, rather than changed shape."""
    z_at_alert: float = 4.0
    z_softness: float = 0.8
    cusum_k: float = 1.0
    cusum_h: float = 5.0
    """A CUSUM of the windows' G z-scores (slack ``cusum_k``) alerts at ``cusum_h``: a
    shift each window shows only weakly (a pair never clears the bar) still adds up."""
    alert_score: float = 0.5
    cooldown: int = 10
    """Quiet windows that end an episode: a pair misses a real shift now and then (at
    ~35 values a window, one pair in five), which must not split one incident in two."""
    accept_after: int = 60
    """Windows in one episode after which the new shape is the normal: the baseline
    restarts from the episode's latest windows (a rollout that stays)."""


def chi_square_z(statistic: float, df: int) -> float:
    """The standard-normal quantile of a chi-square tail (Wilson-Hilferty)."""
    if df <= 0 or statistic <= 0:
        return 0.0
    third = 2.0 / (9.0 * df)
    return ((statistic / df) ** (1.0 / 3.0) - (1.0 - third)) / math.sqrt(third)


def shape_worse(counts: np.ndarray, baseline: np.ndarray) -> bool:
    """Is ``counts`` a worse shape than ``baseline`` for a metric that hurts when it
    rises (latency)? Worse: wider (a larger variance of the bucket index, buckets being
    a factor of two apart: a spread in log scale), or more of its mass above the
    baseline's median bucket. A return from a wide or slow shape to a narrow one is
    good news, as a falling p95 is (pipeline/detection/harm.py)."""
    index = np.arange(len(counts), dtype=np.float64)

    def spread_and_upper(weights: np.ndarray, median_bucket: int) -> tuple[float, float]:
        share = weights / weights.sum()
        center = float(share @ index)
        return float(share @ (index - center) ** 2), float(share[median_bucket + 1 :].sum())

    cumulative = np.cumsum(baseline) / baseline.sum()
    median_bucket = int(np.searchsorted(cumulative, 0.5))
    spread_now, upper_now = spread_and_upper(np.asarray(counts, np.float64), median_bucket)
    spread_before, upper_before = spread_and_upper(np.asarray(baseline, np.float64), median_bucket)
    return spread_now > spread_before or upper_now > upper_before


class _Window(NamedTuple):
    counts: np.ndarray
    mean: float


class _Scoring(NamedTuple):
    """A scored window: its time, G statistic and degrees of freedom."""

    time: float
    statistic: float
    df: int


@dataclass(slots=True)
class BucketShiftDetector:
    config: ShiftConfig = field(default_factory=ShiftConfig)
    _normal: deque[_Window] = field(default_factory=deque)
    """The learned windows."""
    _recent: deque[_Window] = field(default_factory=deque)
    """The episode's latest windows, to restart from if its shape stays."""
    _previous: _Scoring | None = None
    _step: float | None = None
    _in_episode: bool = False
    _peak: float = 0.0
    _quiet: int = 0
    _episode_windows: int = 0
    _earlier: deque[_Window] | None = None
    """The normal windows before the last accepted shape (remembered for a day)."""
    _accepted_at: float = 0.0
    _evidence: float = 0.0
    """The CUSUM of the G z-scores."""
    _last_time: float = 0.0
    worse: bool = True
    """Did the last scored window spread out or move mass above its normal median
    (``shape_worse``)? What an alert about a latency shape is for."""

    @property
    def disturbed(self) -> bool:
        """In an episode: the series' shape is not its normal one now."""
        return self._in_episode

    def update(
        self, timestamp: float, counts: np.ndarray, mean: float, hold: bool = False
    ) -> Scored:
        """Score one window's bucket counts; ``mean`` is the window's mean value. When the
        mean is off the learned windows' means (by ``location_z`` of their spread), the
        shape moved with it: a spike, a drop or a level shift, which the p95 detector
        judges (an incident, a recovery, the end of a drift), not a change of shape; no
        alert then, and the window is not learned from. ``hold``: the series is in a
        slow drift (its median's CUSUM alarmed, and alerted it): its windows are neither
        alerted (a histogram that slides is the drift, not a new shape) nor learned from
        (the normal would creep along with it and the return read as a new shape)."""
        cfg = self.config
        counts = np.asarray(counts, dtype=np.float64)
        total = float(counts.sum())
        window = _Window(counts, mean)
        self._last_time = timestamp
        previous, self._previous = self._previous, None
        if self._step is None and previous is not None:
            self._step = timestamp - previous.time
        if total < cfg.min_count:
            return self._verdict(timestamp, 0.0, 0.0, alerting=False)
        if len(self._normal) < cfg.warmup:
            self._learn(window)
            return Scored(timestamp, 0.0, 0.0, None, 0.0, None)
        mean_steady = self._location_z(mean) < cfg.location_z
        statistic, df, distance = self._g_test(counts, self._normal)
        self.worse = shape_worse(counts, np.sum([w.counts for w in self._normal], axis=0))
        scoring = _Scoring(timestamp, statistic, df)
        self._previous = scoring
        z = chi_square_z(statistic, df)
        score = 0.0
        if previous is not None and self._follows(previous.time, timestamp):
            score = self._pair_score(previous, scoring)
        if mean_steady and not hold:
            score = max(score, self._accumulate(z))
        alerting = score >= cfg.alert_score and mean_steady and not hold
        if alerting and not self._in_episode and self._back_to_earlier(counts, z):
            alerting = False  # the shape before an accepted one: a recovery, not a shift
        building = self._evidence >= cfg.cusum_h / 2
        quiet = not (alerting or hold or self._in_episode or building)
        if quiet and mean_steady and z < cfg.window_z:
            self._learn(window)
        if alerting or self._in_episode:
            self._recent.append(window)
            while len(self._recent) > cfg.warmup:
                self._recent.popleft()
        since = previous.time if previous is not None else timestamp
        return self._verdict(timestamp, score if mean_steady else 0.0, distance, alerting, since)

    def _pair_score(self, before: _Scoring, now: _Scoring) -> float:
        """Two consecutive windows, each off on its own, pool their statistics."""
        cfg = self.config
        if min(chi_square_z(w.statistic, w.df) for w in (now, before)) < cfg.window_z:
            return 0.0
        pooled = chi_square_z(now.statistic + before.statistic, now.df + before.df)
        return logistic_score(pooled, cfg.z_at_alert, cfg.z_softness)

    def _accumulate(self, z: float) -> float:
        """Add the window to the CUSUM; its score, never critical on its own (it says the
        shape changed, not by how much)."""
        cfg = self.config
        self._evidence = min(max(0.0, self._evidence + z - cfg.cusum_k), 2.0 * cfg.cusum_h)
        level = min(self._evidence / cfg.cusum_h, 1.2)
        return logistic_score(cfg.z_at_alert * level, cfg.z_at_alert, cfg.z_softness)

    def _follows(self, before: float, now: float) -> bool:
        step = self._step
        return step is not None and 0 < now - before <= 1.5 * step

    def _back_to_earlier(self, counts: np.ndarray, z_now: float) -> bool:
        """Does the window fit the shape that was normal before the last accepted one
        better than the current normal (``z_now``)? If so the detector returns to it."""
        if self._earlier is None:
            return False
        if self._last_time - self._accepted_at > DAY_S:
            self._earlier = None  # a day at the new shape: that is the normal
            return False
        statistic, df, _ = self._g_test(counts, self._earlier)
        if chi_square_z(statistic, df) < min(z_now, self.config.z_at_alert):
            self._normal, self._earlier = self._earlier, None
            self._evidence = 0.0
            return True
        return False

    def _learn(self, window: _Window) -> None:
        self._normal.append(window)
        while len(self._normal) > self.config.window:
            self._normal.popleft()

    def _location_z(self, mean: float) -> float:
        """How far the window's mean is from the learned windows' (robust z)."""
        center, spread = median_and_spread([w.mean for w in self._normal])
        return abs(mean - center) / max(spread, 1e-9 * max(abs(center), 1.0))

    def _g_test(self, counts: np.ndarray, baseline: deque[_Window]) -> tuple[float, int, float]:
        """(G, degrees of freedom, total variation distance) against ``baseline``'s windows."""
        pooled = np.sum([w.counts for w in baseline], axis=0)
        share = pooled / pooled.sum()
        common = share >= self.config.rare_share
        expected_share = np.append(share[common], share[~common].sum())
        observed = np.append(counts[common], counts[~common].sum())
        keep = expected_share > 0
        expected_share, observed = expected_share[keep], observed[keep]
        total = observed.sum()
        expected = expected_share * total
        seen = observed > 0
        statistic = 2.0 * float(np.sum(observed[seen] * np.log(observed[seen] / expected[seen])))
        distance = 0.5 * float(np.abs(observed / total - expected_share).sum())
        return max(statistic, 0.0), int(keep.sum()) - 1, distance

    def _verdict(
        self,
        timestamp: float,
        score: float,
        distance: float,
        alerting: bool,
        since: float | None = None,
    ) -> Scored:
        """The episode bookkeeping: one alert per episode (and one on escalating into
        the critical band), an end after ``cooldown`` quiet windows."""
        cfg = self.config
        kind = AnomalyType.DISTRIBUTION_SHIFT if alerting else None
        start = end = False
        if alerting and self._in_episode and self._episode_windows + 1 >= cfg.accept_after:
            self._accept()  # the episode ends: its shape is the normal now
            return Scored(timestamp, distance, 0.0, 0.0, distance, None, False, True, since)
        if alerting:
            self._quiet = 0
            self._episode_windows += 1
            if not self._in_episode:
                self._in_episode, self._peak, start = True, score, True
            elif score >= CRITICAL_SCORE > self._peak:
                self._peak, start = score, True
            self._peak = max(self._peak, score)
        elif self._in_episode:
            self._quiet += 1
            if self._quiet >= cfg.cooldown:
                self._in_episode, self._quiet, self._episode_windows, end = False, 0, 0, True
                self._recent.clear()
        return Scored(timestamp, distance, score, 0.0, distance, kind, start, end, since)

    def _accept(self) -> None:
        """The shape has stayed: it is the normal now (the one before the episode is
        remembered, so a return to it is a recovery)."""
        self._earlier = self._normal  # unchanged since the episode began: nothing learned in one
        self._accepted_at = self._last_time
        self._normal = deque(self._recent)
        self._recent.clear()
        self._in_episode, self._quiet, self._episode_windows = False, 0, 0
        self._previous = None
        self._evidence = 0.0
