"""Documentation-only models: the spec's wrappers with their ``data`` typed, for /openapi.json.

Responses are written by the wire encoder (:class:`agents.api.errors.WireJSON`); these
subclasses only tell OpenAPI readers what ``data`` holds on each endpoint.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pipeline.models.api import (
    ApiError,
    ApiResponse,
    BatchResponse,
    PaginatedResponse,
    TimeSeriesQueryResult,
)
from pipeline.models.base import Str, Timestamp, WireModel
from pipeline.models.correlation import AnomalyCorrelation, AnomalyEvent
from pipeline.models.metadata import DashboardConfig


class ErrorResponse(ApiResponse):
    """``status`` is ``error``; ``error`` says what went wrong and what to do."""

    error: ApiError  # type: ignore[assignment]


class HealthData(WireModel):
    status: Str
    version: Str | None = None
    uptime_s: float | None = None
    checks: dict[str, Any] | None = None


class HealthResponse(ApiResponse):
    data: HealthData  # type: ignore[assignment]


class QueryResponse(ApiResponse):
    """``data`` is a TimeSeriesQueryResult (§9.5): one SeriesData per series (or group) and
    field; points carry ``filled: true`` when the fill strategy made them and ``series``
    (how many series were combined) with an aggregate. ``meta`` adds ``query`` (the
    §6.6 TimeSeriesQuery answered), ``resolution``, ``series_scanned`` and ``warnings``."""

    data: TimeSeriesQueryResult  # type: ignore[assignment]


class NamesResponse(ApiResponse):
    data: list[Str]  # type: ignore[assignment]


class SeriesTags(WireModel):
    series_id: Str
    tags: dict[str, Str]


class SeriesListResponse(ApiResponse):
    data: list[SeriesTags]  # type: ignore[assignment]


class StoredAnomaly(WireModel):
    """An AnomalyEvent as the sink stored it: the latest message of its episode."""

    anomaly: AnomalyEvent
    episode: Str = Field(description="started, escalated or ended")
    window: Str = Field(description="the metric window it was detected on (1m, 5m, 1h)")


class AnomaliesPage(PaginatedResponse):
    data: list[StoredAnomaly]  # type: ignore[assignment]


class CorrelationsPage(PaginatedResponse):
    data: list[AnomalyCorrelation]  # type: ignore[assignment]


class AcceptedEvent(WireModel):
    event_id: Str
    topic: Str
    partition: int
    offset: int
    timestamp: Timestamp


class EventResponse(ApiResponse):
    data: AcceptedEvent  # type: ignore[assignment]


class BatchEventResponse(ApiResponse):
    """``data`` is a BatchResponse (§9.7); a failed item's ``error`` has field paths."""

    data: BatchResponse  # type: ignore[assignment]


class DashboardResponse(ApiResponse):
    data: DashboardConfig  # type: ignore[assignment]


class DashboardListResponse(ApiResponse):
    """The built-in ``default`` first (or its stored replacement), then the others by id."""

    data: list[DashboardConfig]  # type: ignore[assignment]


CONFLICT = {
    "model": ErrorResponse,
    "description": "parameters each valid on its own that contradict each other or the data "
    "(an end before the start, a body id that differs from the path's)",
}
"""The 422 of the routes that have such rules (what a schema cannot express)."""


def json_body(model: str) -> dict[str, object]:
    """``openapi_extra`` of a route that reads a ``model`` body by hand (the wire codec)."""
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}}
    return {"requestBody": {"required": True, "content": content}}
