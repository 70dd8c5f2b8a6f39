"""Detection stage on the broker: ``hub.detect`` in; alerts and ``hub.correlate`` out.

The aggregation agent sends every watched window result (and histogram) to the
detection topic keyed by family (:func:`pipeline.detection.stage.family_key`) and marks
each of its partitions when it has closed its windows through a moment. One
:class:`~pipeline.detection.stage.DetectStage` per partition scores them in event time;
its alerts go to the anomalies topic (keyed by metric name, ids derived from the
series and the episode start), and what the correlation stage needs to group them
goes to ``hub.correlate``. The state of each partition is snapshotted with the offset
it has applied to ``<app id>-detect-state`` (:mod:`agents.runtime.stateful`): a worker that
takes a partition over, on any machine and with an empty disk, resumes it warm.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import orjson

from agents.runtime.app import app, catalogue, settings
from agents.runtime.stateful import StatefulStage
from agents.streams.alert_output import send_alert
from pipeline.correlation.rules import DEFAULT_RULES_FILE, RuleEngine, load_rules
from pipeline.detection.stage import DetectStage
from pipeline.models.metrics import AggregatedMetric, HistogramMetric, TimeWindow
from pipeline.stages.in_process import forward_names
from pipeline.windows.aggregates import parse_windows
from pipeline.wire.topics import KIND_HEADER, SOURCE_HEADER, WINDOW_HEADER

log = logging.getLogger(__name__)

DETECT_SPEC = catalogue.one("detect")
CORRELATE_SPEC = catalogue.one("correlate")
POINTS_PARTITIONS = catalogue.one("internal").partitions
"""The aggregation partitions that mark the detection partitions."""
DETECT_SIZES = frozenset(w.seconds for w in parse_windows(settings.detect_windows))
RULES_FILE = Path(settings.rules_file or DEFAULT_RULES_FILE)
RULES = RuleEngine(load_rules(RULES_FILE))
"""Threshold rules (rules.yaml); a broken file stops the worker at start with what to fix.
Judged by the correlation stage; detection forwards their inputs."""
FORWARD = forward_names(RULES)
CORRELATE_KEY = b"incidents"
"""The correlation topic's one key: incidents cross every module, tenant and model."""
WINDOWS = {w.seconds: w for w in TimeWindow}


def _new_stage(partition: int) -> DetectStage:
    return DetectStage(POINTS_PARTITIONS, DETECT_SIZES, FORWARD)


async def _handle(partition: int, stage: DetectStage, records: list[Any]) -> None:
    """Hold results; at each mark, score what every aggregation partition has closed and
    publish it; return once the broker has it all."""
    futures = []
    source = [(SOURCE_HEADER, str(partition).encode())]
    for record in records:
        headers = dict(record.headers or ())
        kind = headers.get(KIND_HEADER, b"metric")
        try:
            if kind == b"mark":
                out = stage.mark(int(headers[SOURCE_HEADER]), float(orjson.loads(record.value)))
                for alert in out.alerts:
                    futures.append(await send_alert(alert))
                for forward in out.forwards:
                    futures.append(
                        await app.producer.send(
                            CORRELATE_SPEC.name, CORRELATE_KEY, forward, None, None, source
                        )
                    )
            elif kind == b"histogram":
                window = WINDOWS[int(headers[WINDOW_HEADER])]
                stage.offer_histogram(HistogramMetric.from_wire(record.value), window)
            else:
                stage.offer_metric(AggregatedMetric.from_wire(record.value), record.value)
        except (ValueError, KeyError) as exc:  # not ours to fix: say so, keep going
            log.warning("detect: unreadable record at %s[%d]@%d: %s",
                        record.topic, record.partition, record.offset, exc)  # fmt: skip
    if futures:
        await asyncio.gather(*futures)


STAGE = StatefulStage(
    "detect",
    DETECT_SPEC.name,
    catalogue.one("detect-state").name,
    f"{settings.app_id}-detect",
    _new_stage,
    _handle,
    settings=settings,
    on_failure=app.crash,
)


@app.task
async def run_detection() -> None:
    await STAGE.run()
