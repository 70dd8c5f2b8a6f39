"""The histogram shift detector on simulated lognormal latencies, bucketed as the hub does."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.detection.distribution_shift import (
    BucketShiftDetector,
    ShiftConfig,
    chi_square_z,
    shape_worse,
)
from pipeline.models.correlation import AnomalyType
from pipeline.windows.histograms import HISTOGRAM_BOUNDS

BOUNDS = np.array(HISTOGRAM_BOUNDS[("llm_latency", "total_latency_ms")])
MEDIAN_MS, SIGMA = 450.0, 0.35  # claude-3-haiku of the simulation


def _window(
    rng: np.random.Generator,
    n: int,
    rollout: bool = False,
    scale: float = 1.0,
    median_ms: float = MEDIAN_MS,
):
    values = rng.lognormal(math.log(median_ms * scale), SIGMA, n)
    if rollout:  # half 40 % faster, half 40 % slower: the mean holds
        values = values * np.where(rng.random(n) < 0.5, 0.6, 1.4)
    counts = np.bincount(np.searchsorted(BOUNDS, values), minlength=len(BOUNDS) + 1)
    return counts, float(values.mean())


def _run(
    seed: int,
    minutes: int,
    change_at: int | None = None,
    n: int = 35,
    median_ms: float = MEDIAN_MS,
    config: ShiftConfig | None = None,
    **change: object,
) -> list:
    rng = np.random.default_rng(seed)
    detector = BucketShiftDetector(config or ShiftConfig())
    out = []
    for minute in range(minutes):
        changed = change_at is not None and minute >= change_at
        kwargs = change if changed else {}
        counts, mean = _window(rng, n, median_ms=median_ms, **kwargs)  # type: ignore[arg-type]
        out.append(detector.update(minute * 60.0, counts, mean))
    return out


def test_chi_square_z_matches_known_quantiles() -> None:
    # chi-square 0.999 quantiles: df 4 -> 18.467, df 8 -> 26.124 (z = 3.090)
    assert chi_square_z(18.467, 4) == pytest.approx(3.09, abs=0.05)
    assert chi_square_z(26.124, 8) == pytest.approx(3.09, abs=0.03)
    assert chi_square_z(0.0, 4) == 0.0


def test_quiet_windows_raise_nothing() -> None:
    alerts = [s for seed in range(3) for s in _run(seed, 1440) if s.episode_start]
    assert alerts == []


def test_a_rollout_with_the_same_mean_is_raised_within_two_windows() -> None:
    delays = []
    for seed in range(20):
        scored = _run(seed, 200, change_at=120, rollout=True)
        starts = [i for i, s in enumerate(scored) if s.episode_start]
        assert starts, f"seed {seed}: rollout missed"
        assert scored[starts[0]].anomaly_type is AnomalyType.DISTRIBUTION_SHIFT
        delays.append(starts[0] - 120)
    assert sorted(delays)[len(delays) // 2] <= 2, delays
    assert sum(d > 5 for d in delays) <= 2, delays  # 35 values a window: a pair misses now and then


SMALL = {"n": 16, "median_ms": 700.0}
"""llama-3-70b of the simulation at night: its values sit mid-bucket (640-1280 ms)."""


def test_quiet_small_mid_bucket_windows_raise_nothing() -> None:
    alerts = [s for seed in range(3) for s in _run(seed, 1440, **SMALL) if s.episode_start]
    assert alerts == []


def _first_alerts(config: ShiftConfig) -> list[tuple[int, float] | None]:
    """(delay, score) of the first alert of 20 rollouts in small mid-bucket windows."""
    out: list[tuple[int, float] | None] = []
    for seed in range(20):
        scored = _run(seed, 240, change_at=120, rollout=True, config=config, **SMALL)
        starts = [i for i, s in enumerate(scored) if s.episode_start]
        assert not starts or starts[0] >= 120, f"seed {seed}: raised before the change"
        out.append((starts[0] - 120, scored[starts[0]].score) if starts else None)
    return out


def test_a_rollout_no_pair_of_small_windows_shows_still_adds_up() -> None:
    with_cusum = _first_alerts(ShiftConfig())
    pairs_only = _first_alerts(ShiftConfig(cusum_h=math.inf))
    found = [a for a in with_cusum if a is not None]
    assert len(found) >= 18, with_cusum  # the buckets barely move: a few stay hidden
    assert len(found) > sum(a is not None for a in pairs_only), (with_cusum, pairs_only)
    delays = sorted(delay for delay, _ in found)
    assert delays[len(delays) // 2] <= 6, delays
    assert any(score < 0.8 for _, score in found), "the CUSUM's own alerts are warnings"


def test_one_incident_is_one_episode() -> None:
    scored = _run(4, 200, change_at=120, rollout=True)
    assert sum(s.episode_start for s in scored[120:]) <= 2  # a start, perhaps an escalation


def test_a_slowdown_moves_the_mean_and_is_not_a_shape_change() -> None:
    scored = _run(5, 200, change_at=120, scale=2.5)
    assert not any(s.episode_start for s in scored)


def test_a_shape_that_stays_becomes_the_normal_and_the_way_back_is_a_recovery() -> None:
    rng = np.random.default_rng(7)
    detector = BucketShiftDetector()
    events = []
    for minute in range(400):
        counts, mean = _window(rng, 35, rollout=100 <= minute < 300)
        scored = detector.update(minute * 60.0, counts, mean)
        if scored.episode_start or scored.episode_end:
            events.append((minute, scored.episode_start))
    starts = [m for m, started in events if started]
    assert starts and 100 <= starts[0] <= 104
    assert all(m < 300 for m in starts), events  # the return at 300 is not a new shift


def test_small_windows_are_not_scored() -> None:
    detector = BucketShiftDetector()
    counts = np.zeros(len(BOUNDS) + 1)
    counts[7] = 5
    scored = detector.update(0.0, counts, 700.0)
    assert scored.score == 0.0 and scored.anomaly_type is None


def _bucketed(values: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(BOUNDS, values), minlength=len(BOUNDS) + 1)


@pytest.mark.parametrize("seed", range(5))
def test_a_wider_or_slower_shape_is_worse_and_a_narrower_one_is_not(seed: int) -> None:
    rng = np.random.default_rng(seed)
    normal = _bucketed(rng.lognormal(math.log(MEDIAN_MS), SIGMA, 20_000))
    values = rng.lognormal(math.log(MEDIAN_MS), SIGMA, 2_000)
    rollout = values * np.where(rng.random(values.size) < 0.5, 0.6, 1.4)
    narrow = rng.lognormal(math.log(MEDIAN_MS), SIGMA / 3, 2_000)
    assert shape_worse(_bucketed(rollout), normal)  # wider, same mean
    assert shape_worse(_bucketed(values * 1.5), normal)  # mass moves up
    assert not shape_worse(_bucketed(narrow), normal)  # a return to a narrow normal
    assert not shape_worse(normal, _bucketed(rollout))  # the way back from a rollout
