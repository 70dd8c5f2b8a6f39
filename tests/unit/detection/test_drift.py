"""The median's CUSUM: quiet on noise, early on a creep, and a return is a recovery.

Windows are simulated as the scenario does (lognormal latencies, a daily load
cycle, so the count per window varies), and each window's median is numpy's.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.detection.drift import DriftConfig, MedianDriftDetector
from pipeline.detection.series import SeriesDetector

MINUTE = 60.0
DRIFT_AT, DRIFT_LEN = 1600, 360


def _windows(seed: int, minutes: int, drift: bool, end_at_once: bool = True) -> list[np.ndarray]:
    """Latencies per 1-minute window: ~35 a minute by day, ~14 at night; a +60 % creep
    over six hours from ``DRIFT_AT`` when ``drift`` (then back at once, or held)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(minutes):
        load = 0.6 + 0.4 * math.sin(2 * math.pi * (i / 1440 - 0.25))
        n = max(int(rng.poisson(35 * load)), 5)
        values = rng.lognormal(math.log(800), 0.35, n)
        if drift and i >= DRIFT_AT and (i < DRIFT_AT + DRIFT_LEN or not end_at_once):
            values *= 1 + 0.6 * min(i - DRIFT_AT, DRIFT_LEN) / DRIFT_LEN
        out.append(values)
    return out


def _starts(
    windows: list[np.ndarray], detector: MedianDriftDetector
) -> tuple[list[int], list[int]]:
    starts, ends = [], []
    for i, values in enumerate(windows):
        scored = detector.update(i * MINUTE, float(np.median(values)), values.size)
        if scored.episode_start:
            starts.append(i)
        if scored.episode_end:
            ends.append(i)
    return starts, ends


def test_no_alarm_on_two_days_of_noise() -> None:
    for seed in range(8):
        starts, _ = _starts(_windows(seed, 2880, drift=False), MedianDriftDetector())
        assert starts == [], (seed, starts)


def test_a_creep_is_seen_within_about_an_hour_and_earlier_than_by_the_p95() -> None:
    """Against the p95's CUSUM (the detector this replaced) on the very same windows."""
    delays, p95_delays = [], []
    for seed in range(8):
        windows = _windows(100 + seed, 2400, drift=True)
        starts, _ = _starts(windows, MedianDriftDetector())
        assert len(starts) == 1 and DRIFT_AT <= starts[0] < DRIFT_AT + 120, (seed, starts)
        delays.append(starts[0] - DRIFT_AT)
        p95 = SeriesDetector()
        p95_starts = [
            i
            for i, values in enumerate(windows)
            if p95.update(i * MINUTE, float(np.percentile(values, 95))).episode_start
            and i >= DRIFT_AT
        ]
        p95_delays.append(p95_starts[0] - DRIFT_AT if p95_starts else DRIFT_LEN)
    assert float(np.median(delays)) <= 100, delays
    assert float(np.median(delays)) < 0.75 * float(np.median(p95_delays)), (delays, p95_delays)


def test_the_return_after_a_creep_ends_the_episode_without_a_new_alert() -> None:
    for seed in range(8):
        starts, ends = _starts(_windows(200 + seed, 2400, drift=True), MedianDriftDetector())
        assert len(starts) == 1, (seed, starts)
        back = [i for i in ends if i >= DRIFT_AT + DRIFT_LEN]
        assert back and back[0] <= DRIFT_AT + DRIFT_LEN + 10, (seed, ends)


def test_a_level_held_for_a_day_becomes_the_new_normal() -> None:
    config = DriftConfig(accept_windows=600)
    windows = _windows(7, DRIFT_AT + DRIFT_LEN + 900, drift=True, end_at_once=False)
    starts, ends = _starts(windows, MedianDriftDetector(config))
    assert len(starts) == 1, starts
    assert len(ends) == 1 and ends[0] > starts[0] + config.accept_windows - 1, (starts, ends)


def test_windows_with_too_few_values_are_not_scored() -> None:
    detector = MedianDriftDetector()
    for i, values in enumerate(_windows(3, 200, drift=False)):
        detector.update(i * MINUTE, float(np.median(values)), values.size)
    before = detector.baseline
    scored = detector.update(200 * MINUTE, 1e6, DriftConfig().min_count - 1)
    assert scored.score == 0.0 and detector.baseline == before
