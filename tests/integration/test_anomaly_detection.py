"""Anomaly detection on the real broker: a latency incident in the events becomes an
``AnomalyEvent`` on the anomalies topic, at the window where it starts."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from pipeline.models.correlation import AnomalyEvent, AnomalyType
from pipeline.simulate import EventSimulator
from tests.integration.harness import Worker, collect, hub, produce_raw, run

MODEL = "gpt-4o"
METRIC = "llm_latency.total_latency_ms.p95"


@pytest.mark.integration
def test_latency_incident_is_published_as_an_anomaly(
    kafka_bootstrap: str, hub_env: dict[str, str]
) -> None:
    env = hub_env
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    start = math.floor((time.time() - 3600) / 60) * 60
    rng = np.random.default_rng(7)
    sim = EventSimulator(seed=7)
    messages = []
    incident_minute = 40
    for minute in range(46):
        latencies = rng.lognormal(math.log(800), 0.25, 20)
        if incident_minute <= minute < incident_minute + 2:
            latencies *= 4  # the provider slowed down four-fold for two minutes
        for offset, value in zip(np.sort(rng.uniform(0, 60, 20)), latencies, strict=True):
            moment = datetime.fromtimestamp(start + 60 * minute + float(offset), UTC)
            event = sim.latency_event(moment, MODEL, float(np.round(value, 2)))
            messages.append((prefix + "llm-observatory.events", event.to_wire_bytes()))
    run(produce_raw(kafka_bootstrap, messages))

    def ours(records: list) -> list[dict]:
        docs = [json.loads(r.value) for r in records]
        return [d for d in docs if d["metric"] == METRIC]

    worker = Worker(env, "anomaly")
    try:
        incident_ts = start + 60 * incident_minute

        def incident_seen(records: list) -> bool:
            return any(
                datetime.fromisoformat(d["timestamp"].replace("Z", "+00:00")).timestamp()
                == incident_ts
                for d in ours(records)
            )

        records = run(collect(kafka_bootstrap, prefix + "hub.anomalies", incident_seen, 120))
        assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()
    found = [AnomalyEvent.from_wire(json.dumps(d)) for d in ours(records)]
    assert found, f"no {METRIC} anomaly; worker log:\n{worker.log_tail()}"
    incident = datetime.fromtimestamp(start + 60 * incident_minute, UTC)
    at_incident = [a for a in found if a.timestamp == incident]
    assert at_incident, [(a.timestamp, a.anomaly_score) for a in found]
    alert = at_incident[0]
    assert alert.anomaly_type is AnomalyType.SPIKE and alert.anomaly_score >= 0.8
    assert alert.observed > 2 * alert.baseline
    assert alert.source_module.value == "llm-observatory"
    false_critical = [a for a in found if a.timestamp < incident and a.anomaly_score >= 0.8]
    assert not false_critical, false_critical
