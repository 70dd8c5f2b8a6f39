"""Rule alerts and composite metrics from the worker's detection task, on the real broker.

Twelve past minutes of token-cost events (and latency events, one per request) plus a
budget at 120 % of its limit: the worker must publish a critical ``rule:budget_spend``
alert with the ``hub.rule`` header, and per 1-minute window a
``hub_composite.cost_per_request`` gauge (and its ``CompositeMetric``) equal to the
window's spend ÷ billed requests computed here from the produced events.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from datetime import UTC, datetime

import numpy as np
import redis

from pipeline.models.correlation import AnomalyEvent
from pipeline.models.metrics import AggregatedMetric, CompositeMetric
from pipeline.sim.simulate import EventSimulator
from pipeline.store.layout import StoreLayout
from tests.integration.harness import Worker, collect, hub, produce_raw, run

ENV = "it-composite"
MINUTES = 12


def _events(start: float) -> tuple[list, dict[float, float]]:
    """The events, and the expected cost per request of each minute (window start)."""
    sim = EventSimulator(seed=21, environment=ENV)
    rng = np.random.default_rng(21)
    events, expected = [], {}
    for minute in range(MINUTES):
        costs = []
        for offset in np.sort(rng.uniform(0, 59, 15)):
            moment = datetime.fromtimestamp(start + 60 * minute + float(offset), UTC)
            cost = sim.make("cost.token_cost", moment)
            costs.append(cost.payload.data.total_cost_usd)
            events += [cost, sim.latency_event(moment, "gpt-4o", float(rng.uniform(300, 900)))]
        expected[start + 60 * minute] = float(np.sum(costs)) / len(costs)
        if 5 <= minute < 10:
            budget = sim.make("cost.budget_alert", datetime.fromtimestamp(
                start + 60 * minute + 30, UTC))  # fmt: skip
            data = budget.payload.data.model_copy(update={
                "budget_id": "budget-it", "budget_limit_usd": 1000.0,
                "current_spend_usd": 1200.0,
            })  # fmt: skip
            payload = budget.payload.model_copy(update={"data": data})
            events.append(budget.model_copy(update={"payload": payload}))
    return events, expected


def _worker_report(env: dict[str, str], consumed: int) -> dict:
    """The worker's latest report in Redis once it has counted ``consumed`` events."""
    client = redis.Redis.from_url(env.get("HUB_REDIS_URL", "redis://127.0.0.1:6379/0"))
    pattern = StoreLayout(env["HUB_TOPIC_PREFIX"]).worker("*")
    deadline = time.monotonic() + 30
    report: dict = {}
    while time.monotonic() < deadline:
        keys = list(client.scan_iter(match=pattern))
        report = json.loads(client.get(keys[0])) if keys else {}
        if report.get("counters", {}).get("consumed") == consumed and report["close_delay_s"]:
            break
        time.sleep(1)
    return report


def test_rule_alert_and_composite_metrics(kafka_bootstrap: str, hub_env: dict[str, str]) -> None:
    env = hub_env
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    start = math.floor((time.time() - 20 * 60) / 300) * 300
    events, expected = _events(start)
    run(produce_raw(kafka_bootstrap, [
        (f"{prefix}{e.source_module.value}.events", e.to_wire_bytes()) for e in events
    ]))  # fmt: skip

    def budget_alert(records: list) -> bool:
        return any(dict(r.headers).get("hub.rule") == b"budget_spend" for r in records)

    def composites(records: list) -> list[AggregatedMetric]:
        metrics = [AggregatedMetric.from_wire(r.value) for r in records
                   if r.key == b"hub_composite.cost_per_request"]  # fmt: skip
        return [
            m for m in metrics
            if m.tags.get("environment") == ENV and m.window_start.timestamp() in expected
        ]  # fmt: skip

    worker = Worker(env, "rules-composites")
    try:
        alerts = run(collect(kafka_bootstrap, prefix + "hub.anomalies", budget_alert, 120))
        metrics = run(collect(kafka_bootstrap, prefix + "hub.metrics.1m",
                              lambda r: len(composites(r)) >= MINUTES - 1, 90))  # fmt: skip
        shaped = run(collect(kafka_bootstrap, prefix + "hub.composites",
                             lambda r: len(r) >= MINUTES - 1, 30))  # fmt: skip
        assert worker.alive(), worker.log_tail()
        report = _worker_report(env, len(events))
    finally:
        worker.stop()

    # The worker's health report (what hub api's /metrics shows): counts reconcile and
    # every produced event is counted once; window-close delays were measured.
    counters = report["counters"]
    assert counters["consumed"] == len(events)
    assert counters["consumed"] == counters["processed"] + counters["dead_lettered"]
    assert counters["dead_lettered"] == 0 and counters["windows_published"] > 0
    assert report["close_delay_s"]["windows"] > 0

    rule_alerts = [r for r in alerts if dict(r.headers).get("hub.rule") == b"budget_spend"]
    assert rule_alerts, f"no budget rule alert; worker log:\n{worker.log_tail()}"
    first = AnomalyEvent.from_wire(rule_alerts[0].value)
    assert first.metric == "rule:budget_spend"
    assert first.observed == 120.0 and first.baseline == 100.0
    assert first.anomaly_score >= 0.8  # past the critical level
    assert dict(rule_alerts[0].headers)["hub.episode"] == b"started"

    got = composites(metrics)
    assert len(got) >= MINUTES - 1, f"composites: {len(got)}; log:\n{worker.log_tail()}"
    by_start: dict[float, list[float]] = defaultdict(list)
    for metric in got:
        by_start[metric.window_start.timestamp()].append(metric.values.value)
    for window_start, values in by_start.items():
        assert values == [values[0]] * len(values)  # a repeat carries the same value
        assert math.isclose(values[0], expected[window_start], rel_tol=1e-9)
    shaped_docs = [json.loads(r.value) for r in shaped]
    cost_docs = [d for d in shaped_docs if d["name"] == "cost_per_request"]
    assert cost_docs
    for doc in cost_docs:
        composite = CompositeMetric.from_wire(json.dumps(doc))
        window_start = composite.timestamp.timestamp() - 60
        if window_start in expected and ENV in composite.metric_id + json.dumps(doc):
            assert math.isclose(composite.value, expected[window_start], rel_tol=1e-9)
