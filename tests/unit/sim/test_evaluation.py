"""Labelled scenarios and the evaluation harness (docs/EVALUATION.md).

The scenario's own truth is checked against its samples; the detection figures are
measured on a seed that was not used while tuning the detectors (101-105 were).
"""

from __future__ import annotations

import itertools

import numpy as np

from pipeline.sim.evaluation import run_scenario
from pipeline.sim.scenarios import (
    DAY,
    INCIDENT_KINDS,
    THREATS,
    Scenario,
    latency_series,
)


def test_labels_are_disjoint_after_the_quiet_day_and_match_the_traffic() -> None:
    scenario = Scenario(seed=7, days=2)
    labels = sorted(scenario.labels, key=lambda label: label.start)
    assert sorted(label.kind for label in labels) == sorted(INCIDENT_KINDS)
    assert labels[0].start >= scenario.start + DAY
    assert all(a.end <= b.start for a, b in itertools.pairwise(labels))
    assert labels[-1].end <= scenario.start + 2 * DAY
    injection = next(label for label in labels if label.kind == "prompt_injection")
    model = dict(injection.affected[1][1])["model_id"]
    assert injection.root_cause == THREATS and injection.affected[1] == latency_series(model)
    during, before = [], []
    threats_during, threats_before = [], []
    for minute in scenario.traffic():
        if injection.start <= minute.start < injection.end:
            during.append(np.median(minute.latency_ms[model]))
            threats_during.append(minute.threats)
        elif injection.start - 3600 <= minute.start < injection.start:
            before.append(np.median(minute.latency_ms[model]))
            threats_before.append(minute.threats)
    # the injected effects are really in the samples: latency x2.5, threats x15
    assert 2.0 < np.median(during) / np.median(before) < 3.0
    assert np.mean(threats_during) > 8 * np.mean(threats_before)


def test_an_unseen_seed_is_detected_with_its_root_causes_and_few_false_alerts() -> None:
    result = run_scenario(Scenario(seed=911, days=2))
    assert len(result.incidents) == len(INCIDENT_KINDS)
    detected = [i for i in result.incidents if i.detected]
    assert len(detected) >= 4, [(i.label.kind, i.detected) for i in result.incidents]
    assert sum(i.root_correct for i in detected) >= 3
    fast = [i for i in detected if i.label.kind in ("prompt_injection", "provider_outage")]
    assert all(i.delay_windows is not None and i.delay_windows <= 2 for i in fast)
    assert result.false_alerts <= result.alerts / 5  # 0 of 11 when measured
    quiet = run_scenario(Scenario(seed=912, days=2, incidents=()))
    assert quiet.false_critical / quiet.days < 1  # the docs report the mean over five seeds
    assert quiet.alerts == quiet.false_alerts  # nothing to belong to
