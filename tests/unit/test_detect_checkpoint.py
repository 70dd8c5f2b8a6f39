"""Detection checkpoints: the state round-trips with its offsets; damage means a cold start."""

from __future__ import annotations

import pickle
from pathlib import Path

from agents import detect_checkpoint
from pipeline.composite import CompositeBuilder
from pipeline.metric_detection import MetricDetectors
from pipeline.rules import RuleEngine, load_rules
from pipeline.scenarios import Scenario


def test_state_and_offsets_round_trip_and_keep_detecting(tmp_path: Path) -> None:
    scenario = Scenario(3, days=0.1, incidents=(), quiet_days=0.0)
    minutes = list(scenario.traffic())
    warm, rest = minutes[:60], minutes[60:90]
    detectors, rules, composites = MetricDetectors(), RuleEngine(load_rules()), CompositeBuilder()
    for minute in warm:
        for metric in scenario.metrics(minute):
            detectors.observe(metric)
            rules.observe(metric)
            composites.observe(metric)
    path = tmp_path / "detect-checkpoint.pkl"
    state = {"detectors": detectors, "rules": rules, "composites": composites}
    detect_checkpoint.save(path, {"hub.metrics.1m|0": 1234}, state)
    offsets, restored = detect_checkpoint.load(path)
    assert offsets == {"hub.metrics.1m|0": 1234}
    assert restored["detectors"].series == detectors.series > 0
    # The restored detectors go on exactly as the originals do.
    for minute in rest:
        for metric in scenario.metrics(minute):
            assert restored["detectors"].observe(metric) == detectors.observe(metric)
            assert restored["rules"].observe(metric) == rules.observe(metric)


def test_other_versions_and_damaged_files_are_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "detect-checkpoint.pkl"
    assert detect_checkpoint.load(path) is None  # none yet
    path.write_bytes(pickle.dumps({"version": detect_checkpoint.VERSION + 1, "offsets": {},
                                   "state": {}}))  # fmt: skip
    assert detect_checkpoint.load(path) is None
    assert not path.exists() and path.with_suffix(".unusable").exists()
    path.write_bytes(b"not a pickle")
    assert detect_checkpoint.load(path) is None
    assert path.with_suffix(".unusable").read_bytes() == b"not a pickle"
