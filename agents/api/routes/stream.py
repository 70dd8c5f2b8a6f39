"""Server-sent-event streams of closed-window metrics and anomalies, read live from Kafka.

Each frame is a spec StreamEvent (§9.6): ``data`` (the item), ``heartbeat`` (data
``null``, every ``HUB_API_HEARTBEAT_S``), ``error`` (an ApiError, then the stream ends)
and ``complete`` (after ``max_events`` data events). ``sequence`` counts every event
of the stream. The SSE ``id`` is a cursor, ``<sequence>:<partition>=<next offset>,...``:
a client that reconnects with ``Last-Event-ID`` resumes exactly after the last event it
saw (filtered-out messages included), with the sequence continuing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import NAMESPACE_URL, uuid4, uuid5

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import ValidationError, WithJsonSchema
from starlette.responses import StreamingResponse

from agents.api import schemas
from agents.api.auth import ApiKey, Role
from agents.api.deps import hub_state, require
from agents.api.errors import ApiProblem
from agents.api.params import TagFilters, enum_list
from agents.api.state import topic_partitions
from agents.runtime import kafka_clients
from pipeline.models.api import ApiError, StreamEvent, StreamEventType, sse_frame
from pipeline.models.correlation import AnomalyEvent, AnomalyType
from pipeline.models.events import SourceModule
from pipeline.models.metrics import AggregatedMetric
from pipeline.store.layout import matches
from pipeline.store.query import (
    RESOLUTIONS,
    QueryError,
    parse_csv,
    parse_resolution,
    parse_tag_filters,
)

log = logging.getLogger("hub.api")
router = APIRouter(prefix="/api/v1/stream", tags=["streams"])

RETRY_MS = 3000
_ERRORS = {
    400: {"model": schemas.ErrorResponse},
    401: {"model": schemas.ErrorResponse},
    403: {"model": schemas.ErrorResponse},
    429: {"model": schemas.ErrorResponse},
    503: {"model": schemas.ErrorResponse},
}
_SSE_EVENT = {
    "type": "object",
    "description": "One server-sent event (HTML living standard): `data` is a JSON "
    "StreamEvent, `id` the cursor to resume from with Last-Event-ID.",
    "required": ["data"],
    "properties": {
        "event": {"type": "string", "enum": [kind.value for kind in StreamEventType]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}
"""Per-event schema (OpenAPI 3.2 ``itemSchema``; 3.0/3.1 readers such as schemathesis
take ``schema`` of an event stream as the schema of each event)."""
_SSE = {"content": {"text/event-stream": {"schema": _SSE_EVENT}}}


CURSOR_PATTERN = r"^([0-9]{1,18}:([0-9]{1,9}=[0-9]{1,18}(,[0-9]{1,9}=[0-9]{1,18})*)?)?$"
"""A cursor (``<sequence>:<partition>=<next offset>,...``), or empty: no cursor (HTML)."""


@dataclass(slots=True)
class Cursor:
    sequence: int
    offsets: dict[int, int]

    def encode(self) -> str:
        parts = ",".join(f"{p}={o}" for p, o in sorted(self.offsets.items()))
        return f"{self.sequence}:{parts}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor of ``CURSOR_PATTERN`` (the form /openapi.json declares): digits
        only, so it parses and nothing in it is negative."""
        raw = text.strip()
        if not re.fullmatch(CURSOR_PATTERN, raw) or not raw:
            raise QueryError(
                "Last-Event-ID",
                f"Last-Event-ID {text!r} is not a cursor of this stream "
                "(<sequence>:<partition>=<offset>,...); reconnect without it to start live",
            )
        seq_text, _, rest = raw.partition(":")
        pairs = (item.partition("=") for item in filter(None, rest.split(",")))
        return cls(int(seq_text), {int(p): int(o) for p, _, o in pairs})


Filter = Callable[[Any], Any | None]


async def _open(
    request: Request, topic: str, cursor: Cursor | None, from_beginning: bool
) -> tuple[AIOKafkaConsumer, dict[int, int]]:
    settings = hub_state(request).settings
    consumer = kafka_clients.consumer(
        settings, group_id=None, enable_auto_commit=False, auto_offset_reset="latest"
    )
    admin = kafka_clients.admin(settings)
    try:
        try:
            await asyncio.wait_for(admin.start(), 10)
            partitions = (await topic_partitions(admin, [topic])).get(topic)
        finally:
            await admin.close()
        if not partitions:
            raise ApiProblem(
                503,
                f"topic {topic} does not exist yet; run 'hub topics apply'",
                headers={"Retry-After": "5"},
            )
        await asyncio.wait_for(consumer.start(), 10)
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        if cursor is not None:
            for tp in tps:
                if tp.partition in cursor.offsets:
                    consumer.seek(tp, cursor.offsets[tp.partition])
        positions = {tp.partition: await consumer.position(tp) for tp in tps}
    except ApiProblem:
        await consumer.stop()
        raise
    except Exception as exc:
        await consumer.stop()
        raise ApiProblem(
            503,
            f"Kafka at {settings.kafka_bootstrap} is unreachable ({type(exc).__name__}); "
            "check 'hub infra status' and reconnect",
            headers={"Retry-After": "5"},
        ) from exc
    return consumer, positions


def _frame(kind: StreamEventType, data: Any, sequence: int, cursor: str, event_id: Any) -> str:
    event = StreamEvent(
        event_id=event_id,
        event_type=kind,
        data=data,
        sequence=sequence,
        timestamp=datetime.now(UTC),
    )
    return sse_frame(event.to_wire(), event=kind.value, id=cursor)


async def _events(
    request: Request,
    consumer: AIOKafkaConsumer,
    topic: str,
    positions: dict[int, int],
    sequence: int,
    keep: Filter,
    max_events: int | None,
) -> AsyncIterator[str]:
    heartbeat_s = hub_state(request).limits.heartbeat_s
    sent = 0
    state = Cursor(sequence, positions)
    last_frame = time.monotonic()
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=500, max_records=500)
            except Exception as exc:
                state.sequence += 1
                error = ApiError(
                    code="service_unavailable",
                    message=f"reading {topic} failed ({type(exc).__name__}: {exc}); "
                    "reconnect with Last-Event-ID to resume",
                    status_code=503,
                    timestamp=datetime.now(UTC),
                )
                yield _frame(StreamEventType.ERROR, error, state.sequence, state.encode(), uuid4())
                return
            for tp in sorted(batch, key=lambda t: t.partition):
                for record in batch[tp]:
                    state.offsets[tp.partition] = record.offset + 1
                    item = keep(record)
                    if item is None:
                        continue
                    state.sequence += 1
                    event_id = uuid5(NAMESPACE_URL, f"kafka:{topic}/{tp.partition}/{record.offset}")
                    yield _frame(
                        StreamEventType.DATA, item, state.sequence, state.encode(), event_id
                    )
                    last_frame = time.monotonic()
                    sent += 1
                    if max_events is not None and sent >= max_events:
                        state.sequence += 1
                        yield _frame(
                            StreamEventType.COMPLETE,
                            {"events": sent},
                            state.sequence,
                            state.encode(),
                            uuid4(),
                        )
                        return
            if time.monotonic() - last_frame >= heartbeat_s:
                state.sequence += 1
                yield _frame(
                    StreamEventType.HEARTBEAT, None, state.sequence, state.encode(), uuid4()
                )
                last_frame = time.monotonic()
            if await request.is_disconnected():
                return
    finally:
        await consumer.stop()


def _response(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _header(record: Any, name: str) -> str:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return ""


MaxEvents = Annotated[
    int | None, Query(ge=1, description="send `complete` and end after this many data events")
]
From = Annotated[str, Query(alias="from", pattern="^(now|beginning)$", description="now|beginning")]
LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", description="the `id` of the last event seen, to resume"),
    WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN}),
]
StreamResolution = Annotated[
    str,
    Query(description="1m, 5m, 15m, 1h, 6h, 1d, 1w or 30d"),
    WithJsonSchema({"type": "string", "enum": list(RESOLUTIONS)}),
]


@router.get(
    "/metrics",
    summary="Live closed-window metrics (SSE): StreamEvent frames with AggregatedMetric data",
    responses={200: _SSE, **_ERRORS},
)
async def stream_metrics(
    request: Request,
    _key: Annotated[ApiKey, Depends(require(Role.READ))],
    metric: Annotated[
        list[str], Query(description="metric name prefix(es), comma-separated or repeated")
    ] = [],  # noqa: B006
    tag: TagFilters = [],  # noqa: B006
    resolution: StreamResolution = "1m",
    max_events: MaxEvents = None,
    from_: From = "now",
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    window = parse_resolution(resolution, 0, 1)
    filters = parse_tag_filters(tag)
    prefixes = tuple(parse_csv(metric))
    cursor = Cursor.decode(last_event_id) if last_event_id else None  # "": none (HTML)
    topic = hub_state(request).catalogue.metrics_topic(window.value).name

    def keep(record: Any) -> AggregatedMetric | None:
        try:
            doc = orjson.loads(record.value)
            if prefixes and not str(doc.get("name", "")).startswith(prefixes):
                return None
            if filters and not matches(doc.get("tags") or {}, filters):
                return None
            return AggregatedMetric.from_wire(record.value)
        except (ValueError, ValidationError, AttributeError) as exc:
            log.warning(
                "stream: skipping unreadable metric at %s@%s: %s", topic, record.offset, exc
            )
            return None

    consumer, positions = await _open(request, topic, cursor, from_ == "beginning")
    sequence = 0 if cursor is None else cursor.sequence
    return _response(_events(request, consumer, topic, positions, sequence, keep, max_events))


@router.get(
    "/anomalies",
    summary="Live anomaly alerts (SSE): StreamEvent frames with {anomaly, episode, window}",
    responses={200: _SSE, **_ERRORS},
)
async def stream_anomalies(
    request: Request,
    _key: Annotated[ApiKey, Depends(require(Role.READ))],
    module: enum_list(SourceModule, "source module(s)") = [],  # type: ignore[valid-type]  # noqa: B006
    anomaly_type: enum_list(AnomalyType, "anomaly type(s)") = [],  # type: ignore[valid-type]  # noqa: B006
    min_score: Annotated[float | None, Query(ge=0)] = None,
    max_events: MaxEvents = None,
    from_: From = "now",
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    modules = set(parse_csv(module))
    types = set(parse_csv(anomaly_type))
    for param, values, enum in (
        ("module", modules, SourceModule),
        ("anomaly_type", types, AnomalyType),
    ):
        unknown = sorted(values - {m.value for m in enum})
        if unknown:
            raise QueryError(param, f"{param}={unknown[0]!r} is not known")
    cursor = Cursor.decode(last_event_id) if last_event_id else None  # "": none (HTML)
    topic = hub_state(request).catalogue.one("anomalies").name

    def keep(record: Any) -> dict[str, Any] | None:
        try:
            event = AnomalyEvent.from_wire(record.value)
        except (ValueError, ValidationError) as exc:
            log.warning(
                "stream: skipping unreadable anomaly at %s@%s: %s", topic, record.offset, exc
            )
            return None
        if modules and event.source_module.value not in modules:
            return None
        if types and event.anomaly_type.value not in types:
            return None
        if min_score is not None and event.anomaly_score < min_score:
            return None
        return {
            "anomaly": event,
            "episode": _header(record, "hub.episode") or "started",
            "window": _header(record, "hub.window"),
        }

    consumer, positions = await _open(request, topic, cursor, from_ == "beginning")
    sequence = 0 if cursor is None else cursor.sequence
    return _response(_events(request, consumer, topic, positions, sequence, keep, max_events))
