"""One streaming anomaly detector for any numeric series, with one configuration.

Per point, in order, with nothing read ahead:

1. **Predict** the value three ways: the series' recent level (median of the last 15
   points), its value at this time of day and at this time of week (median of the
   same slot in the last 3 periods, from the first repeat on). The predictor that has
   been closest lately (mean absolute error over ~300 normal points, at least 50) is
   used; a seasonal one only when it beats the recent level by 20 %: seasonality is
   detected per series by how well it predicts, never assumed.
2. **Standardize** the residual by the robust spread (1.4826 × MAD) of the last 500
   normal residuals, floored at the series' resolution (the smallest step between two
   of its values), at half the typical move when most residuals are exactly 0 (a
   quantised series), and, for totals of events (``unit``), at the Poisson noise
   ``sqrt(prediction × unit)``: a count of 1.5 a minute that reads 4 is not news.
3. **Three statistics** of the standardized residuals z: |z| (a spike or drop), and
   |mean| × √n of the last 6 and of the last 24 (a shift or a drift too small for one
   point to show). All are z-like (|N(0, 1)| for Gaussian noise).
4. **Calibrate** each by its own history (``TailModel``): the probability of a value at
   least as large under what this series' statistic usually does. The smallest of
   the three, times three (Bonferroni), is the point's tail probability p.
5. **Rate**: p is scaled by how often the series is sampled, relative to every 5
   minutes (× 5 for a point a minute, ÷ 12 for one an hour): a series tested five
   times as often would otherwise raise five times the false alerts. After scaling,
   one threshold is one false-alert rate in time, whatever the spacing.
6. **Score** = −log10(p) / 6, capped at 1: 0.5 (the alert threshold) is p = 1e-3 per
   5 minutes (~0.3 false alerts a day for a calibrated series), 0.8 (critical) is
   p ≈ 1.6e-5 — whatever the series.

An alert opens an **episode**. For ``refractory`` points (100) after it no new episode
opens (unless a point is critical and its own residual at least twice as surprising,
in decades, as the episode's peak: an escalation, or a new episode once the last has
ended), and the statistics' histories, spreads and predictor errors learn
nothing: an incident must not teach the detector that incidents are normal. The
recent level keeps following the data, anomalous values are kept out of the seasonal
profiles, and when the refractory period ends a profile that the series stayed away
from all along (its last 15 residuals on one side) moves by their median: a level
shift that lasts is the new normal (learn it, alert once). The episode ends after
``cooldown`` (3) points in a row whose own residual and last-6 mean are back below the
threshold (the 24-point mean would keep it open long after a short incident). A
run's mean opens an episode only with a point on its side (``point_agrees``): an
alert describes the present, not the incident the last 24 points still remember.

**Warm-up**: no score before ``warmup`` points (150): the spread needs its residuals
and each statistic's history at least 50 values before any probability below 1 is
claimed. Cost: O(500) per point (two medians over the residuals), ~20 KB per series.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from statistics import median

import numpy as np

from pipeline.detection.episodes import ENDED, ESCALATED, STARTED, EpisodeTracker
from pipeline.detection.predictors import (
    DAY_S,
    WEEK_S,
    RecentLevel,
    SeasonalProfile,
    median_of,
)
from pipeline.detection.scoring import CRITICAL_SCORE, DECADES, Scored, score_from_probability
from pipeline.detection.tail import TailModel
from pipeline.models.correlation import AnomalyType


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    level_points: int = 15
    spread_points: int = 500
    error_memory: int = 300
    min_errors: int = 50
    """Errors a predictor must have shown before it can be chosen."""
    seasonal_margin: float = 0.8
    """A seasonal predictor is used when its error is below this share of the recent
    level's."""
    seasonal_after: int = 50
    """Points seen before the series' spacing is taken as known and profiles start."""
    runs: tuple[int, ...] = (6, 24)
    history: int = 2000
    tail_quantile: float = 0.9
    precedent: int = 2
    precedent_recall: int = 5
    moved_floor: float = 0.5
    """When most residuals are exactly 0 (MAD 0), the spread is at least this share of
    the median size of the others: the step a quantised series takes when it moves."""
    warmup: int = 150
    refractory: int = 100
    cooldown: int = 3
    alert_score: float = 0.5
    critical_score: float = CRITICAL_SCORE
    decades: float = DECADES
    reference_step: float = 300.0


def point_agrees(
    z: float, recent: list[float], probabilities: list[float], runs: tuple[int, ...]
) -> bool:
    """Does the point itself take part in what its rarest statistic says? When that is a
    run's mean, the point must lie on the mean's side: after a short incident the mean
    of the last 24 stays high for a while, and a point back at (or below) the baseline
    must not open an episode about it."""
    firing = min(range(len(probabilities)), key=probabilities.__getitem__)
    if firing == 0:
        return True
    window = recent[-runs[firing - 1] :]
    return z * math.fsum(window) >= 0.0


@dataclass(slots=True)
class _Residuals:
    """The last ``size`` residuals of a predictor (a ring of float64).

    The ring grows as residuals come (doubling up to ``size``): most series of a mixed
    deployment see a few points an hour, and a full ring each would be most of the
    detection state's memory and of every snapshot."""

    size: int
    _values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    count: int = 0

    def append(self, residual: float) -> None:
        values = self._values
        if self.count >= len(values) and len(values) < self.size:  # grow; no wrap yet
            grown = np.zeros(min(self.size, max(16, 2 * len(values))))
            grown[: len(values)] = values
            self._values = values = grown
        values[self.count % self.size] = residual
        self.count += 1

    def __len__(self) -> int:
        return min(self.count, self.size)

    def values(self) -> np.ndarray:
        return self._values[: len(self)]


@dataclass(slots=True)
class _Predictor:
    model: RecentLevel | SeasonalProfile
    residuals: _Residuals
    error: float = 0.0
    errors: int = 0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=15))
    """Its last residuals, learning or not (what a rebase moves it by)."""


@dataclass(slots=True)
class SeriesDetector:
    config: DetectorConfig = field(default_factory=DetectorConfig)
    points: int = 0
    _predictors: list[_Predictor] = field(default_factory=list)
    _best: int = 0
    _z: deque[float] = field(default_factory=deque)
    """The last standardized residuals (as many as the longest run)."""
    _tails: list[TailModel] = field(default_factory=list)
    _step: float | None = None
    _last_time: float | None = None
    _last_value: float | None = None
    _resolution: float = 0.0
    _episodes: EpisodeTracker | None = None
    _unit: float = 0.0
    _surprise: float = 0.0
    """−log10 of the tail probability of the last point's own residual, uncapped: what
    a rise above an episode's peak is judged on (the runs' statistics grow for as long
    as a shift lasts; a point's own rarity does not)."""
    _gaps: deque[float] = field(default_factory=lambda: deque(maxlen=31))
    """The last gaps between points: their median is the series' spacing."""

    def __post_init__(self) -> None:
        cfg = self.config
        if self._episodes is None:
            self._episodes = EpisodeTracker(
                cfg.alert_score, cfg.critical_score, cfg.refractory, cfg.cooldown
            )
        if not self._predictors:
            self._predictors = [
                _Predictor(RecentLevel(cfg.level_points), _Residuals(cfg.spread_points))
            ]
        if self._z.maxlen is None:
            self._z = deque(self._z, maxlen=max(cfg.runs))
        if not self._tails:
            self._tails = [
                TailModel(cfg.history, cfg.tail_quantile, cfg.precedent, cfg.precedent_recall)
                for _ in range(1 + len(cfg.runs))
            ]

    @property
    def episodes(self) -> EpisodeTracker:
        assert self._episodes is not None
        return self._episodes

    @property
    def disturbed(self) -> bool:
        """In an episode, or within its refractory period: recent values say more about
        an incident than about the series' normal."""
        return self.episodes.disturbed

    def update(self, timestamp: float, value: float, unit: float = 0.0) -> Scored:
        """Score one point (in time order; equal timestamps are fine). ``unit`` > 0: the
        value is a total of a Poisson number of events each about ``unit`` in size (a
        count: 1; spend: the mean spend per event), whose noise is at least
        ``sqrt(prediction × unit)`` however calm the recent past was."""
        cfg = self.config
        self._unit = unit
        self._observe_spacing(timestamp, value)
        episodes = self.episodes
        episodes.tick()
        if episodes.since_opened == self.config.refractory + 1:
            self._rebase()
        predictions = [p.model.predict(timestamp) for p in self._predictors]
        self.points += 1
        for predictor, guess in zip(self._predictors, predictions, strict=True):
            if guess is not None:
                predictor.recent.append(value - guess)
        scored = self._score(value, predictions)
        anomalous = scored is not None and scored[0] >= cfg.alert_score
        for predictor in self._predictors:
            predictor.model.add(timestamp, value, anomalous)
        if scored is None:
            return Scored(timestamp, value, 0.0, None, 0.0, None)
        point_score, own_score, baseline, statistics = scored
        was_disturbed = episodes.disturbed
        learn = not episodes.refractory_now
        phase = episodes.observe(timestamp, point_score, own_score, self._surprise)
        if learn or phase == STARTED:
            for tail, statistic in zip(self._tails, statistics, strict=False):
                tail.add(statistic)
        if learn:
            self._learn_errors(value, predictions)
        raised = phase in (STARTED, ESCALATED)
        score = point_score
        if not raised and (was_disturbed or episodes.disturbed):
            score = min(score, math.nextafter(cfg.alert_score, 0.0))
        kind = None
        if point_score >= cfg.alert_score:
            kind = AnomalyType.SPIKE if value >= baseline else AnomalyType.DROP
        return Scored(
            timestamp,
            value,
            score,
            baseline,
            value - baseline,
            kind,
            episode_start=raised,
            episode_end=phase == ENDED,
            since=episodes.started_at if raised else None,
            point_score=point_score,
            phase=phase,
        )

    def expected(self, timestamp: float, unit: float = 0.0) -> tuple[float, float] | None:
        """(prediction, spread) at ``timestamp`` once warmed up; None before. ``unit``:
        as in ``update`` (the spread includes the Poisson floor)."""
        if self.points < self.config.warmup:
            return None
        predictor = self._predictors[self._best]
        prediction = predictor.model.predict(timestamp)
        if prediction is None or len(predictor.residuals) < 20:
            return None
        spread = self._spread(predictor)
        if unit > 0:
            spread = max(spread, math.sqrt(max(prediction, unit) * unit))
        return prediction, spread

    # ------------------------------------------------------------------ scoring
    def _score(
        self, value: float, predictions: list[float | None]
    ) -> tuple[float, float, float, list[float]] | None:
        """(score, the score of the point and the last few, prediction, statistics);
        None while the series is too young to predict."""
        cfg = self.config
        self._choose_predictor(predictions)
        predictor = self._predictors[self._best]
        prediction = predictions[self._best]
        if prediction is None:
            return None
        residual = value - prediction
        if len(predictor.residuals) < 20:
            for p, guess in zip(self._predictors, predictions, strict=True):
                if guess is not None:
                    self._remember(p, value - guess)
                    self._record_error(p, abs(value - guess))
            return None
        spread = self._spread(predictor)
        if self._unit > 0:
            spread = max(spread, math.sqrt(max(prediction, self._unit) * self._unit))
        z = residual / spread
        self._z.append(z)
        recent = list(self._z)
        statistics = [abs(z)]
        for run in cfg.runs:
            window = recent[-run:]
            statistics.append(abs(sum(window) / len(window)) * math.sqrt(len(window)))
        probabilities = [
            tail.probability(s) for tail, s in zip(self._tails, statistics, strict=True)
        ]
        if self.points <= cfg.warmup:
            return 0.0, 0.0, prediction, statistics
        rate = self._rate_factor()
        probability = min(1.0, min(probabilities) * len(statistics) * rate)
        combined = score_from_probability(probability, cfg.decades)
        if not self.episodes.open and not point_agrees(z, recent, probabilities, cfg.runs):
            # a run's mean that the point itself contradicts is the past, not news
            combined = min(combined, math.nextafter(cfg.alert_score, 0.0))
        short = min(probabilities[:2]) * len(statistics) * rate  # the point and the last 6
        own = score_from_probability(short, cfg.decades)
        own_probability = min(1.0, probabilities[0] * len(statistics) * rate)
        self._surprise = -math.log10(max(own_probability, 1e-300))
        return combined, own, prediction, statistics

    def _rebase(self) -> None:
        """The refractory period is over: a seasonal profile that the series has stayed
        away from all along (its last residuals all on one side) moves to where it is."""
        for predictor in self._predictors[1:]:
            recent = list(predictor.recent)
            if len(recent) < 5:
                continue
            shift = median(recent)
            if all(r > 0 for r in recent) or all(r < 0 for r in recent):
                assert isinstance(predictor.model, SeasonalProfile)
                predictor.model.shift(shift)
                predictor.recent.clear()
                self._z.clear()

    def _rate_factor(self) -> float:
        """Tail probabilities per point, scaled to the 5-minute reference spacing: a
        series sampled every minute tests five times as often, and gets five times the
        false alerts at the same p. Scaled, one threshold means one false-alert rate in
        time, whatever the spacing."""
        if not self._gaps:
            return 1.0
        return self.config.reference_step / median(self._gaps)

    def _spread(self, predictor: _Predictor) -> float:
        values = predictor.residuals.values()
        mad = median_of(np.abs(values - median_of(values)))
        spread = max(1.4826 * mad, self._resolution, 1e-12)
        if mad == 0.0:
            moved = np.abs(values[values != 0.0])
            if len(moved):
                spread = max(spread, self.config.moved_floor * median_of(moved))
        return spread

    def _choose_predictor(self, predictions: list[float | None]) -> None:
        cfg = self.config
        ready = [
            (p.error, k)
            for k, p in enumerate(self._predictors)
            if p.errors >= cfg.min_errors and predictions[k] is not None
        ]
        best = self._best if predictions[self._best] is not None else 0
        if ready:
            level_error = self._predictors[0].error if ready[0][1] == 0 else None
            error, best = min(ready)
            if best != 0 and level_error is not None and error > cfg.seasonal_margin * level_error:
                best = 0
        if best != self._best:
            self._best = best
            self._z.clear()

    def _learn_errors(self, value: float, predictions: list[float | None]) -> None:
        for p, guess in zip(self._predictors, predictions, strict=True):
            if guess is not None:
                self._remember(p, value - guess)
                self._record_error(p, abs(value - guess))

    def _remember(self, predictor: _Predictor, residual: float) -> None:
        predictor.residuals.append(residual)

    def _record_error(self, predictor: _Predictor, error: float) -> None:
        predictor.errors += 1
        weight = max(1.0 / predictor.errors, 1.0 / self.config.error_memory)
        predictor.error += weight * (error - predictor.error)

    def _observe_spacing(self, timestamp: float, value: float) -> None:
        """The series' step in time (seasonal slots) and in value (the spread's floor)."""
        if self._last_time is not None and timestamp > self._last_time:
            gap = timestamp - self._last_time
            self._step = gap if self._step is None else min(self._step, gap)
            self._gaps.append(gap)
        self._last_time = timestamp
        if self._last_value is not None and value != self._last_value:
            change = abs(value - self._last_value)
            self._resolution = change if self._resolution == 0 else min(self._resolution, change)
        self._last_value = value
        if self.points == self.config.seasonal_after and self._step:
            for period in (DAY_S, WEEK_S):
                if period / self._step >= 10:
                    profile = SeasonalProfile(period, self._step, min_cycles=1)
                    self._predictors.append(
                        _Predictor(profile, _Residuals(self.config.spread_points))
                    )
