"""What every detector returns for a point, and the one scale its score is on."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.models.correlation import AnomalyType

CRITICAL_SCORE = 0.8
"""The spec's band for critical anomalies."""

DECADES = 6.0
"""−log10 of the tail probability that scores 1.0: the alert threshold 0.5 is p = 1e-3
and the critical band 0.8 starts at p ≈ 1.6e-5."""


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
    """With ``episode_start``: when the episode began."""
    point_score: float = 0.0
    """The point's own rarity; ``score`` is what the hub acts on (in an open episode it
    stays below the alert threshold unless the point escalates the episode)."""
    phase: str | None = None
    """``started``, ``escalated``, ``open`` or ``ended`` while an episode is concerned."""


def score_from_probability(probability: float, decades: float = DECADES) -> float:
    """A tail probability as a score in [0, 1]: −log10(p) / ``decades``, capped."""
    if probability >= 1.0:
        return 0.0
    return min(1.0, -math.log10(max(probability, 1e-300)) / decades)


def probability_from_z(z: float) -> float:
    """One-sided tail probability of a standard normal beyond ``|z|``."""
    return 0.5 * math.erfc(abs(z) / math.sqrt(2.0))


def score_from_z(z: float, decades: float = DECADES) -> float:
    """A z-score of a statistic whose null distribution is (close to) normal, on the
    same scale as every other score (two-sided)."""
    return score_from_probability(min(1.0, 2.0 * probability_from_z(z)), decades)


def logistic_score(z: float, center: float, softness: float) -> float:
    """The histogram and drift detectors' mapping of their z-like statistics: ``center``
    scores 0.5. Their statistics come from tests whose nominal p-values overstate
    rarity on real windows (overdispersed counts), so they keep this tuned mapping."""
    return 1.0 / (1.0 + math.exp(-(abs(z) - center) / softness))


def median_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """The median and 1.4826 × MAD (a standard deviation that outliers cannot inflate)."""
    center = statistics.median(values)
    return center, 1.4826 * statistics.median(abs(v - center) for v in values)
