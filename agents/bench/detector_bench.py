"""`hub bench --detector`: what the series detector costs per point and per series.

Pure (no Kafka): one series of 1-minute points (a daily cycle and noise) timed point
by point; then many series fed round-robin, as the detect task sees them, timed once
they are past their warm-up (scored); and the memory a detector holds after 2,000
points (tracemalloc).
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import numpy as np

from pipeline.detection.series import SeriesDetector

MINUTE = 60.0


def _values(points: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    t = np.arange(points) * MINUTE
    daily = 100 + 30 * np.sin(2 * np.pi * (t % 86_400) / 86_400)
    return (daily + rng.normal(0, 5, points)).tolist()


def _one_series(points: int, seed: int) -> float:
    values = _values(points, seed)
    detector = SeriesDetector()
    began = time.perf_counter()
    for i, value in enumerate(values):
        detector.update(i * MINUTE, value)
    return points / (time.perf_counter() - began)


def _many_series(series: int, points_each: int, seed: int) -> float:
    """Points/s over the rounds after the warm-up (scored, as in steady state)."""
    values = _values(points_each + series, seed)
    detectors = [SeriesDetector() for _ in range(series)]
    steady = detectors[0].config.warmup + 10
    timed, elapsed = 0, 0.0
    for round_ in range(points_each):
        began = time.perf_counter()
        for k, detector in enumerate(detectors):
            detector.update(round_ * MINUTE, values[round_ + k])
        if round_ >= steady:
            elapsed += time.perf_counter() - began
            timed += series
    return timed / elapsed


def _bytes_per_series(series: int, points_each: int, seed: int) -> float:
    values = _values(points_each + series, seed)
    tracemalloc.start()
    detectors = [SeriesDetector() for _ in range(series)]
    for round_ in range(points_each):
        for k, detector in enumerate(detectors):
            detector.update(round_ * MINUTE, values[round_ + k])
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return used / series


def run_detector_bench(
    series: int = 10_000, points_each: int = 200, seed: int = 0
) -> dict[str, Any]:
    print("bench: detector, one series of 20,000 points ...", flush=True)
    one = _one_series(20_000, seed)
    print(f"bench: {one:.0f} points/s ({1e6 / one:.0f} µs a point)", flush=True)
    print(f"bench: detector, {series} series x {points_each} points ...", flush=True)
    many = _many_series(series, points_each, seed)
    print(f"bench: {many:.0f} points/s ({1e6 / many:.0f} µs a point)", flush=True)
    print("bench: detector memory, 100 series after 2,000 points each ...", flush=True)
    memory = _bytes_per_series(100, 2_000, seed)
    print(f"bench: {memory / 1024:.0f} KiB per series", flush=True)
    return {
        "one_series_points_per_s": one,
        "many_series": series,
        "many_series_points_per_s": many,
        "ratio_many_to_one": many / one,
        "bytes_per_series": memory,
    }
