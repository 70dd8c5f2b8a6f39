"""The past four hours with a prompt-injection incident in them, as events: the demo's story.

``make demo`` produces this before its worker starts, so the detectors have the
history they need to learn a baseline (150 windows of warm-up, then enough for each
statistic's tail) and the incident shows up as alerts and a correlation within a
minute of the demo starting: 226 minutes of
latency events of one model (20 a minute) and prompt-injection attempts (2-4 a
minute), then, 6 minutes before the end, two minutes in which the attempts jump
to 40 a minute and the model slows down four-fold. The same story is the real-
broker test of detection and correlation (tests/integration/test_anomaly_detection.py).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

from pipeline.models.events import (
    AnalyticsEvent,
    MitigationStatus,
    Severity,
    ThreatLevel,
    ThreatType,
)
from pipeline.sim.simulate import EventSimulator

MODEL = "gpt-4o"
ENVIRONMENT = "incident-replay"
"""Its own environment tag, so its series never mix with live traffic's."""
LATENCY_TAGS = {"region": "us-east-1", "service": "chat-api"}
"""Fixed tags: the model's latency is one series with a history (not a dozen sparse
ones, which only their family could judge)."""
MINUTES = 226
INCIDENT_MINUTE = 220


def fixed_threat(sim: EventSimulator, moment: datetime) -> AnalyticsEvent:
    """A prompt-injection threat with fixed attributes and tags: all of them one series."""
    event = sim.make("security.threat", moment)
    data = event.payload.data.model_copy(
        update={
            "threat_type": ThreatType.PROMPT_INJECTION,
            "threat_level": ThreatLevel.HIGH,
            "mitigation_status": MitigationStatus.DETECTED,
        }
    )
    payload = event.payload.model_copy(update={"data": data})
    fixed = {"payload": payload, "tags": {"region": "us-east-1"}, "severity": Severity.WARNING}
    return event.model_copy(update=fixed)


def incident_history(start: float, seed: int = 7) -> list[AnalyticsEvent]:
    """Events of ``MINUTES`` minutes from ``start`` (minute-aligned), incident included."""
    rng = np.random.default_rng(seed)
    sim = EventSimulator(seed=seed, environment=ENVIRONMENT)
    events = []
    for minute in range(MINUTES):
        incident = INCIDENT_MINUTE <= minute < INCIDENT_MINUTE + 2
        latencies = rng.lognormal(math.log(800), 0.25, 20) * (4 if incident else 1)
        for offset, value in zip(np.sort(rng.uniform(0, 60, 20)), latencies, strict=True):
            moment = datetime.fromtimestamp(start + 60 * minute + float(offset), UTC)
            event = sim.latency_event(moment, MODEL, float(np.round(value, 2)))
            events.append(event.model_copy(update={"tags": dict(LATENCY_TAGS)}))
        threats = 40 if incident else 2 + minute % 3
        for offset in np.sort(rng.uniform(0, 60, threats)):
            moment = datetime.fromtimestamp(start + 60 * minute + float(offset), UTC)
            events.append(fixed_threat(sim, moment))
    return events
