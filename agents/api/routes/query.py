"""GET /api/v1/query (the spec's time-series query over the stored windows) and discovery."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import WithJsonSchema

from agents.api import schemas
from agents.api.auth import ApiKey, Role
from agents.api.deps import hub_state, require
from agents.api.errors import ApiProblem, WireJSON, meta
from agents.api.params import Aggregate, Fill, Resolution, TagFilters
from agents.api.reader import read_points
from pipeline.models.api import (
    ApiDataPoint,
    ApiResponse,
    QueryMetrics,
    ResponseStatus,
    SeriesData,
    TimeSeriesQueryResult,
)
from pipeline.models.metadata import AssetMetadata
from pipeline.models.metrics import TimeRange
from pipeline.store.enrichment import asset_index, enrich
from pipeline.store.layout import matches
from pipeline.store.query import (
    KNOWN_FIELDS,
    TIME_SCHEMA,
    QuerySpec,
    SeriesRows,
    parse_aggregate,
    parse_csv,
    parse_fill,
    parse_resolution,
    parse_tag_filters,
    parse_time,
    run_query,
)

router = APIRouter(prefix="/api/v1", tags=["query"])

MAX_SERIES = 5_000
"""Series one query may read; more means the tag filters are too loose."""

_ERRORS = {
    400: {"model": schemas.ErrorResponse},
    401: {"model": schemas.ErrorResponse},
    403: {"model": schemas.ErrorResponse},
    422: schemas.CONFLICT,
    429: {"model": schemas.ErrorResponse},
}

FIELD_VALUES = sorted(KNOWN_FIELDS)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


async def _asset_index(store: Any) -> dict[str, dict[str, str]]:
    """Registered assets (API CRUD or the registry's topic) -> owner / cost-centre tags."""
    raw = await store.redis.hgetall(store.layout.metadata("assets"))
    assets = []
    for value in raw.values():
        try:
            assets.append(AssetMetadata.from_wire(value))
        except ValueError:
            continue  # written by hand into Redis; the CRUD and the sink validate
    return asset_index(assets)


@router.get(
    "/query",
    summary="Time-series query: fields of a metric over a time range, filtered, grouped, filled",
    response_class=WireJSON,
    responses={200: {"model": schemas.QueryResponse}, **_ERRORS},
)
async def query(
    request: Request,
    _key: Annotated[ApiKey, Depends(require(Role.READ))],
    metric: Annotated[
        str,
        Query(
            min_length=1,
            description="metric name, `<measurement>.<field>`, e.g. llm_latency.total_latency_ms",
        ),
    ],
    start: Annotated[str, Query(), WithJsonSchema(TIME_SCHEMA)] = "now-1h",
    end: Annotated[
        str, Query(description="exclusive; same forms as start"), WithJsonSchema(TIME_SCHEMA)
    ] = "now",
    fields: Annotated[
        list[str],
        Query(
            description="stats: avg,min,max,p50,p95,p99,stddev,count,sum; counters: value,rate; "
            "gauges: value,delta (repeated, or comma-separated; default avg, or value)"
        ),
        WithJsonSchema({"type": "array", "items": {"type": "string", "enum": FIELD_VALUES}}),
    ] = [],  # noqa: B006 (FastAPI copies defaults)
    tag: TagFilters = [],  # noqa: B006
    resolution: Resolution = None,
    aggregate: Aggregate = None,
    group_by: Annotated[
        list[str], Query(description="tag keys to group by (needs aggregate)")
    ] = [],  # noqa: B006
    fill: Fill = None,
    limit: Annotated[int | None, Query(ge=1, description="points per series")] = None,
    offset: Annotated[int, Query(ge=0, description="points per series to skip")] = 0,
) -> WireJSON:
    hub = hub_state(request)
    started = time.perf_counter()
    name = metric
    now_ms = int(time.time() * 1000)
    start_ms = parse_time("start", start, now_ms)
    end_ms = parse_time("end", end, now_ms)
    res = parse_resolution(resolution, start_ms, end_ms)
    filters = parse_tag_filters(tag)
    selected = parse_csv(fields)
    spec = QuerySpec(
        metric=name,
        start_ms=start_ms,
        end_ms=end_ms,
        resolution=res,
        fields=tuple(selected) or ("avg",),
        tag_filters=filters,
        aggregate=parse_aggregate(aggregate),
        group_by=tuple(parse_csv(group_by)),
        fill=parse_fill(fill),
        limit=limit,
        offset=offset,
    )
    spec.check()

    series = await hub.store.series(name, filters)
    if len(series) > MAX_SERIES:
        raise ApiProblem(
            422,
            f"{len(series)} series of {name!r} match; the limit is {MAX_SERIES}: "
            "narrow the query with tag filters (tag=key:value)",
            field_errors={"tag": ["too many series match"]},
        )
    sids = sorted(series)
    read = await read_points(hub.store, res, sids, spec.aligned_start_ms, end_ms)
    rows = [SeriesRows(series[sid], read.points[sid]) for sid in sids]
    if not selected:
        sample = next((values for row in rows for _, values in row.points), None)
        default = "avg" if sample is None or "p95" in sample else "value"
        spec = dataclasses.replace(spec, fields=(default,))
    output = run_query(spec, rows)

    assets = await _asset_index(hub.store)
    result_series = []
    for out in output.series:
        points = []
        for point in out.points:
            if point.value is None:  # fill=null: the API DataPoint's value is a required f64
                continue
            extras: dict[str, object] = {}
            if point.filled:
                extras["filled"] = True
            if point.series is not None:
                extras["series"] = point.series
            points.append(
                ApiDataPoint(timestamp=_dt(point.timestamp_ms), value=point.value, **extras)
            )
        tags = enrich(out.tags, assets)
        result_series.append(SeriesData(name=out.name, tags=tags, points=points))
    returned = sum(len(s.points) for s in result_series)
    metrics = QueryMetrics(
        execution_time_ms=int((time.perf_counter() - started) * 1000),
        records_scanned=output.records_scanned,
        records_returned=returned,
        bytes_processed=read.bytes_read,
        from_cache=False,
    )
    spec_query = spec.to_spec()
    result = TimeSeriesQueryResult(
        query=spec_query.to_wire(),
        time_range=TimeRange(start=_dt(start_ms), end=_dt(end_ms)),
        series=result_series,
        metrics=metrics,
    )
    body = ApiResponse(
        status=ResponseStatus.SUCCESS,
        data=result,
        meta=meta(
            request,
            resolution=res.label,
            series_scanned=output.series_scanned,
            warnings=output.warnings or None,
        ),
    )
    return WireJSON(body)


@router.get(
    "/metrics/names",
    summary="The metric names in the store",
    response_class=WireJSON,
    responses={200: {"model": schemas.NamesResponse}, **_ERRORS},
)
async def metric_names(
    request: Request, _key: Annotated[ApiKey, Depends(require(Role.READ))]
) -> WireJSON:
    hub = hub_state(request)
    names = sorted(n.decode() for n in await hub.store.redis.smembers(hub.store.layout.names()))
    return WireJSON(ApiResponse(status=ResponseStatus.SUCCESS, data=names, meta=meta(request)))


@router.get(
    "/metrics/series",
    summary="The series (tag sets) of a metric, optionally filtered by tags",
    response_class=WireJSON,
    responses={
        200: {"model": schemas.SeriesListResponse},
        **_ERRORS,
        404: {"model": schemas.ErrorResponse, "description": "no such metric"},
    },
)
async def metric_series(
    request: Request,
    _key: Annotated[ApiKey, Depends(require(Role.READ))],
    metric: Annotated[str, Query(description="metric name")],
    tag: TagFilters = [],  # noqa: B006
) -> WireJSON:
    hub = hub_state(request)
    filters = parse_tag_filters(tag)
    raw = await hub.store.redis.hgetall(hub.store.layout.series(metric))
    found = [{"series_id": sid.decode(), "tags": orjson.loads(tags)} for sid, tags in raw.items()]
    data = sorted(
        (s for s in found if matches(s["tags"], filters)), key=lambda s: sorted(s["tags"].items())
    )
    if not raw:
        raise ApiProblem(
            404,
            f"no metric {metric!r} in the store; GET /api/v1/metrics/names lists the names",
        )
    return WireJSON(ApiResponse(status=ResponseStatus.SUCCESS, data=data, meta=meta(request)))
