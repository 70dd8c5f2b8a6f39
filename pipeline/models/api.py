"""API models of WIRE_FORMAT.md §9 (meaning: SEED_DATA_MODELS.md, "API Response Models").

``T``, the endpoint-specific content, is any JSON or a wire model (:data:`Content`).
Reading always gives plain JSON (the reader cannot know ``T``); in Python a wire model
may be given as content and is written in its own key order. ``data?: T`` keys are left
out of the output when unset (a JSON ``null`` there reads as unset).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from enum import Enum
from types import MappingProxyType
from typing import Annotated, Any, ClassVar
from uuid import uuid4

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from pipeline.models.base import (
    ANY_JSON_VALUES,
    F64,
    OMIT,
    U16,
    U32,
    U64,
    Bool,
    Str,
    Timestamp,
    Uuid,
    WireModel,
    to_wire_value,
)
from pipeline.models.events import FiniteAnyJson
from pipeline.models.issues import FieldIssue
from pipeline.models.metrics import CodeBuiltModel, TimeRange
from pipeline.wire.json_codec import normalize_any_json

__all__ = [
    "DEFAULT_API_VERSION",
    "DOCUMENT_PATH",
    "STANDARD_ERROR_CODES",
    "AggregatedValue",
    "ApiDataPoint",
    "ApiError",
    "ApiResponse",
    "BatchItemResult",
    "BatchResponse",
    "BatchStatus",
    "Content",
    "ErrorDetails",
    "ItemStatus",
    "JsonValue",
    "MetricsQueryResult",
    "PaginatedResponse",
    "PaginationLinks",
    "PaginationMetadata",
    "PaginationParams",
    "QueryMetrics",
    "QueryResult",
    "QueryStatus",
    "ResponseMetadata",
    "ResponseStatus",
    "SeriesData",
    "SortOrder",
    "StreamEvent",
    "StreamEventType",
    "TimeSeriesQueryResult",
    "api_error_from_issues",
    "sse_frame",
    "standard_code_for_status",
]

DEFAULT_API_VERSION = "1.0.0"


_FLOAT_MAX_INT = int(sys.float_info.max)


def _content_in(value: Any) -> Any:
    """Python values to JSON data, keeping wire models (they write their own key order).

    Also refuses integers too large even for a float: ``normalize_any_json`` would turn
    them into floats and raise a bare OverflowError instead of a validation error.
    """
    if isinstance(value, WireModel):
        return value
    if isinstance(value, dict):
        return {k: _content_in(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_content_in(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX_INT:
        raise ValueError("number out of range: integer too large for a float")
    return to_wire_value(value)


def _json_in(value: Any) -> Any:
    """Like :func:`_content_in`, but wire models become their JSON objects too."""
    return _content_in(to_wire_value(value))


def _finite(value: Any) -> Any:
    """Refuse non-finite numbers (``1e400`` reads as infinity), §12 #5."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("number out of range: non-finite values are not JSON")
    if isinstance(value, dict):
        for item in value.values():
            _finite(item)
    elif isinstance(value, list):
        for item in value:
            _finite(item)
    return value


Content = Annotated[
    Any,
    BeforeValidator(_content_in),
    AfterValidator(normalize_any_json),
    AfterValidator(_finite),
]
"""``T``: any JSON value (``null`` included) with finite numbers, or wire models.

JSON objects are key-sorted (§4.7). A wire model given in Python is kept and written
in its own key order, as the reference producers write a typed ``T``; datetimes,
uuids, enums and tuples are turned into their wire JSON. Reading always gives JSON.
"""

JsonValue = Annotated[FiniteAnyJson, BeforeValidator(_json_in)]
"""Plain ``any JSON`` (error context values, catch-all extras): wire models given in
Python become JSON objects and, like every object here, are written key-sorted."""


# --- §9.1 ApiResponse, ResponseStatus, ResponseMetadata ---------------------------------------


class ResponseStatus(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    SUCCESS = "success"
    ERROR = "error"
    PARTIAL = "partial"


class ResponseMetadata(CodeBuiltModel):
    """Catch-all: named keys, then extra keys with any-JSON values (written key-sorted).

    ``ResponseMetadata()`` gets a random ``request_id``, the current time and
    ``api_version`` ``"1.0.0"``; on read those three keys are required.
    """

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, JsonValue]

    request_id: Uuid
    timestamp: Timestamp
    api_version: Str
    response_time_ms: Annotated[U64 | None, OMIT] = None

    _code_defaults: ClassVar[dict[str, Callable[[], Any]]] = {
        "request_id": uuid4,
        "timestamp": lambda: datetime.now(UTC),
        "api_version": lambda: DEFAULT_API_VERSION,
    }

    @property
    def extras(self) -> dict[str, Any]:
        """The extra (unnamed) keys, in read or construction order."""
        return self.__pydantic_extra__ or {}


# --- §9.3 Errors ----------------------------------------------------------------------------

STANDARD_ERROR_CODES: Mapping[str, int] = MappingProxyType(
    {
        "bad_request": 400,
        "unauthorized": 401,
        "forbidden": 403,
        "not_found": 404,
        "internal_error": 500,
    }
)
"""The standard ``code`` -> ``status_code`` pairs of §9.3 (``code`` itself is free text)."""

_CODE_FOR_STATUS: Mapping[int, str] = MappingProxyType(
    {status: code for code, status in STANDARD_ERROR_CODES.items()}
)

DOCUMENT_PATH = "<document>"
"""``field_errors`` key for issues about the whole document (a FieldIssue with path ``""``)."""


def standard_code_for_status(status_code: int) -> str | None:
    """The standard code of an HTTP status (``404`` -> ``"not_found"``), or None."""
    return _CODE_FOR_STATUS.get(status_code)


class ErrorDetails(WireModel):
    """Every key optional and omitted when unset; ``{}`` is valid."""

    trace: Annotated[Str | None, OMIT] = None
    context: Annotated[dict[str, JsonValue] | None, OMIT, ANY_JSON_VALUES] = None
    suggestions: Annotated[list[Str] | None, OMIT] = None
    documentation_url: Annotated[Str | None, OMIT] = None


class ApiError(WireModel):
    code: Str
    message: Str
    status_code: U16
    details: Annotated[ErrorDetails | None, OMIT] = None
    field_errors: Annotated[dict[str, list[Str]] | None, OMIT] = None
    timestamp: Timestamp


def api_error_from_issues(
    issues: Iterable[FieldIssue], message: str, status_code: int = 400
) -> ApiError:
    """An error response body for rejected input: ``field_errors`` is ``{path: [reason, ...]}``.

    The code is the standard code of ``status_code`` (``bad_request`` for 400), or
    ``bad_request`` when the status has no standard code. Issues about the whole
    document (empty path) are filed under :data:`DOCUMENT_PATH`. ``field_errors`` is
    left out when there are no issues.
    """
    field_errors: dict[str, list[str]] = {}
    for issue in issues:
        reasons = field_errors.setdefault(issue.path or DOCUMENT_PATH, [])
        if issue.reason not in reasons:
            reasons.append(issue.reason)
    return ApiError(
        code=standard_code_for_status(status_code) or "bad_request",
        message=message,
        status_code=status_code,
        field_errors=field_errors or None,
        timestamp=datetime.now(UTC),
    )


class ApiResponse(WireModel):
    status: ResponseStatus
    data: Annotated[Content | None, OMIT] = None
    error: Annotated[ApiError | None, OMIT] = None
    meta: ResponseMetadata


# --- §9.2 Pagination -------------------------------------------------------------------------


class SortOrder(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    ASC = "asc"
    DESC = "desc"


class PaginationLinks(WireModel):
    """Page links; the self link's key is literally ``self_link``."""

    first: Str
    last: Str
    next: Annotated[Str | None, OMIT] = None
    prev: Annotated[Str | None, OMIT] = None
    self_link: Str

    @classmethod
    def build(cls, base_path: str, page: int, total_pages: int) -> PaginationLinks:
        """``<base>?page=N`` links; ``next`` only if ``page < total_pages``, ``prev`` if > 1."""
        return cls(
            first=f"{base_path}?page=1",
            last=f"{base_path}?page={total_pages}",
            next=f"{base_path}?page={page + 1}" if page < total_pages else None,
            prev=f"{base_path}?page={page - 1}" if page > 1 else None,
            self_link=f"{base_path}?page={page}",
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class PaginationMetadata(WireModel):
    page: U32
    per_page: U32
    total_items: U64
    total_pages: U32
    has_next: Bool
    has_previous: Bool
    links: Annotated[PaginationLinks | None, OMIT] = None

    @classmethod
    def build(
        cls, page: int, per_page: int, total_items: int, base_path: str | None = None
    ) -> PaginationMetadata:
        """Derive ``total_pages = ceil(total_items / per_page)``, ``has_next``, ``has_previous``.

        Links are added when ``base_path`` is given. ``per_page = 0`` is rejected (the
        reference producers would answer ``total_pages = 4294967295``, §12 #10). With no
        items, ``total_pages`` is 0 and ``last`` points at ``?page=0``, as the formula says.
        """
        for name, value in (("page", page), ("per_page", per_page), ("total_items", total_items)):
            if not _is_int(value):
                raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
        if per_page <= 0:
            raise ValueError(f"per_page must be at least 1 (got {per_page})")
        if page < 0 or total_items < 0:
            raise ValueError("page and total_items must not be negative")
        total_pages = -(-total_items // per_page)
        links = None if base_path is None else PaginationLinks.build(base_path, page, total_pages)
        return cls(
            page=page,
            per_page=per_page,
            total_items=total_items,
            total_pages=total_pages,
            has_next=page < total_pages,
            has_previous=page > 1,
            links=links,
        )


class PaginatedResponse(WireModel):
    status: ResponseStatus
    data: Annotated[list[Content] | None, OMIT] = None
    pagination: PaginationMetadata
    error: Annotated[ApiError | None, OMIT] = None
    meta: ResponseMetadata


class PaginationParams(WireModel):
    """``{}`` reads as page 1, 50 per page. The 1000 cap is the server's job, not checked."""

    page: U32 = 1
    per_page: U32 = 50
    sort_by: Annotated[Str | None, OMIT] = None
    sort_order: Annotated[SortOrder | None, OMIT] = None


# --- §9.4 QueryResult ------------------------------------------------------------------------


class QueryStatus(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    SUCCESS = "success"
    PARTIAL_SUCCESS = "partial_success"
    FAILED = "failed"
    TIMEOUT = "timeout"


class QueryMetrics(WireModel):
    execution_time_ms: U64
    records_scanned: U64
    records_returned: U64
    bytes_processed: U64
    from_cache: Bool
    cache_ttl: Annotated[U32 | None, OMIT] = None


class QueryResult(WireModel):
    query_id: Uuid
    status: QueryStatus
    data: Annotated[Content | None, OMIT] = None
    metrics: QueryMetrics
    warnings: list[Str] = Field(default_factory=list)


# --- §9.5 Query result payloads --------------------------------------------------------------


class ApiDataPoint(WireModel):
    """API DataPoint (catch-all): ``timestamp``, ``value``, then any-JSON extras.

    Not the time-series DataPoint of §6.7 (``TsDataPoint``).
    """

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, JsonValue]

    timestamp: Timestamp
    value: F64

    @property
    def extras(self) -> dict[str, Any]:
        return self.__pydantic_extra__ or {}


class SeriesData(WireModel):
    name: Str
    tags: dict[str, Str] = Field(default_factory=dict)
    points: list[ApiDataPoint]


class TimeSeriesQueryResult(WireModel):
    query: Str
    time_range: TimeRange
    series: list[SeriesData]
    metrics: QueryMetrics


class AggregatedValue(WireModel):
    timestamp: Timestamp
    avg: F64
    min: F64
    max: F64
    p50: F64
    p95: F64
    p99: F64
    count: U64


class MetricsQueryResult(WireModel):
    metric: Str
    window: Str
    values: list[AggregatedValue]
    metrics: QueryMetrics


# --- §9.6 Streaming --------------------------------------------------------------------------


class StreamEventType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    DATA = "data"
    HEARTBEAT = "heartbeat"
    ERROR = "error"
    COMPLETE = "complete"


class StreamEvent(WireModel):
    """``data`` is required on read but may be ``null`` (heartbeats); it is always written."""

    event_id: Uuid
    event_type: StreamEventType
    data: Content
    sequence: U64
    timestamp: Timestamp

    def to_sse(self, retry: int | None = None) -> str:
        """This event as one SSE frame: ``event:`` its type, ``id:`` its uuid, its JSON as data."""
        return sse_frame(
            self.to_wire(), event=self.event_type.value, id=str(self.event_id), retry=retry
        )


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _single_line(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"SSE {name} must be a string, not {type(value).__name__}")
    if "\n" in value or "\r" in value:
        raise ValueError(f"SSE {name} must not contain a line break: {value!r}")
    return value


def sse_frame(
    data: str, event: str | None = None, id: str | None = None, retry: int | None = None
) -> str:
    """One server-sent-event frame (§9.6): ``event:``, ``id:``, ``retry:`` lines (each
    only when set), then ``data: <payload>``, then an empty line; every line ends with ``\\n``.

    Compact wire JSON never contains a raw line break; if ``data`` does, it is sent as
    several ``data:`` lines, which SSE clients join back with ``\\n``.
    """
    lines: list[str] = []
    if event is not None:
        lines.append(f"event: {_single_line('event', event)}")
    if id is not None:
        if "\0" in _single_line("id", id):
            raise ValueError("SSE id must not contain NUL")
        lines.append(f"id: {id}")
    if retry is not None:
        if not _is_int(retry) or retry < 0:
            raise ValueError(f"SSE retry must be a non-negative integer of ms (got {retry!r})")
        lines.append(f"retry: {retry}")
    if not isinstance(data, str):
        raise TypeError(f"SSE data must be a string, not {type(data).__name__}")
    lines.extend(f"data: {part}" for part in _LINE_BREAK.split(data))
    return "".join(f"{line}\n" for line in lines) + "\n"


# --- §9.7 Batches ----------------------------------------------------------------------------


class ItemStatus(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


class BatchStatus(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    ALL_SUCCESS = "all_success"
    PARTIAL_SUCCESS = "partial_success"
    ALL_FAILED = "all_failed"


class BatchItemResult(WireModel):
    index: U64
    item_id: Str | None = None
    status: ItemStatus
    data: Annotated[Content | None, OMIT] = None
    error: Annotated[ApiError | None, OMIT] = None


class BatchResponse(WireModel):
    batch_id: Uuid
    total_items: U64
    success_count: U64
    failure_count: U64
    results: list[BatchItemResult]
    status: BatchStatus
