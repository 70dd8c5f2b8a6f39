"""POST /api/v1/events and /api/v1/events/batch: validated like ingest, produced to module topics.

Each accepted event is its own Kafka message on its module's input topic, acknowledged
by the broker (acks=all) before the API answers, so a 202 means the hub has it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import uuid4

from aiokafka.structs import RecordMetadata
from fastapi import APIRouter, Depends, Request

from agents.api import schemas
from agents.api.auth import ApiKey, Role
from agents.api.deps import hub_state, require
from agents.api.errors import ApiProblem, WireJSON, meta
from agents.api.state import KafkaUnavailable
from pipeline.ingest.decode import IngestLimits, Rejection, validate_event
from pipeline.models.api import (
    ApiError,
    ApiResponse,
    BatchItemResult,
    BatchResponse,
    BatchStatus,
    ErrorDetails,
    ItemStatus,
    ResponseStatus,
    api_error_from_issues,
)
from pipeline.models.events import AnalyticsEvent
from pipeline.models.issues import issues_from_error, only_whole_floats_for_integers
from pipeline.wire.json_codec import WireDecodeError, dumps, loads

router = APIRouter(prefix="/api/v1", tags=["ingest"])

DRAIN_LIMIT = 32 * 1024 * 1024
"""An oversized body is read (and dropped) up to this much, so the client sees the 413."""

_ERRORS = {
    400: {"model": schemas.ErrorResponse},
    401: {"model": schemas.ErrorResponse},
    403: {"model": schemas.ErrorResponse},
    413: {"model": schemas.ErrorResponse},
    422: {
        "model": schemas.ErrorResponse,
        "description": "a well-formed event whose timestamp is too far from the hub's clock",
    },
    429: {"model": schemas.ErrorResponse},
    503: {"model": schemas.ErrorResponse},
}


async def read_body(request: Request, limit: int, what: str, hint: str) -> bytes:
    """The request body, or a 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    too_big = declared.isdigit() and int(declared) > limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            too_big = True
        if too_big:
            if size > limit + DRAIN_LIMIT:
                break
            continue
        chunks.append(chunk)
    if too_big:
        shown = int(declared) if declared.isdigit() else size
        raise ApiProblem(
            413,
            f"{what} is {shown} bytes; the limit is {limit} bytes: {hint}",
            context={"limit_bytes": limit, "size_bytes": shown},
            headers={"Connection": "close"},
        )
    return b"".join(chunks)


def _limits(request: Request) -> IngestLimits:
    settings = hub_state(request).settings
    return IngestLimits(
        max_message_bytes=settings.max_message_bytes,
        max_future_skew_s=settings.max_future_skew_s,
        max_past_age_s=settings.max_past_age_s,
    )


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        raise ApiProblem(400, "the request body is empty: send the event(s) as JSON")
    try:
        return loads(raw)
    except WireDecodeError as exc:
        issues = issues_from_error(exc)
        error = api_error_from_issues(issues, "")
        raise ApiProblem(
            400,
            f"the body is not valid JSON ({exc.reason}); send UTF-8 JSON",
            field_errors=error.field_errors,
        ) from None


OUT_OF_WINDOW = frozenset({"bad_timestamp"})
"""Rejections of a well-formed event the hub cannot take now (its time is too far from the
hub's clock: a schema cannot say that), answered 422 rather than 400, as are integers
written ``100.0`` (valid JSON Schema integers, refused by the wire format)."""


def _rejection_error(rejection: Rejection) -> ApiError:
    issues = rejection.issues
    first = str(issues[0]) if issues else rejection.code
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    error = api_error_from_issues(
        issues, f"invalid event: {first}{more}; fix the fields listed in field_errors"
    )
    unsayable = rejection.code in OUT_OF_WINDOW or only_whole_floats_for_integers(issues)
    status = 422 if unsayable else 400
    return error.model_copy(
        update={
            "status_code": status,
            "code": "unprocessable" if status == 422 else error.code,
            "details": ErrorDetails(context={"reason": rejection.code}, documentation_url="/docs"),
        }
    )


def _unroutable(request: Request, event: AnalyticsEvent) -> ApiError | None:
    """A valid event of a module with no input topic (the hub's own, say): 422."""
    catalogue = hub_state(request).catalogue
    try:
        catalogue.input_topic(event.source_module.value)
    except KeyError:
        modules = sorted(t.module for t in catalogue.by_role("input") if t.module)
        message = (
            f"source_module {event.source_module.value!r} has no input topic in topics.yaml; "
            f"the hub ingests events of {', '.join(modules)}"
        )
        return ApiError(
            code="unprocessable",
            message=message,
            status_code=422,
            field_errors={"source_module": [message]},
            timestamp=datetime.now(UTC),
        )
    return None


def _accepted(event: AnalyticsEvent, meta_: RecordMetadata) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "topic": meta_.topic,
        "partition": meta_.partition,
        "offset": meta_.offset,
    }


def _kafka_problem(exc: Exception) -> ApiProblem:
    return ApiProblem(503, f"{exc}", headers={"Retry-After": "5"})


@router.post(
    "/events",
    status_code=202,
    summary="Validate one event and produce it to its module's topic",
    response_class=WireJSON,
    responses={202: {"model": schemas.EventResponse}, **_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/AnalyticsEvent"}}
            },
        }
    },
)
async def post_event(
    request: Request, _key: Annotated[ApiKey, Depends(require(Role.INGEST))]
) -> WireJSON:
    hub = hub_state(request)
    raw = await read_body(
        request,
        hub.limits.max_event_bytes,
        "the event",
        "events this large are dead-lettered by the hub (HUB_MAX_MESSAGE_BYTES); make it smaller",
    )
    doc = _parse(raw)
    if isinstance(doc, list):
        raise ApiProblem(
            400,
            "POST /api/v1/events takes one event object; send a JSON array of events to "
            "POST /api/v1/events/batch",
        )
    result = validate_event(doc, time.time(), _limits(request), raw)
    if not isinstance(result, Rejection) and (unroutable := _unroutable(request, result)):
        raise ApiProblem(422, unroutable.message, field_errors=unroutable.field_errors)
    if isinstance(result, Rejection):
        error = _rejection_error(result)
        raise ApiProblem(
            error.status_code,
            error.message,
            field_errors=error.field_errors,
            context={"reason": result.code},
        )
    try:
        (outcome,) = await hub.publisher.publish([result])
    except KafkaUnavailable as exc:
        raise _kafka_problem(exc) from exc
    if isinstance(outcome, Exception):
        raise _kafka_problem(
            KafkaUnavailable(f"Kafka refused the event ({type(outcome).__name__}: {outcome})")
        )
    data = {**_accepted(result, outcome), "timestamp": result.timestamp}
    body = ApiResponse(status=ResponseStatus.SUCCESS, data=data, meta=meta(request))
    return WireJSON(body, status_code=202)


@router.post(
    "/events/batch",
    summary="Validate many events; produce the valid ones; one result per item",
    response_class=WireJSON,
    status_code=202,
    responses={
        202: {"model": schemas.BatchEventResponse},
        **{k: v for k, v in _ERRORS.items() if k != 400},
        422: {
            "model": schemas.BatchEventResponse,
            "description": "every item failed, each for a timestamp too far from the hub's clock",
        },
        400: {
            "description": "every item failed (a BatchEventResponse), or the body is not a "
            "batch (an ErrorResponse)",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/BatchEventResponse"},
                            {"$ref": "#/components/schemas/ErrorResponse"},
                        ]
                    }
                }
            },
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/AnalyticsEvent"},
                        "minItems": 1,
                    }
                }
            },
        }
    },
)
async def post_batch(
    request: Request, _key: Annotated[ApiKey, Depends(require(Role.INGEST))]
) -> WireJSON:
    hub = hub_state(request)
    limits = hub.limits
    raw = await read_body(
        request,
        limits.max_batch_bytes,
        "the batch",
        "split it into smaller batches (HUB_API_MAX_BATCH_BYTES)",
    )
    doc = _parse(raw)
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        doc = doc["events"]
    if not isinstance(doc, list):
        raise ApiProblem(
            400,
            'POST /api/v1/events/batch takes a JSON array of events (or {"events": [...]}); '
            "send a single event to POST /api/v1/events",
        )
    if not doc:
        raise ApiProblem(400, "the batch is empty: send at least one event")
    if len(doc) > limits.max_batch_items:
        raise ApiProblem(
            413,
            f"the batch has {len(doc)} events; the limit is {limits.max_batch_items} "
            "(HUB_API_MAX_BATCH_ITEMS): split it",
            context={"limit_items": limits.max_batch_items, "items": len(doc)},
        )
    ingest_limits = _limits(request)
    now = time.time()
    results: dict[int, BatchItemResult] = {}
    valid: list[tuple[int, AnalyticsEvent]] = []
    for index, item in enumerate(doc):
        item_id = item.get("event_id") if isinstance(item, dict) else None
        item_id = item_id if isinstance(item_id, str) else None
        encoded = dumps(item).encode("utf-8")
        if len(encoded) > limits.max_event_bytes:
            error = ApiError(
                code="payload_too_large",
                message=f"event is {len(encoded)} bytes; the limit per event is "
                f"{limits.max_event_bytes} bytes (HUB_MAX_MESSAGE_BYTES): make it smaller",
                status_code=413,
                timestamp=datetime.now(UTC),
            )
            results[index] = BatchItemResult(
                index=index, item_id=item_id, status=ItemStatus.FAILED, error=error
            )
            continue
        outcome = validate_event(item, now, ingest_limits, encoded, index)
        unroutable = None if isinstance(outcome, Rejection) else _unroutable(request, outcome)
        if unroutable is not None:
            results[index] = BatchItemResult(
                index=index, item_id=item_id, status=ItemStatus.FAILED, error=unroutable
            )
        elif isinstance(outcome, Rejection):
            results[index] = BatchItemResult(
                index=index,
                item_id=item_id,
                status=ItemStatus.FAILED,
                error=_rejection_error(outcome),
            )
        else:
            valid.append((index, outcome))
    if valid:
        try:
            sent = await hub.publisher.publish([event for _, event in valid])
        except KafkaUnavailable as exc:
            raise _kafka_problem(exc) from exc
        for (index, event), outcome in zip(valid, sent, strict=True):
            if isinstance(outcome, Exception):
                error = ApiError(
                    code="service_unavailable",
                    message=f"Kafka did not take the event ({type(outcome).__name__}: "
                    f"{outcome}); send it again",
                    status_code=503,
                    timestamp=datetime.now(UTC),
                )
                results[index] = BatchItemResult(
                    index=index,
                    item_id=str(event.event_id),
                    status=ItemStatus.FAILED,
                    error=error,
                )
            else:
                results[index] = BatchItemResult(
                    index=index,
                    item_id=str(event.event_id),
                    status=ItemStatus.SUCCESS,
                    data=_accepted(event, outcome),
                )
    ordered = [results[i] for i in range(len(doc))]
    ok = sum(1 for r in ordered if r.status is ItemStatus.SUCCESS)
    failed = len(ordered) - ok
    status = (
        BatchStatus.ALL_SUCCESS
        if failed == 0
        else BatchStatus.ALL_FAILED
        if ok == 0
        else BatchStatus.PARTIAL_SUCCESS
    )
    batch = BatchResponse(
        batch_id=uuid4(),
        total_items=len(ordered),
        success_count=ok,
        failure_count=failed,
        results=ordered,
        status=status,
    )
    if status is BatchStatus.ALL_FAILED:
        late = all(r.error is not None and r.error.status_code == 422 for r in ordered)
        error = ApiError(
            code="unprocessable" if late else "bad_request",
            message=f"none of the {failed} events was accepted; each result's error says "
            "what to fix",
            status_code=422 if late else 400,
            timestamp=datetime.now(UTC),
        )
        body = ApiResponse(status=ResponseStatus.ERROR, data=batch, error=error, meta=meta(request))
        return WireJSON(body, status_code=error.status_code)
    response_status = (
        ResponseStatus.SUCCESS if status is BatchStatus.ALL_SUCCESS else ResponseStatus.PARTIAL
    )
    body = ApiResponse(status=response_status, data=batch, meta=meta(request))
    return WireJSON(body, status_code=202)
