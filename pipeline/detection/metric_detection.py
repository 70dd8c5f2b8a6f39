"""Anomaly detection over published window results: one detector per metric series.

Every closed window of a metric series (name + tags + window size) is one point
of that series. The value scored is the p95 for statistics (a latency SLO looks
at the tail), the window total for money, the total for counters (a jump or
collapse in counts is a frequency anomaly) and the value for gauges. Besides:

* **Episodes**: an alert when an episode starts, an update with the same id when
  it escalates into the critical band, and one when it ends (``Phase``).
* **Silence**: a counter series that published every window for a while and
  stops altogether is a frequency anomaly too (``silences``): no window, no
  count, so the plain detector never sees it. Scored like a window: the missing
  windows' expected total against its spread, so a series that counts a few
  events a window must stay silent longer than one that counts hundreds.
* **Calibration**: every series' scores come from its own history
  (:mod:`pipeline.detection.series`), so a p95 of a few dozen requests, whose
  noise is heavy-tailed, is judged by how heavy its tail usually is.
* **Drift**: a latency's typical value creeping up or down over hours, from a CUSUM
  of each window's median (:mod:`pipeline.detection.drift`), alerted as ``<name>.p50``.
* **Distribution shift**: a window's histogram against the recent normal ones, while
  its mean holds (``observe_histogram``, :mod:`pipeline.detection.distribution_shift`); for
  series without histograms, their coefficient of variation (``_shape``).

The worker snapshots this state (agents/runtime/stateful.py): it is picklable.
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import NamedTuple

import numpy as np

from pipeline.correlation.incidents import SeriesKey
from pipeline.detection.distribution_shift import BucketShiftDetector
from pipeline.detection.drift import MedianDriftDetector
from pipeline.detection.episodes import ENDED, ESCALATED, STARTED, EpisodeTracker
from pipeline.detection.family import FamilyPrior
from pipeline.detection.harm import Harm, harm, hurts
from pipeline.detection.scoring import (
    Scored,
    probability_from_z,
    score_from_probability,
)
from pipeline.detection.series import DetectorConfig, SeriesDetector
from pipeline.models.correlation import AnomalyEvent, AnomalyType
from pipeline.models.events import SourceModule
from pipeline.models.metrics import (
    AggregatedMetric,
    CounterValues,
    GaugeValues,
    HistogramMetric,
    StatisticalMeasures,
    TimeWindow,
)

DetectorKey = tuple[str, str, tuple[tuple[str, str], ...]]
"""(metric name as alerted, window value, sorted tags): one detector."""

_ID_NAMESPACE = uuid.UUID("0b7d7f3e-2f4e-4c55-a3a2-7f9b1c1f5e61")


def observed_value(metric: AggregatedMetric) -> tuple[str, float, bool]:
    """(metric name as alerted, value, is a counter) for one window result.

    Money is scored on the window's total (spend per window, the FinOps question);
    other statistics on their p95 (latency SLOs look at the tail).
    """
    values = metric.values
    if isinstance(values, CounterValues):
        return metric.name, float(values.value), True
    if isinstance(values, GaugeValues):
        return metric.name, values.value, False
    if metric.name.endswith("_usd"):
        return f"{metric.name}.sum", values.sum, False
    return f"{metric.name}.p95", values.p95, False


_DIRECTED = (
    AnomalyType.SPIKE,
    AnomalyType.DROP,
    AnomalyType.FREQUENCY_ANOMALY,
    AnomalyType.PATTERN_DEVIATION,  # a median's drift
)


def _silence_family(key: DetectorKey, size: float) -> tuple[str, float, str, str]:
    """The siblings a silence is judged against: the detection stage keys its partitions
    by metric, window, module and environment, so a family is always in one partition."""
    tags = dict(key[2])
    return key[0], size, tags.get("source_module", ""), tags.get("environment", "")


def _harmful(name: str, kind: AnomalyType | None, deviation: float) -> bool:
    """A spike, drop, count change or drift in a direction that can hurt (silences have
    none, and always can; a shape's direction is the caller's: ``_episode(harmful=)``)."""
    if kind not in _DIRECTED:
        return True
    return hurts(name, deviation)


def _module(tags: dict[str, str]) -> SourceModule:
    try:
        return SourceModule(tags.get("source_module", ""))
    except ValueError:
        return SourceModule.LLM_ANALYTICS_HUB


def _series(key: DetectorKey) -> SeriesKey:
    """A detector key as the correlator names series: ``name@window`` and tags."""
    return f"{key[0]}@{key[1]}", key[2]


def _unit(metric: AggregatedMetric, counter: bool) -> float:
    """Size of one event's contribution when the scored value is a total (see update)."""
    if counter:
        return 1.0
    values = metric.values
    if isinstance(values, StatisticalMeasures) and metric.name.endswith("_usd") and values.count:
        return abs(values.sum) / values.count
    return 0.0


def _is_duration(metric: AggregatedMetric) -> bool:
    """Latency-like statistics: watched for slow drift, and their spread for shifts."""
    return isinstance(metric.values, StatisticalMeasures) and metric.name.endswith("_ms")


MAX_WAITING = 10_000
"""Histograms of one series that may wait for their window results (a week of minutes)."""

SHAPE_MIN_COUNT = 30
"""Values a window needs before its spread is scored: fewer say little about shape."""


def key_size(key: DetectorKey) -> int:
    """Window seconds of a detector key (its second part is the window label)."""
    return TimeWindow(key[1]).seconds


class Phase(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """Where an alert episode is; published as the ``hub.episode`` header."""

    STARTED = "started"
    ESCALATED = "escalated"
    """Entered the critical band (score ≥ 0.8) after starting below it."""
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Alert:
    """One message for the anomalies topic: an episode's start, escalation or end.

    All three carry the episode's ``event_id`` and start ``timestamp``; an end
    carries the peak score and the value that ended it.
    """

    event: AnomalyEvent
    phase: Phase
    key: SeriesKey
    window_s: int
    ended_at: datetime | None = None
    raised_at: datetime | None = None
    """The window whose result raised it (``event.timestamp`` is the episode's first
    alerting window)."""


class ScoredPoint(NamedTuple):
    """One window value a detector scored: the correlator's history of that series."""

    key: SeriesKey
    window_s: int
    start: float
    value: float


@dataclass(slots=True)
class _Episode:
    event: AnomalyEvent
    peak: float


@dataclass(slots=True)
class _Presence:
    """How regularly a counter series publishes: the basis of silence alerts."""

    last_start: float
    size: float
    source: str | None = None
    """The aggregation partition that publishes the series: its silence is judged by
    that partition's progress in event time, never by another's."""
    streak: int = 1
    silent: bool = False


@dataclass(frozen=True, slots=True)
class SilenceConfig:
    windows: int = 3
    """Missing windows in a row that make a silence."""
    min_streak: int = 12
    """Only a series that published this many windows in a row "usually talks"."""


@dataclass(slots=True)
class MetricDetectors:
    config: DetectorConfig = field(default_factory=DetectorConfig)
    silence: SilenceConfig = field(default_factory=SilenceConfig)
    _detectors: dict[DetectorKey, SeriesDetector] = field(default_factory=dict)
    _episodes: dict[DetectorKey, _Episode] = field(default_factory=dict)
    _presence: dict[DetectorKey, _Presence] = field(default_factory=dict)
    _latest: dict[tuple[str | None, float], float] = field(default_factory=dict)
    """(source, window size) -> the latest window start it published a result for."""
    _family_latest: dict[tuple[str, float, str, str], float] = field(default_factory=dict)
    """(metric name, window size, module, environment) -> the latest window start any of
    its series published: a series is silent only while its family goes on without it."""
    _silences: dict[DetectorKey, AnomalyEvent] = field(default_factory=dict)
    _means: dict[DetectorKey, SeriesDetector] = field(default_factory=dict)
    _shapes: dict[DetectorKey, SeriesDetector] = field(default_factory=dict)
    _buckets: dict[DetectorKey, BucketShiftDetector] = field(default_factory=dict)
    """Per (metric name, window, tags) with histograms: their shape replaces the spread."""
    _drifts: dict[DetectorKey, MedianDriftDetector] = field(default_factory=dict)
    """Per duration series: the CUSUM of its window medians."""
    _results_seen: dict[DetectorKey, float] = field(default_factory=dict)
    """Per duration series: the latest window start whose result is in."""
    _waiting: dict[DetectorKey, deque[tuple[float, HistogramMetric]]] = field(default_factory=dict)
    """(window start, histogram) read before their window's result (``observe_histogram``)."""
    _families: dict[tuple[str, str, str, str], FamilyPrior] = field(default_factory=dict)
    """(metric name as alerted, window, module, environment) -> its members' values."""
    _young: dict[DetectorKey, EpisodeTracker] = field(default_factory=dict)
    """Episodes of series in their warm-up, scored by their family."""
    _muted: set[DetectorKey] = field(default_factory=set)
    """Series in an episode whose direction is harmless (``pipeline.detection.harm``)."""
    muted: int = 0
    """Episodes detected and not alerted because they went the harmless way."""
    keep_points: bool = False
    """Keep each value scored for ``take_points`` (whoever correlates the alerts)."""
    _points: list[ScoredPoint] = field(default_factory=list)

    @property
    def series(self) -> int:
        return len(self._detectors)

    def take_points(self) -> list[ScoredPoint]:
        """The values scored since the last call, of every series an alert can name (the
        p95, the median's drift, the histogram's distance): a correlator that sees these
        can tell how an alert's series moved with the others'."""
        points, self._points = self._points, []
        return points

    def _point(self, key: DetectorKey, start: float, value: float) -> None:
        if self.keep_points:
            self._points.append(ScoredPoint(_series(key), key_size(key), start, value))

    def _detector(self, key: DetectorKey) -> SeriesDetector:
        detector = self._detectors.get(key)
        if detector is None:
            detector = self._detectors[key] = SeriesDetector(self.config)
        return detector

    def observe(self, metric: AggregatedMetric, source: str | None = None) -> list[Alert]:
        """Score one window result: alerts for episodes that start, escalate or end.
        ``source``: the aggregation partition that published it (silences are judged per
        source: a partition that lags in a catch-up makes no series silent)."""
        name, value, counter = observed_value(metric)
        tags = tuple(sorted(metric.tags.items()))
        key = (name, metric.window.value, tags)
        moment = metric.window_start
        start = moment.timestamp()
        size = (metric.window_end - metric.window_start).total_seconds()
        progress = (source, size)
        self._latest[progress] = max(self._latest.get(progress, start), start)
        family = _silence_family(key, size)
        latest_of_family = self._latest_of_families()
        latest_of_family[family] = max(latest_of_family.get(family, start), start)
        alerts = self._presence_seen(key, start, size, metric, value, source)
        self._point(key, start, value)
        detector = self._detector(key)
        young = detector.points < self.config.warmup
        scored = detector.update(start, value, _unit(metric, counter))
        scored = self._by_family(key, metric, size, value, scored, young, detector)
        kind = scored.anomaly_type
        if counter and kind in (AnomalyType.SPIKE, AnomalyType.DROP):
            kind = AnomalyType.FREQUENCY_ANOMALY
        alerts += self._episode(key, name, metric.tags, moment, value, scored, kind)
        if _is_duration(metric):
            shape_key = (metric.name, key[1], tags)
            shape = self._buckets.get(shape_key)
            disturbed = scored.score >= self.config.alert_score or detector.disturbed
            alerts += self._drift(key, metric, disturbed or (shape is not None and shape.disturbed))
            if shape is None:
                alerts += self._shape(key, metric)
            alerts += self._release_histograms(shape_key, start)
        return alerts

    def _by_family(
        self,
        key: DetectorKey,
        metric: AggregatedMetric,
        size: float,
        value: float,
        scored: Scored,
        young: bool,
        detector: SeriesDetector,
    ) -> Scored:
        """A counter series born after its family had a history is scored by the family
        (same metric, window, module and environment; any other tags) while it warms up,
        if the family has members enough to say what siblings do; every member teaches
        the family its normal values."""
        if not isinstance(metric.values, CounterValues):
            return scored
        cfg = self.config
        tags = metric.tags
        family = self._families.setdefault(
            (key[0], key[1], tags.get("source_module", ""), tags.get("environment", "")),
            FamilyPrior(),
        )
        tracker = self._young.get(key)
        born_late = detector.points == 1 and family.born_after_history(
            scored.timestamp, cfg.warmup * size
        )
        if tracker is None and young and born_late and family.ready:
            tracker = self._young[key] = EpisodeTracker(
                cfg.alert_score, cfg.critical_score, cfg.refractory, cfg.cooldown
            )
        if tracker is None:  # warmed up, or born with its family: its own detector judges
            if not detector.disturbed and scored.point_score < cfg.alert_score:
                family.learn(value)
            return scored
        if not young:  # the series' own history takes over
            del self._young[key]
            if not tracker.open or scored.episode_start:
                return scored
            return replace(scored, episode_end=True, phase=ENDED)
        tracker.tick()
        unit = _unit(metric, counter=True)
        probability = min(1.0, family.probability(value, unit) * size / cfg.reference_step)
        score = score_from_probability(probability, cfg.decades)
        phase = tracker.observe(scored.timestamp, score)
        if not tracker.disturbed:  # its normal values are the family's too
            family.learn(value)
        raised = phase in (STARTED, ESCALATED)
        baseline = family.center()
        return Scored(
            scored.timestamp,
            value,
            score,
            baseline,
            value - baseline,
            AnomalyType.SPIKE if score >= cfg.alert_score else None,
            episode_start=raised,
            episode_end=phase == ENDED,
            since=tracker.started_at if raised else None,
            point_score=score,
            phase=phase,
        )

    def _release_histograms(self, key: DetectorKey, start: float) -> list[Alert]:
        """The window result of ``start`` is in: score the histograms that waited for it."""
        self._results_seen[key] = max(start, self._results_seen.get(key, start))
        waiting = self._waiting.get(key)
        alerts: list[Alert] = []
        while waiting and waiting[0][0] <= start:
            alerts += self._score_histogram(key, *waiting.popleft())
        if waiting is not None and not waiting:
            del self._waiting[key]
        return alerts

    def _drift(self, key: DetectorKey, metric: AggregatedMetric, disturbed: bool) -> list[Alert]:
        """Slow creep of a duration's median (the p95 is too noisy to see it early); not
        while the p95's or the histogram's detector handles an incident (``disturbed``)."""
        values = metric.values
        assert isinstance(values, StatisticalMeasures)
        name = f"{metric.name}.p50"
        drift_key = (name, key[1], key[2])
        detector = self._drifts.setdefault(drift_key, MedianDriftDetector())
        start = metric.window_start.timestamp()
        self._point(drift_key, start, values.p50)
        scored = detector.update(start, values.p50, values.count, disturbed)
        moment = metric.window_start
        kind = scored.anomaly_type
        return self._episode(drift_key, name, metric.tags, moment, values.p50, scored, kind)

    def observe_histogram(self, histogram: HistogramMetric, window: TimeWindow) -> list[Alert]:
        """Distribution shift of one window's histogram (``timestamp`` = window end),
        alerted as ``<name>.distribution``; the series' spread is no longer scored.

        The histogram and the series' drift detector consult each other (no shape alert
        during a drift; no drift evidence while the shape is off), so a histogram is
        scored only once its window's result has been observed: its topic and the
        metrics topic are read in any interleaving (a catch-up may read an hour of
        histograms first), and the outcome must not depend on it. A histogram that
        arrives first waits (at most ``MAX_WAITING`` per series)."""
        tags = tuple(sorted(histogram.tags.items()))
        key = (histogram.name, window.value, tags)
        start = histogram.timestamp.timestamp() - window.seconds
        if start <= self._results_seen.get(key, -math.inf):
            return self._score_histogram(key, start, histogram)
        waiting = self._waiting.setdefault(key, deque())
        waiting.append((start, histogram))
        alerts: list[Alert] = []
        while len(waiting) > MAX_WAITING:  # its results are not coming: score it anyway
            alerts += self._score_histogram(key, *waiting.popleft())
        return alerts

    def _score_histogram(
        self, key: DetectorKey, start: float, histogram: HistogramMetric
    ) -> list[Alert]:
        metric, window, tags = key
        counts = np.array([bucket.count for bucket in histogram.buckets], dtype=np.float64)
        detector = self._buckets.setdefault(key, BucketShiftDetector())
        drift = self._drifts.get((f"{metric}.p50", window, tags))
        hold = drift is not None and drift.drifting
        scored = detector.update(start, counts, histogram.stats.avg, hold)
        name = f"{metric}.distribution"
        moment = datetime.fromtimestamp(start, UTC)
        alert_key = (name, window, tags)
        if scored.value > 0:  # 0: not scored (warm-up, too few values)
            self._point(alert_key, start, scored.value)
        return self._episode(
            alert_key, name, histogram.tags, moment, scored.value, scored,
            scored.anomaly_type, harmful=detector.worse or harm(metric) is not Harm.RISE,
        )  # fmt: skip

    def _episode(
        self,
        key: DetectorKey,
        name: str,
        tags: dict[str, str],
        moment: datetime,
        value: float,
        scored: Scored,
        kind: AnomalyType | None,
        harmful: bool | None = None,
    ) -> list[Alert]:
        """``harmful``: whether this episode can hurt, where its deviation does not say
        (a distribution's shape); by default its kind and direction decide."""
        series = _series(key)
        if harmful is None:
            harmful = _harmful(name, kind, scored.deviation)
        open_episode = self._episodes.get(key)
        if key in self._muted:
            if scored.episode_end:
                self._muted.discard(key)
                return []
            if not (scored.episode_start and harmful):
                return []
            self._muted.discard(key)  # it turned harmful: from here on, an episode
        if scored.episode_start and kind is not None and scored.baseline is not None:
            if open_episode is None and not harmful:
                self._muted.add(key)  # good news: detected (the baseline keeps out of it),
                self.muted += 1  # not alerted
                return []
            raised, moment = moment, datetime.fromtimestamp(scored.since or 0.0, UTC)
            event = AnomalyEvent(
                event_id=uuid.uuid5(_ID_NAMESPACE, f"{key!r}|{moment.isoformat()}"),
                source_module=_module(tags),
                anomaly_type=kind,
                anomaly_score=round(scored.score, 6),
                baseline=scored.baseline,
                observed=value,
                deviation=scored.deviation,
                timestamp=moment,
                metric=name,
            )
            if open_episode is None:
                self._episodes[key] = _Episode(event, scored.score)
                return [Alert(event, Phase.STARTED, series, key_size(key), raised_at=raised)]
            # escalation: the same episode (id, start), now in the critical band
            update = event.model_copy(
                update={"event_id": open_episode.event.event_id,
                        "timestamp": open_episode.event.timestamp}
            )  # fmt: skip
            open_episode.peak = max(open_episode.peak, scored.score)
            return [Alert(update, Phase.ESCALATED, series, key_size(key), raised_at=raised)]
        rarity = max(scored.score, scored.point_score)
        if open_episode is not None and rarity >= self.config.alert_score:
            open_episode.peak = max(open_episode.peak, rarity)
        if scored.episode_end and open_episode is not None:
            del self._episodes[key]
            ended = open_episode.event.model_copy(
                update={
                    "anomaly_score": round(open_episode.peak, 6),
                    "observed": value,
                    "deviation": value - open_episode.event.baseline,
                }
            )
            return [Alert(ended, Phase.ENDED, series, key_size(key), moment, moment)]
        return []

    # ------------------------------------------------------------------ silence
    def _presence_seen(
        self,
        key: DetectorKey,
        start: float,
        size: float,
        metric: AggregatedMetric,
        value: float,
        source: str | None,
    ) -> list[Alert]:
        """Track a counter series' regularity; end its silence if it was silent."""
        if not isinstance(metric.values, CounterValues):
            return []
        presence = self._presence.get(key)
        if presence is None:
            self._presence[key] = _Presence(start, size, source)
            return []
        presence.source = source
        if start == presence.last_start + size:
            presence.streak += 1
        elif start > presence.last_start:
            presence.streak = 1
        presence.last_start = max(presence.last_start, start)
        silence = self._silences.pop(key, None)
        presence.silent = False
        if silence is None:
            return []
        back = {"observed": value, "deviation": value - silence.baseline}
        ended = silence.model_copy(update=back)
        series = _series(key)
        back_at = metric.window_start
        return [Alert(ended, Phase.ENDED, series, round(size), back_at, back_at)]

    def silences(
        self, closed_through: float | None = None, sizes: frozenset[float] | None = None
    ) -> list[Alert]:
        """Counter series that usually publish every window and stopped: one alert each.

        Judged in event time, per source: a series is silent once its own aggregation
        partition has published ``windows`` windows of its size (for other series) since
        its last one, and their expected total is an anomaly by the series' own spread
        (Poisson floor included). A partition that lags behind the others in a catch-up
        silences nothing, and neither does traffic that stopped everywhere (nothing
        published later proves a window empty). ``closed_through``: judge instead against
        the moment by which every aggregation partition has closed its windows (the
        detection stage's watermark), which makes the decision a function of event time;
        ``sizes``: only series of these window sizes (those with results at that moment:
        an hourly result proves nothing about the minutes after the traffic stopped).
        """
        alerts = []
        for key, presence in self._presence.items():
            if sizes is not None and presence.size not in sizes:
                continue
            if closed_through is None:
                latest = self._latest.get((presence.source, presence.size))
            else:  # every partition closed the windows ending by then
                latest = math.floor(closed_through / presence.size) * presence.size
                latest -= presence.size
            if presence.silent or presence.streak < self.silence.min_streak or latest is None:
                continue
            # its family (same metric, module and environment) must go on without it: a
            # whole family that stops (a replay that ended, an environment shut down,
            # threats that ceased) proves no window empty
            family = self._latest_of_families().get(_silence_family(key, presence.size))
            latest = latest if family is None else min(latest, family)
            if latest - presence.last_start < self.silence.windows * presence.size:
                continue
            expected = self._detectors[key].expected(presence.last_start + presence.size, 1.0)
            if expected is None:
                continue
            baseline, scale = expected
            # the missing windows are one observation of 0 against their expected total
            # (n × baseline, spread √n × scale): a series that counts a few events a
            # window has empty stretches now and then; they are silences only when long
            missing = (latest - presence.last_start) / presence.size
            z = math.sqrt(missing) * baseline / scale
            score = score_from_probability(probability_from_z(z))
            if score < self.config.alert_score:
                continue
            presence.silent = True
            moment = datetime.fromtimestamp(presence.last_start + presence.size, UTC)
            tags = dict(key[2])
            event = AnomalyEvent(
                event_id=uuid.uuid5(_ID_NAMESPACE, f"{key!r}|silence|{moment.isoformat()}"),
                source_module=_module(tags),
                anomaly_type=AnomalyType.FREQUENCY_ANOMALY,
                anomaly_score=round(score, 6),
                baseline=baseline,
                observed=0.0,
                deviation=-baseline,
                timestamp=moment,
                metric=key[0],
            )
            self._silences[key] = event
            series = _series(key)
            raised = datetime.fromtimestamp(latest, UTC)
            alerts.append(Alert(event, Phase.STARTED, series, round(presence.size), None, raised))
        return alerts

    def _latest_of_families(self) -> dict[tuple[str, float, str, str], float]:
        """``_family_latest``, also for state pickled before it existed."""
        try:
            return self._family_latest
        except AttributeError:
            self._family_latest = {}
            return self._family_latest

    # ------------------------------------------------------------------ distribution
    def _shape(self, key: DetectorKey, metric: AggregatedMetric) -> list[Alert]:
        """Distribution shift: the coefficient of variation moves while the mean holds.

        stddev/avg is scale-free and, unlike a ratio of tail percentiles, stable on a
        few dozen values: a rollout that makes half the requests faster and the rest
        slower keeps the mean but widens it; a uniform slowdown moves both and stays
        a spike of the p95. Windows with fewer than ``SHAPE_MIN_COUNT`` values are
        not scored.
        """
        values = metric.values
        assert isinstance(values, StatisticalMeasures)
        if values.count < SHAPE_MIN_COUNT or values.avg <= 0:
            return []
        name = f"{metric.name}.cv"
        shape_key = (name, key[1], key[2])
        start = metric.window_start.timestamp()
        mean = self._means.setdefault(key, SeriesDetector(self.config)).update(start, values.avg)
        ratio = values.stddev / values.avg
        shape = self._shapes.setdefault(key, SeriesDetector(self.config)).update(start, ratio)
        steady_mean = mean.point_score < self.config.alert_score
        kind = AnomalyType.DISTRIBUTION_SHIFT if shape.anomaly_type and steady_mean else None
        return self._episode(shape_key, name, metric.tags, metric.window_start, ratio, shape, kind)
