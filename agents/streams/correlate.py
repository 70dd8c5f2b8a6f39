"""Correlation stage on the broker: ``hub.correlate`` in; incidents, rule and composite
alerts, and composites out.

One partition (:mod:`pipeline.correlation.stage` says why), read by one process of the
group at a time; its state is snapshotted with its offset to
``<app id>-correlate-state`` (:mod:`agents.runtime.stateful`), so whichever process takes it
over continues the same incidents. Correlation ids are derived from the incident's
first alert: a repeat after a restart carries the same id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agents.runtime.app import app, catalogue, settings
from agents.runtime.stateful import StatefulStage
from agents.streams.alert_output import send_alert, send_composite, send_correlation
from agents.streams.detect import DETECT_SIZES, DETECT_SPEC, RULES
from pipeline.correlation.stage import CorrelateStage
from pipeline.stages.records import decode
from pipeline.wire.topics import SOURCE_HEADER

log = logging.getLogger(__name__)


def _new_stage(partition: int) -> CorrelateStage:
    return CorrelateStage(DETECT_SPEC.partitions, DETECT_SIZES, RULES)


async def _handle(partition: int, stage: CorrelateStage, records: list[Any]) -> None:
    if stage.rules.rules != RULES.rules:  # rules.yaml changed since the snapshot: afresh
        stage.rules = RULES
    futures = []
    for record in records:
        headers = dict(record.headers or ())
        try:
            source = int(headers[SOURCE_HEADER])
            decoded = decode(record.value)
        except (ValueError, KeyError) as exc:
            log.warning("correlate: unreadable record at offset %d: %s", record.offset, exc)
            continue
        out = stage.offer(source, decoded)
        for alert in out.alerts:
            futures.append(await send_alert(alert))
        for result in out.composites:
            futures += await send_composite(result)
        for correlation in out.correlations:
            futures.append(await send_correlation(correlation))
    if futures:
        await asyncio.gather(*futures)


STAGE = StatefulStage(
    "correlate",
    catalogue.one("correlate").name,
    catalogue.one("correlate-state").name,
    f"{settings.app_id}-correlate",
    _new_stage,
    _handle,
    settings=settings,
    on_failure=app.crash,
)


@app.task
async def run_correlation() -> None:
    await STAGE.run()
