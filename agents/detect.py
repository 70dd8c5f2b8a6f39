"""Anomaly detection on the broker: closed-window metrics in, ``AnomalyEvent`` out.

A plain aiokafka consumer (group ``<app id>-detect``) reads the metric and histogram
topics of ``HUB_DETECT_WINDOWS``; every result is one point of its series
(:mod:`pipeline.metric_detection`), and an alert episode's start is published to
the anomalies topic, keyed by metric name; alerts that form one incident across
series (:mod:`pipeline.correlation`) go to the correlations topic with their root
cause and impact, keyed by correlation id. The detection state (detectors, rules,
correlators, composites) is checkpointed with the offsets it has applied every 30 s
and on a graceful stop (:mod:`agents.detect_checkpoint`); offsets are committed only
right after a checkpoint, so a restart resumes warm and applies each result once. A
crash re-publishes the alerts of at most the last 30 s (their ids are deterministic,
so a consumer can drop a repeat).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import orjson

from agents import detect_checkpoint
from agents.app import app, catalogue, settings
from agents.committed_consumer import commit_offsets, read_to_end, run_committed
from agents.counters import COUNTERS
from pipeline.aggregates import parse_windows
from pipeline.composite import CompositeBuilder, CompositeConfig, CompositeResult
from pipeline.correlation import AnomalyCorrelator, CorrelatorConfig
from pipeline.metric_detection import Alert, MetricDetectors, Phase
from pipeline.models.metrics import AggregatedMetric, HistogramMetric, TimeWindow
from pipeline.rules import DEFAULT_RULES_FILE, RuleEngine, load_rules, rule_name
from pipeline.topics import RAISED_HEADER, SOURCE_HEADER, TAGS_HEADER

log = logging.getLogger(__name__)

DETECT_GROUP = f"{settings.app_id}-detect"
METRIC_TOPICS = tuple(
    catalogue.metrics_topic(window.value).name for window in parse_windows(settings.detect_windows)
)
HISTOGRAM_TOPICS = {
    catalogue.histograms_topic(window.value).name: window
    for window in parse_windows(settings.detect_windows)
}
"""Histograms of the watched windows: the shape of each latency window (distribution shift)."""
anomalies_topic = app.topic(
    catalogue.one("anomalies").name, key_serializer="raw", value_serializer="raw"
)
correlations_topic = app.topic(
    catalogue.one("correlations").name, key_serializer="raw", value_serializer="raw"
)
COMPOSITES_TOPIC = catalogue.one("composites").name
DETECTORS = MetricDetectors(keep_points=True)
RULES_FILE = Path(settings.rules_file or DEFAULT_RULES_FILE)
RULES = RuleEngine(load_rules(RULES_FILE))
"""Threshold rules (rules.yaml); a broken file stops the worker at start with what to fix."""
COMPOSITE_SETTLE_S = 10.0
COMPOSITES = CompositeBuilder(
    CompositeConfig(settle_s=COMPOSITE_SETTLE_S, close_after_windows=None)
)
"""Cross-module metrics of each watched window (docs/COMPOSITES.md), published once the
window's results have stopped arriving for COMPOSITE_SETTLE_S: they come from several
partitions in any order, so a later window's result does not prove an earlier one done."""
_WATCHED = {w.label for w in parse_windows(settings.detect_windows)}
_unwatched = sorted({rule.window.label for rule in RULES.rules} - _WATCHED)
if _unwatched:
    log.warning("rules on windows %s are never judged: add them to HUB_DETECT_WINDOWS", _unwatched)
CORRELATORS = {
    window.seconds: AnomalyCorrelator(
        CorrelatorConfig(window_s=max(600.0, 3.0 * window.seconds), step_s=window.seconds)
    )
    for window in parse_windows(settings.detect_windows)
}
"""One per window size: a metric's 1m and 1h alerts are one series seen twice, not two."""

CHECKPOINT_PATH = Path(settings.data_dir) / "detect-checkpoint.pkl"
CHECKPOINT_EVERY_S = 30.0
"""How often detection state is saved with its offsets (and the offsets committed): a
crash re-reads at most this much of the metric topics, into the restored state."""
APPLIED: dict[str, int] = {}
"""``topic|partition`` -> next metric offset the state has applied."""
_restored = detect_checkpoint.load(CHECKPOINT_PATH)
if _restored is not None:
    APPLIED, _state = _restored
    DETECTORS = _state["detectors"]
    COMPOSITES = _state["composites"]
    saved = _state["correlators"]
    CORRELATORS = {size: saved.get(size, fresh) for size, fresh in CORRELATORS.items()}
    if _state["rules"].rules == RULES.rules:  # a changed rules.yaml starts its rules afresh
        RULES = _state["rules"]
    log.warning("detection state restored from %s: %d series, offsets %s",
                CHECKPOINT_PATH, DETECTORS.series, APPLIED)  # fmt: skip
_last_checkpoint = time.monotonic()


def _checkpoint() -> bool:
    """Save the state with its offsets; a failure is logged, detection carries on (its
    offsets are then not committed, so nothing is skipped on a restart)."""
    state = {"detectors": DETECTORS, "rules": RULES, "correlators": CORRELATORS,
             "composites": COMPOSITES}  # fmt: skip
    try:
        detect_checkpoint.save(CHECKPOINT_PATH, APPLIED, state)
    except Exception:
        log.exception("detection checkpoint to %s failed; detection carries on", CHECKPOINT_PATH)
        return False
    return True


SILENCE_CHECK_S = 5.0
"""How often silent series are looked for (only when the metric topics are read to
their end: while catching up, a series in a partition not read yet is not silent)."""


@app.task
async def run_detection() -> None:
    try:
        await run_committed(
            "detect",
            (*METRIC_TOPICS, *HISTOGRAM_TOPICS),
            DETECT_GROUP,
            _detect,
            max_records=1000,
            poll_ms=500,
            tick=(SILENCE_CHECK_S, _periodic),
            commit_each_batch=False,  # committed with each checkpoint instead
        )
    finally:
        _checkpoint()  # a graceful stop resumes exactly where it stopped


async def _periodic(consumer: Any) -> None:
    """A checkpoint when due; composites of quiet windows; then silent series, once
    every metric partition is read."""
    global _last_checkpoint
    if time.monotonic() - _last_checkpoint >= CHECKPOINT_EVERY_S:
        _last_checkpoint = time.monotonic()
        if _checkpoint():  # first the state, then the offsets it covers
            await commit_offsets("detect", consumer, APPLIED)
    pending = []
    for result in COMPOSITES.flush(time.time()):
        pending += await _publish_composite(result)
    for future in pending:
        await future
    caught, assigned = await read_to_end(consumer)
    if not assigned or len(caught) < assigned:
        return
    pending = []
    for alert in DETECTORS.silences():
        pending += await _publish(alert)
    for future in pending:
        await future


async def _detect(records: list[Any]) -> None:
    """Score each window result; publish the alerts and wait until they are on the broker."""
    pending = []
    for record in records:
        source = f"{record.topic}|{record.partition}"
        if record.offset < APPLIED.get(source, 0):
            continue  # already in the restored state
        APPLIED[source] = record.offset + 1
        window = HISTOGRAM_TOPICS.get(record.topic)
        if window is not None:
            alerts = _histogram_alerts(record, window)
            _feed_correlators()
            for alert in alerts:
                pending += await _publish(alert)
            continue
        try:
            metric = AggregatedMetric.from_wire(record.value)
        except ValueError as exc:  # not ours to fix: say so, keep going
            log.warning("detect: unreadable metric at offset %s: %s", record.offset, exc)
            continue
        alerts = DETECTORS.observe(metric, _source(record))
        _feed_correlators()
        for alert in alerts:
            pending += await _publish(alert)
        for alert in RULES.observe(metric):
            pending += await _publish(alert)
        for result in COMPOSITES.observe(metric, time.time()):
            pending += await _publish_composite(result)
    for future in pending:
        await future


def _source(record: Any) -> str | None:
    """The aggregation partition that published a window result (its header)."""
    for name, value in record.headers or ():
        if name == SOURCE_HEADER:
            return bytes(value).decode()
    return None


def _feed_correlators() -> None:
    """Every value the detectors just scored, to its window's correlator, before their
    alerts are placed: an alert's series needs its history to be grouped."""
    for point in DETECTORS.take_points():
        correlator = CORRELATORS.get(point.window_s)
        if correlator is not None:
            correlator.observe(point.key, point.start, point.value)


def _histogram_alerts(record: Any, window: TimeWindow) -> list[Alert]:
    """Distribution shift of one window's histogram (durations only, as their spread was)."""
    try:
        histogram = HistogramMetric.from_wire(record.value)
    except ValueError as exc:
        log.warning("detect: unreadable histogram at offset %s: %s", record.offset, exc)
        return []
    if not histogram.name.endswith("_ms"):
        return []
    return DETECTORS.observe_histogram(histogram, window)


async def _publish_composite(result: CompositeResult) -> list[Any]:
    """A composite as a ``hub_composite.*`` gauge on its window's metrics topic (the
    detectors and the sink read it there) and in the spec's shape on hub.composites."""
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


def _label(alert: Alert) -> bytes:
    """The alerted series' window (``1m``, ``5m``, ...): the AnomalyEvent shape has no field."""
    window = next((w for w in TimeWindow if w.seconds == alert.window_s), None)
    return (window.label if window is not None else f"{alert.window_s}s").encode()


async def _publish(alert: Alert) -> list[Any]:
    """The alert (phase in the ``hub.episode`` header), and its incident if it completes one."""
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
    futures = [
        await anomalies_topic.send(
            key=event.metric.encode(), value=event.to_wire_bytes(), headers=headers
        )
    ]
    correlator = CORRELATORS.get(alert.window_s)
    if correlator is None or alert.phase is not Phase.STARTED or rule is not None:
        return futures
    correlation = correlator.add_anomaly(alert.key, event)
    if correlation is not None:
        COUNTERS.correlations += 1
        futures.append(
            await correlations_topic.send(
                key=str(correlation.correlation_id).encode(), value=correlation.to_wire_bytes()
            )
        )
    return futures
