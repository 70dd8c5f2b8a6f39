"""Counter fields are published as total + per-second rate, checked against the events."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from pipeline.aggregates import parse_windows
from pipeline.models.metrics import CounterValues, StatisticalMeasures
from pipeline.normalize import COUNTER_FIELDS
from pipeline.replay import replay
from pipeline.simulate import EventSimulator

BASE = datetime(2024, 3, 5, 12, 58, tzinfo=UTC)


def _auth_events(seed: int, n: int) -> tuple[list[bytes], Counter, Counter]:
    """Auth events over 3 minutes; ground truth of attempts and failures per (minute, action)."""
    rng = random.Random(seed)
    sim = EventSimulator(seed=seed)
    attempts: Counter = Counter()
    failures: Counter = Counter()
    lines = []
    for _ in range(n):
        ts = BASE + timedelta(milliseconds=rng.randrange(180_000))
        event = sim.make("security.auth", ts)
        data = event.payload.data
        minute = math.floor(ts.timestamp() / 60) * 60
        action = data.action.value if hasattr(data.action, "value") else str(data.action)
        attempts[(minute, action)] += 1
        failures[(minute, action)] += 0 if data.success else 1
        lines.append(event.to_wire().encode() + b"\n")
    return lines, attempts, failures


def test_auth_counters_match_the_events() -> None:
    lines, attempts, failures = _auth_events(seed=5, n=400)
    report = replay(lines, parse_windows("1m,5m"))
    got_attempts: Counter = Counter()
    got_failures: Counter = Counter()
    for metric in report.metrics:
        if metric.window.seconds != 60 or not metric.name.startswith("security_auth."):
            continue
        values = metric.values
        assert isinstance(values, CounterValues), metric.name
        assert values.rate == values.value / 60
        key = (int(metric.window_start.timestamp()), metric.tags["action"])
        target = got_attempts if metric.name.endswith(".attempts") else got_failures
        target[key] += values.value
    assert got_attempts == attempts
    assert +got_failures == +failures, "windows with no failures publish 0 or nothing"
    assert sum(failures.values()) > 0, "the simulator produced some failed logins"


def test_five_minute_counter_is_the_sum_of_its_minutes() -> None:
    lines, attempts, _ = _auth_events(seed=6, n=300)
    report = replay(lines, parse_windows("5m"))
    by_start: Counter = Counter()
    for metric in report.metrics:
        if metric.name == "security_auth.attempts":
            assert isinstance(metric.values, CounterValues)
            assert math.isclose(metric.values.rate, metric.values.value / 300)
            by_start[int(metric.window_start.timestamp())] += metric.values.value
    expected: Counter = Counter()
    for (minute, _action), n in attempts.items():
        expected[minute - minute % 300] += n
    assert by_start == expected


def test_non_counter_fields_keep_the_statistics_shape() -> None:
    lines, _, _ = _auth_events(seed=7, n=50)
    sim = EventSimulator(seed=7)
    lines.append(sim.make("telemetry.latency", BASE).to_wire().encode() + b"\n")
    report = replay(lines, parse_windows("1m"))
    for metric in report.metrics:
        measurement, _, field = metric.name.rpartition(".")
        counter = (measurement, field) in COUNTER_FIELDS
        assert isinstance(metric.values, CounterValues if counter else StatisticalMeasures)
    assert any(isinstance(m.values, StatisticalMeasures) for m in report.metrics)
