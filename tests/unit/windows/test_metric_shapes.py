"""Counter and gauge shapes of published windows, checked against the events themselves.

Counters: total and per-second rate. Gauges: the latest value in the window by event
time, and its change from the previous window's latest value.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from pipeline.ingest.normalize import COUNTER_FIELDS, GAUGE_FIELDS, Point, points_from_event
from pipeline.ingest.point_batches import group_points
from pipeline.models.metrics import CounterValues, GaugeValues, StatisticalMeasures
from pipeline.sim.simulate import EventSimulator
from pipeline.windows.aggregates import parse_windows
from pipeline.windows.engine import EngineConfig, PartitionEngine
from pipeline.windows.replay import replay

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
        if (measurement, field) not in GAUGE_FIELDS:
            assert isinstance(metric.values, CounterValues if counter else StatisticalMeasures)
    assert any(isinstance(m.values, StatisticalMeasures) for m in report.metrics)


def _budget_truth(seed: int, n: int) -> tuple[list[bytes], dict]:
    """Budget alerts over 4 minutes; latest current_spend_usd per (series tags, minute)."""
    rng = random.Random(seed)
    sim = EventSimulator(seed=seed)
    lines = []
    latest: dict[tuple, dict[int, tuple[float, float]]] = {}
    for _ in range(n):
        ts = BASE + timedelta(milliseconds=rng.randrange(240_000))
        event = sim.make("cost.budget_alert", ts)
        lines.append(event.to_wire().encode() + b"\n")
        for point in points_from_event(event):
            if point.measurement != "cost_budget":
                continue
            minute = math.floor(point.timestamp / 60) * 60
            per_minute = latest.setdefault(point.tags, {})
            candidate = (point.timestamp, point.fields["current_spend_usd"])
            per_minute[minute] = max(per_minute.get(minute, candidate), candidate)
    return lines, latest


def test_gauge_is_the_latest_value_and_its_change_from_the_previous_window() -> None:
    lines, latest = _budget_truth(seed=8, n=200)
    report = replay(lines, parse_windows("1m"))
    checked = with_delta = 0
    for metric in report.metrics:
        if metric.name != "cost_budget.current_spend_usd":
            continue
        values = metric.values
        assert isinstance(values, GaugeValues)
        tags = tuple(sorted(metric.tags.items()))
        start = int(metric.window_start.timestamp())
        per_minute = latest[tags]
        assert values.value == per_minute[start][1]
        previous = per_minute.get(start - 60)
        if previous is None:
            assert values.delta is None
        else:
            assert values.delta == values.value - previous[1]
            with_delta += 1
        checked += 1
    assert checked == sum(len(m) for m in latest.values())
    assert with_delta > 0, "some series had data in consecutive minutes"


def test_gauge_delta_survives_a_restart_between_windows() -> None:
    """The previous window's value is durable state: a restarted engine still has it."""
    config = EngineConfig(allowed_lateness_s=0.0, gauge_fields=frozenset({("g", "level")}))
    tags = (("budget_id", "b1"),)
    t0 = 1_700_000_040  # a minute boundary
    store: dict[str, bytes] = {}

    def batch(offset: int, ts: float, level: float):  # one point per message
        (routed,) = group_points(
            "src", 0, [(offset, Point("g", ts, tags, {"level": level}))], 1
        ).values()
        return routed

    engine = PartitionEngine(store, config)
    for offset, (ts, level) in enumerate([(t0 + 5, 10.0), (t0 + 50, 12.5), (t0 + 61, 13.0)]):
        for key, value in engine.apply(offset, batch(offset, ts, level)).writes:
            if value is None:
                store.pop(key, None)
            else:
                store[key] = value
    restarted = PartitionEngine(store, config)
    restarted.apply(3, batch(3, t0 + 70, 20.0))
    (second,) = [r for r in restarted.close_all().results if r.size_s == 60]
    assert second.start == t0 + 60 and second.previous_last == 12.5
    assert second.sketch.last_value == 20.0


def test_gauge_window_without_a_latest_value_falls_back_to_statistics() -> None:
    """State written before gauges existed (sketch envelope v2) has no latest value."""
    from pipeline.windows.aggregates import result_values
    from pipeline.windows.engine import WindowResult
    from pipeline.windows.sketch import QuantileSketch

    old = QuantileSketch()
    old.add_many([10.0, 20.0])  # values added without their event times
    result = WindowResult(60, 1_700_000_040, "sid", "cost_budget", "current_spend_usd", (), old)
    values = result_values(result)
    assert isinstance(values, StatisticalMeasures) and values.count == 2
