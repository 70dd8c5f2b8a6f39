"""Anomaly detection on the broker: closed-window metrics in, ``AnomalyEvent`` out.

A plain aiokafka consumer (group ``<app id>-detect``) reads the metric topics of
``HUB_DETECT_WINDOWS``; every result is one point of its series
(:mod:`pipeline.metric_detection`), and an alert episode's start is published to
the anomalies topic, keyed by metric name. Offsets are committed after the alerts
are on the broker; a restart re-reads at most the last poll (the alerts' ids are
deterministic, so a consumer can drop a repeat) and warms the detectors up again.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.errors import CommitFailedError, IllegalStateError

from agents import kafka_clients
from agents.app import app, catalogue, settings
from agents.counters import COUNTERS
from pipeline.aggregates import parse_windows
from pipeline.metric_detection import MetricDetectors
from pipeline.models.metrics import AggregatedMetric

log = logging.getLogger(__name__)

DETECT_GROUP = f"{settings.app_id}-detect"
METRIC_TOPICS = tuple(
    catalogue.metrics_topic(window.value).name for window in parse_windows(settings.detect_windows)
)
anomalies_topic = app.topic(
    catalogue.one("anomalies").name, key_serializer="raw", value_serializer="raw"
)
DETECTORS = MetricDetectors()


@app.task
async def run_detection() -> None:
    consumer = kafka_clients.consumer(
        settings,
        *METRIC_TOPICS,
        group_id=DETECT_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            pending = []
            for part in batches.values():
                for record in part:
                    try:
                        metric = AggregatedMetric.from_wire(record.value)
                    except ValueError as exc:  # not ours to fix: say so, keep going
                        log.warning("detect: unreadable metric at %s: %s", record.offset, exc)
                        continue
                    event = DETECTORS.observe(metric)
                    if event is not None:
                        COUNTERS.anomalies += 1
                        pending.append(
                            await anomalies_topic.send(
                                key=event.metric.encode(), value=event.to_wire_bytes()
                            )
                        )
            for future in pending:
                await future
            if batches:
                offsets = {tp: part[-1].offset + 1 for tp, part in batches.items()}
                try:
                    await consumer.commit(offsets)
                except (CommitFailedError, IllegalStateError) as exc:
                    log.warning("detect commit skipped after a rebalance (%s)", exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("anomaly detection failed; stopping the worker so it can be restarted")
        await app.crash(exc)
    finally:
        await consumer.stop()
