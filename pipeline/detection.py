"""Anomaly detection on one metric series: a robust adaptive baseline, scored points, episodes.

Pure and streaming (one point at a time), so ``hub detect`` offline and a streaming
agent can share it. Per point:

* **Baseline**: the median of the last ``level_points`` normal points (it follows a
  trend, and one outlier cannot move it); when at least ``seasonal_min_cycles``
  earlier days hold a point at the same time of day, their median instead (daily
  seasonality); for series spaced 15 minutes or more, once ``weekly_min_cycles``
  earlier weeks hold a point at the same time of the week, their median (weekly
  seasonality: weekends are not weekdays). The spread is 1.4826 × MAD of the last
  ``window`` normal points' residuals from their own baselines (a standard
  deviation that outliers cannot inflate), floored at ``min_relative_scale`` of
  the level so a flat series does not alert on rounding noise.
* **Spike / drop**: ``z = (value - baseline) / scale``; the score is a logistic in
  ``|z|`` calibrated so that z = 4 scores 0.5 (the alert threshold) and z ≥ 5.1
  scores ≥ 0.8, the spec's "critical" band.
* **Pattern deviation** (level shift): ``sustain`` points in a row on the same side
  with ``|z| >= shift_z``; scored on their mean ``|z|``. After ``2 × sustain`` such
  points the new level is accepted as the baseline (an *excursion*: the shift and
  the run's own spread, which floors the scale while it lasts, are remembered).
* **Drift** (``drift``): a CUSUM against a slow average, fed with normal points only;
  its first alarm remembers the slow average before the drift.
* **Recovery**: ``confirm`` points in a row back at the level before an excursion
  or a drift (normal for it, unusual for the current level) are the series
  recovering, not a drop or a spike: the detector returns to that level and forgets
  the excursion's points. Remembered for ``recovery_memory_s`` (a day).
* **Warm-up**: no score until ``warmup`` normal points were seen.
* **Robustness**: anomalous points never enter the baseline window or the slow average.
* **Episodes**: consecutive alerting points form one episode; it ends after
  ``cooldown`` quiet points. One alert per episode, not one per point, plus one
  more if the episode escalates into the critical band (score ≥ 0.8).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.models.correlation import AnomalyType

DAY_S = 86_400
WEEK_S = 7 * DAY_S
CRITICAL_SCORE = 0.8
"""The spec's band for critical anomalies."""


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    window: int = 48
    level_points: int = 5
    warmup: int = 24
    alert_score: float = 0.5
    z_at_alert: float = 4.0
    z_softness: float = 0.8
    min_relative_scale: float = 0.02
    shift_z: float = 2.5
    sustain: int = 6
    cooldown: int = 3
    steady: bool = False
    """The series has no rhythm or trend of its own (latency, its spread): compare a
    sustained shift with the level before it began. Off for load-driven series, whose
    daily ramps would look like one."""
    drift: bool = False
    """Also watch for slow creep: a CUSUM against a slow average (latency)."""
    drift_alpha: float = 0.003
    """Weight of each point in the slow average (a time constant of ~330 points)."""
    drift_k: float = 1.0
    drift_h: float = 12.0
    confirm: int = 2
    """Alerting points in a row that open an episode: one heavy-tailed window is noise."""
    instant_score: float = 0.97
    """...unless a single point scores this much (|z| ≈ 6.8): no need to wait for it."""
    recovery_memory_s: float = DAY_S
    """How long the level before an accepted shift is remembered: a move back to it
    within this is a recovery, not an anomaly (after a day at the new level, every
    time of day has seen it; it is the normal)."""
    seasonal_min_cycles: int = 2
    weekly_min_cycles: int = 3
    """Earlier weeks holding a point at the same time of the week before the weekly
    profile is used (weekends and weekdays differ; days of one kind alike)."""
    weekly_min_step_s: float = 900.0
    """Weekly profiles only for series spaced at least this far apart: at one point a
    minute a week is 10,080 slots per series, too much memory for what it adds over the
    daily profile; the 15m, 1h and longer windows carry the weekly rhythm."""
    seasonal_tolerance_s: float = 0.0
    """Points whose time of day is within this of each other share a seasonal slot
    (0: the series' own spacing is used)."""


@dataclass(frozen=True, slots=True)
class Scored:
    """One point's verdict."""

    timestamp: float
    value: float
    score: float
    baseline: float | None
    deviation: float
    anomaly_type: AnomalyType | None
    episode_start: bool = False
    episode_end: bool = False
    since: float | None = None
    """With ``episode_start``: the first alerting point of the run that opened it."""


def median_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """The median and 1.4826 × MAD (a standard deviation that outliers cannot inflate)."""
    center = statistics.median(values)
    return center, 1.4826 * statistics.median(abs(v - center) for v in values)


def logistic_score(z: float, center: float, softness: float) -> float:
    return 1.0 / (1.0 + math.exp(-(abs(z) - center) / softness))


def _back(away: float, shift: float, band: float) -> bool:
    """Does ``shift`` undo a move of ``away``, to within ``band``?"""
    return shift * away < 0 and abs(away + shift) < band


@dataclass(slots=True)
class _Excursion:
    """A level accepted as the new normal after a sustained shift, and what it takes to
    go back: the series may return to where it was (a recovery, not a new anomaly)."""

    offset: float
    """Sum of the shifts accepted: the baseline before is the current one minus this."""
    since: float
    """When the last shift was accepted."""
    scale: float
    """The spread of the accepted runs: a new level brings its own noise (an error rate
    of 40 % varies by points, not tenths; the old residuals understate it)."""
    slots: list[int] = field(default_factory=list)
    """Seasonal slots of the points remembered at the new level, in order."""


@dataclass(slots=True)
class SeriesDetector:
    config: DetectorConfig = field(default_factory=DetectorConfig)
    _recent: deque[float] = field(default_factory=deque)
    _residuals: deque[float] = field(default_factory=deque)
    _seasonal: dict[int, deque[float]] = field(default_factory=dict)
    _weekly: dict[int, deque[float]] = field(default_factory=dict)
    """Every point's value by time of week (anomalous ones too: a weekend is "anomalous"
    against the weekdays until the weekly profile exists; the median of at least
    ``weekly_min_cycles`` weeks keeps one bad week out)."""
    _step: float | None = None
    _last_time: float | None = None
    _run: list[tuple[float, float]] = field(default_factory=list)  # (z, deviation) same side
    _in_episode: bool = False
    _peak: float = 0.0
    _quiet: int = 0
    _pending: int = 0  # alerting points in a row before an episode opens
    _slow_mean: float | None = None
    _cusum_hi: float = 0.0
    _cusum_lo: float = 0.0
    _pending_since: float = 0.0
    _excursion: _Excursion | None = None
    """Set while the series sits at a level accepted as the new normal (``_rebase``)."""
    _held: list[float] | None = field(default_factory=list)
    """Values of a run back toward the level before an excursion or drift, held out of
    the baseline until it is a recovery (None: it was not; scored until the run ends)."""
    _drift_anchor: float | None = None
    """The slow average before an open drift (its first CUSUM alarm); cleared when the
    series is back there."""
    _drift_at: float = 0.0  # the drift's last alarm

    @property
    def disturbed(self) -> bool:
        """In an episode, about to open one, at a level accepted during one, or holding
        a run back toward an earlier level: the series' values now say more about an
        incident than about its normal."""
        held = bool(self._held)
        return self._in_episode or self._pending > 0 or self._excursion is not None or held

    def update(self, timestamp: float, value: float, unit: float = 0.0) -> Scored:
        """Score one point. ``unit`` > 0: the value is a sum of a Poisson number of
        events each about ``unit`` in size (a count: 1; spend: the mean spend per
        event), so its noise is at least ``sqrt(baseline × unit)``, however calm the
        recent past was: a count of 1.5 a minute that reads 6 is not an incident."""
        cfg = self.config
        self._learn_step(timestamp)
        if len(self._residuals) < cfg.warmup:
            level = self._level(timestamp)
            self._remember(timestamp, value, 0.0 if level is None else value - level)
            self._record_weekly(timestamp, value)
            return Scored(timestamp, value, 0.0, None, 0.0, None)
        self._forget_old_levels(timestamp)
        baseline, scale = self._baseline(timestamp, unit)
        z = (value - baseline) / scale
        score = logistic_score(z, cfg.z_at_alert, cfg.z_softness)
        kind: AnomalyType | None = AnomalyType.SPIKE if z > 0 else AnomalyType.DROP
        before = self._level_before_run(timestamp, baseline)
        # a run is detected against the level before it, and moves the current baseline
        shift_score = self._track_shift((value - before) / scale, value - baseline)
        if shift_score >= cfg.alert_score:
            score, kind = max(score, shift_score), AnomalyType.PATTERN_DEVIATION
        held = False
        earlier = self._earlier_level(baseline)
        z_run = (value - before) / scale
        if earlier is None or abs(z_run) < cfg.shift_z or z_run * (earlier - before) <= 0:
            self._held = []  # not (or no longer) a run back toward the earlier level
        elif self._held is not None:  # a run back: a recovery once as sustained as any shift
            self._held.append(value)
            if len(self._held) < cfg.sustain:  # undecided: not scored yet
                held, score, kind = True, 0.0, None
            elif abs(statistics.median(self._held) - earlier) < cfg.z_at_alert * scale:
                self._recover()  # and the point is scored against the level it is back at
                baseline, scale = self._baseline(timestamp, unit)
                z = (value - baseline) / scale
                score = logistic_score(z, cfg.z_at_alert, cfg.z_softness)
                kind = AnomalyType.SPIKE if z > 0 else AnomalyType.DROP
            else:
                self._held = None  # it went elsewhere: scored as usual until the run ends
        if score < cfg.alert_score and not held:  # the slow average sees normal points only
            drift_score = self._track_drift(timestamp, value, baseline, scale)
            if drift_score >= cfg.alert_score:
                if not self._in_episode:
                    if not self._pending:
                        self._pending_since = timestamp
                    self._pending = max(self._pending, cfg.confirm - 1)  # CUSUM confirmed it
                score, kind = drift_score, AnomalyType.PATTERN_DEVIATION
        alerting = score >= cfg.alert_score
        if not alerting:
            kind = None
            if not held:
                self._remember(timestamp, value, value - baseline)
        elif len(self._run) >= 2 * cfg.sustain:
            self._rebase(timestamp, self._baseline(timestamp, unit, excursion=False)[1])
        if alerting and not self._pending:
            self._pending_since = timestamp
        start, end = self._episode(alerting, score)
        since = self._pending_since if start else None
        self._record_weekly(timestamp, value)
        return Scored(timestamp, value, score, baseline, value - baseline, kind, start, end, since)

    # ------------------------------------------------------------------ baseline
    def _profile(self, timestamp: float) -> deque[float] | None:
        """The seasonal values for this time: of the week when enough weeks are known,
        else of the day when enough days are; None before that."""
        weekly = self._weekly_slot(timestamp)
        if weekly is not None:
            values = self._weekly.get(weekly)
            if values is not None and len(values) >= self.config.weekly_min_cycles:
                return values
        values = self._seasonal.get(self._slot(timestamp))
        if values is not None and len(values) >= self.config.seasonal_min_cycles:
            return values
        return None

    def _level(self, timestamp: float) -> float | None:
        seasonal = self._profile(timestamp)
        if seasonal is not None:
            return statistics.median(seasonal)
        if not self._recent:
            return None
        return statistics.median(list(self._recent)[-self.config.level_points :])

    def expected(self, timestamp: float, unit: float = 0.0) -> tuple[float, float] | None:
        """(baseline, spread) at ``timestamp`` once warmed up; None during warm-up.
        ``unit``: as in ``update`` (the spread includes the Poisson floor)."""
        if len(self._residuals) < self.config.warmup:
            return None
        return self._baseline(timestamp, unit)

    def _baseline(
        self, timestamp: float, unit: float = 0.0, excursion: bool = True
    ) -> tuple[float, float]:
        """(level, spread); ``excursion=False``: the spread of the level before it."""
        level = self._level(timestamp)
        assert level is not None
        _, spread = median_and_spread(list(self._residuals))
        floor = self.config.min_relative_scale * max(abs(level), 1e-12)
        if excursion and self._excursion is not None:
            floor = max(floor, self._excursion.scale)
        if unit > 0:  # compound Poisson: variance = rate × unit
            # the rate from the mean of the recent normal points: the median of a few
            # small counts (the level) is too rough an estimate of it
            rate = max(level, statistics.fmean(self._recent), unit)
            floor = max(floor, math.sqrt(rate * unit))
        return level, max(spread, floor, 1e-12)

    def _remember(self, timestamp: float, value: float, residual: float) -> None:
        window = self.config.window
        self._recent.append(value)
        self._residuals.append(residual)
        while len(self._recent) > window:
            self._recent.popleft()
        while len(self._residuals) > window:
            self._residuals.popleft()
        slot = self._slot(timestamp)
        self._seasonal.setdefault(slot, deque(maxlen=7)).append(value)
        if self._excursion is not None:
            self._excursion.slots.append(slot)

    def _learn_step(self, timestamp: float) -> None:
        if self._last_time is not None and timestamp > self._last_time:
            gap = timestamp - self._last_time
            self._step = gap if self._step is None else min(self._step, gap)
        self._last_time = timestamp

    def _slot(self, timestamp: float) -> int:
        width = self.config.seasonal_tolerance_s or self._step or DAY_S
        return int((timestamp % DAY_S) // max(width, 1.0))

    def _record_weekly(self, timestamp: float, value: float) -> None:
        slot = self._weekly_slot(timestamp)
        if slot is not None:
            self._weekly.setdefault(slot, deque(maxlen=4)).append(value)

    def _weekly_slot(self, timestamp: float) -> int | None:
        step = self._step
        if step is None or step < self.config.weekly_min_step_s:
            return None
        width = self.config.seasonal_tolerance_s or step
        return int((timestamp % WEEK_S) // max(width, 1.0))

    # ------------------------------------------------------------------ level shift
    def _track_shift(self, z: float, deviation: float) -> float:
        cfg = self.config
        if abs(z) < cfg.shift_z or (self._run and (self._run[-1][0] > 0) != (z > 0)):
            self._run = []
        if abs(z) >= cfg.shift_z:
            self._run.append((z, deviation))
        if len(self._run) < cfg.sustain:
            return 0.0
        mean_z = statistics.fmean(abs(z_) for z_, _ in self._run[-cfg.sustain :])
        return logistic_score(mean_z, cfg.shift_z + 0.5, 0.4)

    def _level_before_run(self, timestamp: float, level: float) -> float:
        """For steady series, the level as it was ``sustain`` points ago: a shift too
        small to alert on at once still enters the recent points and would drag the
        recent level with it. Other series: the recent level (it follows their ramps)."""
        cfg = self.config
        if not cfg.steady:
            return level
        if self._profile(timestamp) is not None:
            return level  # the seasonal profile is already the slow reference
        recent = list(self._recent)
        if len(recent) < cfg.level_points + cfg.sustain:
            return level
        return statistics.median(recent[-(cfg.level_points + cfg.sustain) : -cfg.sustain])

    def _track_drift(self, timestamp: float, value: float, baseline: float, scale: float) -> float:
        """CUSUM of the value against a slow average (hours): a creep too slow for the
        recent level to notice adds up here. Only with ``config.drift``; fed with normal
        points only (an alerting point is an anomaly already, and must not drag the
        reference to the incident's level). An alarm moves the reference to the recent
        level; one that moves it back to where it was before an earlier alarm is the
        series recovering, not a new anomaly."""
        cfg = self.config
        if not cfg.drift:
            return 0.0
        if self._slow_mean is None:
            self._slow_mean = baseline
        step = max(-3.0, min(3.0, (value - self._slow_mean) / scale))  # one outlier: 3 at most
        self._cusum_hi = max(0.0, self._cusum_hi + step - cfg.drift_k)
        self._cusum_lo = max(0.0, self._cusum_lo - step - cfg.drift_k)
        total = max(self._cusum_hi, self._cusum_lo)
        if total < cfg.drift_h:
            self._slow_mean += cfg.drift_alpha * (value - self._slow_mean)
            return 0.0
        self._cusum_hi = self._cusum_lo = 0.0
        recent = [*list(self._recent)[-(cfg.level_points - 1) :], value]
        previous, self._slow_mean = self._slow_mean, statistics.median(recent)
        anchor = self._drift_anchor
        if anchor is None:
            self._drift_anchor = previous
        elif _back(previous - anchor, self._slow_mean - previous, cfg.shift_z * scale):
            self._end_drift(anchor)  # back to the level before the drift: recovered
            return 0.0
        self._drift_at = timestamp
        return logistic_score(cfg.z_at_alert * total / cfg.drift_h, cfg.z_at_alert, cfg.z_softness)

    def _rebase(self, timestamp: float, scale: float) -> None:
        """A shift that lasts is the new normal: the whole baseline (recent level, daily
        profile, slow average) moves by the shift's typical size. Remembered as an
        excursion, with the run's own spread, so that a move back is a recovery. A shift
        back to where the series was before an excursion (within ``shift_z`` of its
        spread there, ``scale``) is its recovery; one that brings the slow average back
        to where it was before a drift is the drift's end."""
        shift, spread = median_and_spread([d for _, d in self._run])
        self._run = []
        band = self.config.shift_z * scale
        excursion = self._excursion
        if excursion is not None and _back(excursion.offset, shift, band):
            self._undo(excursion)
            return
        self._move(shift)
        anchor, slow = self._drift_anchor, self._slow_mean
        if anchor is not None and slow is not None and _back(slow - shift - anchor, shift, band):
            self._end_drift(anchor)
            return
        if excursion is None:
            self._excursion = _Excursion(shift, timestamp, spread)
        else:
            excursion.offset += shift
            excursion.since = timestamp
            excursion.scale = max(excursion.scale, spread)

    def _forget_old_levels(self, timestamp: float) -> None:
        """After ``recovery_memory_s`` at a new level, the level before it is history."""
        memory = self.config.recovery_memory_s
        if self._excursion is not None and timestamp - self._excursion.since > memory:
            self._excursion = None
        if self._drift_anchor is not None and timestamp - self._drift_at > memory:
            self._drift_anchor = None

    def _move(self, shift: float) -> None:
        self._recent = deque(v + shift for v in self._recent)
        for slot, values in self._seasonal.items():
            self._seasonal[slot] = deque((v + shift for v in values), maxlen=values.maxlen)
        if self._slow_mean is not None:
            self._slow_mean += shift

    def _earlier_level(self, baseline: float) -> float | None:
        """The level before an open excursion, or the slow average before an open drift.

        A run back toward it (points off the current level by ``shift_z`` on its side)
        is held out of the baseline and unscored; after ``sustain`` points, if their
        median is within ``z_at_alert`` spreads of that level, the series recovered:
        the detector returns there, and none of it is an anomaly."""
        if self._excursion is not None:
            return baseline - self._excursion.offset
        return self._drift_anchor

    def _recover(self) -> None:
        """Back to the level before the excursion or the drift."""
        if self._excursion is not None:
            self._undo(self._excursion)
        elif self._drift_anchor is not None:  # the recent level followed the drift: back
            now = statistics.median(list(self._recent)[-self.config.level_points :])
            self._recent = deque(v + self._drift_anchor - now for v in self._recent)
            self._end_drift(self._drift_anchor)

    def _undo(self, excursion: _Excursion) -> None:
        """The detector returns to where it was before the excursion and forgets its
        points, like any anomalous points."""
        cfg = self.config
        self._move(-excursion.offset)
        keep_recent, keep_residuals = cfg.level_points, cfg.warmup
        for slot in reversed(excursion.slots):
            values = self._seasonal.get(slot)
            if values:
                values.pop()
            if len(self._recent) > keep_recent:
                self._recent.pop()
            if len(self._residuals) > keep_residuals:
                self._residuals.pop()
        self._excursion = None
        self._held, self._run = [], []
        self._cusum_hi = self._cusum_lo = 0.0

    def _end_drift(self, anchor: float) -> None:
        """The drift is over, the series is back where it was: the slow average starts
        again from its value before the drift (a long average, steadier than the few
        points since the return)."""
        self._drift_anchor = None
        self._slow_mean = anchor
        self._held, self._run = [], []
        self._cusum_hi = self._cusum_lo = 0.0

    # ------------------------------------------------------------------ episodes
    def _episode(self, alerting: bool, score: float) -> tuple[bool, bool]:
        """(alert, ended): an alert opens an episode, or escalates an open one into the
        critical band (a minor blip just before a real incident must not hide it)."""
        if alerting:
            self._quiet = 0
            if not self._in_episode:
                self._pending += 1
                if self._pending < self.config.confirm and score < self.config.instant_score:
                    return False, False
                self._pending = 0
                self._in_episode, self._peak = True, score
                return True, False
            if score >= CRITICAL_SCORE > self._peak:
                self._peak = score
                return True, False
            self._peak = max(self._peak, score)
            return False, False
        self._pending = 0
        if self._in_episode:
            self._quiet += 1
            if self._quiet >= self.config.cooldown:
                self._in_episode = False
                self._quiet = 0
                return False, True
        return False, False
