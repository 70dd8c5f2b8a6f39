"""How alerts, incidents and composites are written to their topics (shared by the
detection and correlation stages): the record, its key and its headers."""

from __future__ import annotations

from typing import Any

import orjson

from agents.runtime.app import app, catalogue
from agents.runtime.counters import COUNTERS
from pipeline.correlation.composites import CompositeResult
from pipeline.correlation.rules import rule_name
from pipeline.detection.metric_detection import Alert, Phase
from pipeline.models.correlation import AnomalyCorrelation
from pipeline.models.metrics import TimeWindow
from pipeline.wire.topics import RAISED_HEADER, TAGS_HEADER

ANOMALIES_TOPIC = catalogue.one("anomalies").name
CORRELATIONS_TOPIC = catalogue.one("correlations").name
COMPOSITES_TOPIC = catalogue.one("composites").name


def _label(alert: Alert) -> bytes:
    """The alerted series' window (``1m``, ``5m``, ...): the AnomalyEvent shape has no field."""
    window = next((w for w in TimeWindow if w.seconds == alert.window_s), None)
    return (window.label if window is not None else f"{alert.window_s}s").encode()


async def send_alert(alert: Alert) -> Any:
    """The alert keyed by metric name (phase in ``hub.episode``); returns its future."""
    headers = [
        ("hub.episode", alert.phase.value.encode()),
        ("hub.window", _label(alert)),
        (TAGS_HEADER, orjson.dumps(dict(alert.key[1]))),
    ]
    if alert.raised_at is not None:
        headers.append((RAISED_HEADER, alert.raised_at.isoformat().encode()))
    rule = rule_name(alert)
    if rule is not None:
        headers.append(("hub.rule", rule.encode()))
    if alert.ended_at is not None:
        headers.append(("hub.episode.ended_at", alert.ended_at.isoformat().encode()))
    event = alert.event
    COUNTERS.anomalies += alert.phase is Phase.STARTED
    return await app.producer.send(
        ANOMALIES_TOPIC, event.metric.encode(), event.to_wire_bytes(), None, None, headers
    )


async def send_correlation(correlation: AnomalyCorrelation) -> Any:
    COUNTERS.correlations += 1
    key = str(correlation.correlation_id).encode()
    return await app.producer.send(
        CORRELATIONS_TOPIC, key, correlation.to_wire_bytes(), None, None, None
    )


async def send_composite(result: CompositeResult) -> list[Any]:
    """A composite as a ``hub_composite.*`` gauge on its window's metrics topic (the sink
    and the API read it there) and in the spec's shape on hub.composites."""
    metric = result.metric
    key = metric.name.encode()
    return [
        await app.producer.send(
            catalogue.metrics_topic(metric.window.value).name,
            key,
            metric.to_wire_bytes(),
            None,
            None,
            None,
        ),
        await app.producer.send(
            COMPOSITES_TOPIC, key, result.composite.to_wire_bytes(), None, None, None
        ),
    ]
