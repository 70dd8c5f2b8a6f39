"""Anomaly detection on one metric series: a robust adaptive baseline, scored points, episodes.

Pure and streaming (one point at a time), so ``hub detect`` offline and a streaming
agent can share it. Per point:

* **Baseline**: the median of the last ``level_points`` normal points (it follows a
  trend, and one outlier cannot move it); when at least ``seasonal_min_cycles``
  earlier days hold a point at the same time of day, their median instead (daily
  seasonality). The spread is 1.4826 × MAD of the last ``window`` normal points'
  residuals from their own baselines (a standard deviation that outliers cannot
  inflate), floored at ``min_relative_scale`` of the level so a flat series does
  not alert on rounding noise.
* **Spike / drop**: ``z = (value - baseline) / scale``; the score is a logistic in
  ``|z|`` calibrated so that z = 4 scores 0.5 (the alert threshold) and z ≥ 5.1
  scores ≥ 0.8, the spec's "critical" band.
* **Pattern deviation** (level shift): ``sustain`` points in a row on the same side
  with ``|z| >= shift_z``; scored on their mean ``|z|``. After ``2 × sustain`` such
  points the new level is accepted as the baseline.
* **Warm-up**: no score until ``warmup`` normal points were seen.
* **Robustness**: anomalous points never enter the baseline window.
* **Episodes**: consecutive alerting points form one episode; it ends after
  ``cooldown`` quiet points. One alert per episode, not one per point, plus one
  more if the episode escalates into the critical band (score ≥ 0.8).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

from pipeline.models.correlation import AnomalyType

DAY_S = 86_400
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
    confirm: int = 2
    """Alerting points in a row that open an episode: one heavy-tailed window is noise."""
    instant_score: float = 0.97
    """...unless a single point scores this much (|z| ≈ 6.8): no need to wait for it."""
    seasonal_min_cycles: int = 2
    log_scale: bool = False
    """Score log(value): for positive, right-skewed values (latency percentiles, spend),
    whose noise is relative; the baseline and deviation are still reported as values."""
    log_floor: float = 1e-9
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


def logistic_score(z: float, center: float, softness: float) -> float:
    return 1.0 / (1.0 + math.exp(-(abs(z) - center) / softness))


@dataclass(slots=True)
class SeriesDetector:
    config: DetectorConfig = field(default_factory=DetectorConfig)
    _recent: deque[float] = field(default_factory=deque)
    _residuals: deque[float] = field(default_factory=deque)
    _seasonal: dict[int, deque[float]] = field(default_factory=dict)
    _step: float | None = None
    _last_time: float | None = None
    _run: list[tuple[float, float]] = field(default_factory=list)  # (z, deviation) same side
    _in_episode: bool = False
    _peak: float = 0.0
    _quiet: int = 0
    _pending: int = 0  # alerting points in a row before an episode opens
    _pending_since: float = 0.0

    def update(self, timestamp: float, value: float, unit: float = 0.0) -> Scored:
        """Score one point. ``unit`` > 0: the value is a sum of a Poisson number of
        events each about ``unit`` in size (a count: 1; spend: the mean spend per
        event), so its noise is at least ``sqrt(baseline × unit)``, however calm the
        recent past was: a count of 1.5 a minute that reads 6 is not an incident."""
        cfg = self.config
        self._learn_step(timestamp)
        x = math.log(max(value, cfg.log_floor)) if cfg.log_scale else value
        if len(self._residuals) < cfg.warmup:
            level = self._level(timestamp)
            self._remember(timestamp, x, 0.0 if level is None else x - level)
            return Scored(timestamp, value, 0.0, None, 0.0, None)
        center, scale = self._baseline(timestamp)
        baseline = math.exp(center) if cfg.log_scale else center
        if unit > 0:  # compound Poisson: variance = level × unit (relative: unit / level)
            level = max(baseline, unit)
            noise = math.sqrt(unit / level) if cfg.log_scale else math.sqrt(level * unit)
            scale = max(scale, noise)
        z = (x - center) / scale
        score = logistic_score(z, cfg.z_at_alert, cfg.z_softness)
        kind: AnomalyType | None = AnomalyType.SPIKE if z > 0 else AnomalyType.DROP
        shift_score = self._track_shift(z, x - center)
        if shift_score >= cfg.alert_score:
            score, kind = max(score, shift_score), AnomalyType.PATTERN_DEVIATION
        alerting = score >= cfg.alert_score
        if not alerting:
            kind = None
            self._remember(timestamp, x, x - center)
        elif len(self._run) >= 2 * cfg.sustain:
            self._rebase()
        if alerting and not self._pending:
            self._pending_since = timestamp
        start, end = self._episode(alerting, score)
        since = self._pending_since if start else None
        return Scored(
            timestamp, value, score, baseline, value - baseline, kind, start, end, since
        )

    # ------------------------------------------------------------------ baseline
    def _level(self, timestamp: float) -> float | None:
        seasonal = self._seasonal.get(self._slot(timestamp))
        if seasonal is not None and len(seasonal) >= self.config.seasonal_min_cycles:
            return statistics.median(seasonal)
        if not self._recent:
            return None
        return statistics.median(list(self._recent)[-self.config.level_points :])

    def expected(self, timestamp: float) -> tuple[float, float] | None:
        """(baseline, spread) at ``timestamp`` once warmed up; None during warm-up."""
        if len(self._residuals) < self.config.warmup:
            return None
        return self._baseline(timestamp)

    def _baseline(self, timestamp: float) -> tuple[float, float]:
        level = self._level(timestamp)
        assert level is not None
        residuals = list(self._residuals)
        center = statistics.median(residuals)
        spread = 1.4826 * statistics.median(abs(r - center) for r in residuals)
        relative = self.config.min_relative_scale
        floor = relative if self.config.log_scale else relative * max(abs(level), 1e-12)
        return level, max(spread, floor, 1e-12)

    def _remember(self, timestamp: float, value: float, residual: float) -> None:
        window = self.config.window
        self._recent.append(value)
        self._residuals.append(residual)
        while len(self._recent) > window:
            self._recent.popleft()
        while len(self._residuals) > window:
            self._residuals.popleft()
        slot = self._seasonal.setdefault(self._slot(timestamp), deque(maxlen=7))
        slot.append(value)

    def _learn_step(self, timestamp: float) -> None:
        if self._last_time is not None and timestamp > self._last_time:
            gap = timestamp - self._last_time
            self._step = gap if self._step is None else min(self._step, gap)
        self._last_time = timestamp

    def _slot(self, timestamp: float) -> int:
        width = self.config.seasonal_tolerance_s or self._step or DAY_S
        return int((timestamp % DAY_S) // max(width, 1.0))

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

    def _rebase(self) -> None:
        """A shift that lasts is the new normal: the whole baseline (recent level and
        daily profile) moves by the shift's typical size; the residual spread stays."""
        shift = statistics.median(d for _, d in self._run)
        self._recent = deque(v + shift for v in self._recent)
        for slot, values in self._seasonal.items():
            self._seasonal[slot] = deque((v + shift for v in values), maxlen=values.maxlen)
        self._run = []

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
