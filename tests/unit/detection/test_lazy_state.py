"""Detector state allocated as it fills: the same values as a ring allocated whole, and a
young series pickles small (snapshots hold every series of a partition)."""

from __future__ import annotations

import pickle

import numpy as np

from pipeline.detection.series import SeriesDetector, _Residuals
from pipeline.detection.tail import TailModel


def test_a_growing_ring_holds_what_a_full_ring_holds_at_every_count() -> None:
    rng = np.random.default_rng(3)
    size = 500
    ring, reference = _Residuals(size), np.zeros(size)
    for count in range(1, 1_300):
        value = float(rng.normal())
        ring.append(value)
        reference[(count - 1) % size] = value
        assert len(ring) == min(count, size)
        assert np.array_equal(ring.values(), reference[: min(count, size)])


def test_a_tail_model_without_entries_answers_as_before_and_allocates_at_the_first() -> None:
    tail = TailModel()
    assert tail.probability(3.0) == 1.0 and tail._weights.size == 0
    tail.add(0.5)
    assert tail._weights.size == 200 and tail._weights.sum() > 0


def test_a_young_series_pickles_small() -> None:
    detector = SeriesDetector()
    for minute in range(5):
        detector.update(minute * 60.0, 10.0 + minute % 2)
    assert len(pickle.dumps(detector)) < 3_000  # full rings and histograms: ~10 KB
