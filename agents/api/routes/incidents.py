"""GET /api/v1/anomalies and /api/v1/correlations: what the sink stored, filtered and paged."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError

from agents.api import schemas
from agents.api.auth import ApiKey, Role
from agents.api.deps import hub_state, require
from agents.api.errors import WireJSON, meta
from agents.api.params import (
    MAX_PAGE,
    Page,
    PerPage,
    Time,
    enum_list,
    enum_one,
)
from pipeline.models.api import (
    PaginatedResponse,
    PaginationLinks,
    PaginationMetadata,
    ResponseStatus,
)
from pipeline.models.base import WireModel
from pipeline.models.correlation import (
    AnomalyCorrelation,
    AnomalyEvent,
    AnomalyType,
    ImpactSeverity,
)
from pipeline.models.events import SourceModule
from pipeline.store.query import QueryConflict, QueryError, parse_csv, parse_time

log = logging.getLogger("hub.api")
router = APIRouter(prefix="/api/v1", tags=["anomalies and correlations"])

_ERRORS = {
    400: {"model": schemas.ErrorResponse},
    401: {"model": schemas.ErrorResponse},
    403: {"model": schemas.ErrorResponse},
    422: schemas.CONFLICT,
    429: {"model": schemas.ErrorResponse},
}
_MGET_CHUNK = 500


def _enum_values(param: str, raw: list[str], enum: type[Any]) -> set[str]:
    values = set(parse_csv(raw))
    known = {member.value for member in enum}
    unknown = sorted(values - known)
    if unknown:
        raise QueryError(param, f"{param}={unknown[0]!r} is not known; use one of {sorted(known)}")
    return values


def _one_value(param: str, raw: str, enum: type[Any]) -> str:
    """A single enum value (an empty one is a mistake too, not 'no filter')."""
    values = _enum_values(param, [raw], enum)
    if len(values) != 1:
        known = sorted(member.value for member in enum)
        raise QueryError(param, f"{param} takes one value, one of {known} (got {raw!r})")
    return next(iter(values))


def _range(start: str | None, end: str | None) -> tuple[float, float]:
    now_ms = int(time.time() * 1000)
    low = -math.inf if start is None else parse_time("start", start, now_ms)
    high = math.inf if end is None else parse_time("end", end, now_ms)
    if high <= low:
        raise QueryConflict("end", "end must be after start")
    return low, high


def _score_band(param: str, low: float | None, high: float | None) -> None:
    if low is not None and high is not None and high < low:
        raise QueryConflict(param, f"max_{param} ({high}) is below min_{param} ({low})")


def _page_links(request: Request, page: int, total_pages: int) -> PaginationLinks:
    """The spec's ``<base>?page=N`` links, keeping the request's other parameters after it."""
    others = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    tail = ("&" + urlencode(others)) if others else ""
    base = request.url.path

    def link(n: int) -> str:
        return f"{base}?page={n}{tail}"

    return PaginationLinks(
        first=link(1),
        last=link(total_pages),
        next=link(page + 1) if page < total_pages else None,
        prev=link(page - 1) if page > 1 else None,
        self_link=link(page),
    )


def _check_paging(request: Request, page: int, per_page: int) -> None:
    limits = hub_state(request).limits
    if not 1 <= per_page <= limits.max_per_page:
        raise QueryError(
            "per_page", f"per_page must be between 1 and {limits.max_per_page} (got {per_page})"
        )
    if not 1 <= page <= MAX_PAGE:
        raise QueryError("page", f"page counts from 1 to {MAX_PAGE} (got {page}); narrow the "
                         "time range or filters to reach older items")  # fmt: skip


async def _load(request: Request, kind: str, ids: list[bytes]) -> list[bytes]:
    store = hub_state(request).store
    prefix = store.layout.event(kind, "")
    out: list[bytes] = []
    for i in range(0, len(ids), _MGET_CHUNK):
        chunk = ids[i : i + _MGET_CHUNK]
        values = await store.redis.mget([prefix + x.decode() for x in chunk])
        out.extend(v for v in values if v is not None)
    return out


async def _page(
    request: Request,
    kind: str,
    low: float,
    high: float,
    page: int,
    per_page: int,
    descending: bool,
    parse: Callable[[bytes], WireModel | dict[str, Any] | None],
    filtered: bool,
) -> tuple[list[Any], int]:
    """(items of the page, total items). Without content filters the sorted set pages itself."""
    store = hub_state(request).store
    key = store.layout.events(kind)
    lo = "-inf" if low == -math.inf else int(low)
    hi = "+inf" if high == math.inf else f"({int(high)}"
    offset = (page - 1) * per_page
    if not filtered:
        total = await store.redis.zcount(key, lo, hi)
        if descending:
            ids = await store.redis.zrevrangebyscore(key, hi, lo, start=offset, num=per_page)
        else:
            ids = await store.redis.zrangebyscore(key, lo, hi, start=offset, num=per_page)
        items = [item for raw in await _load(request, kind, ids) if (item := parse(raw))]
        return items, total
    ids = await store.redis.zrangebyscore(key, lo, hi)
    if descending:
        ids.reverse()
    items = [item for raw in await _load(request, kind, ids) if (item := parse(raw))]
    return items[offset : offset + per_page], len(items)


def _respond(request: Request, items: list[Any], total: int, page: int, per_page: int) -> WireJSON:
    pagination = PaginationMetadata.build(page, per_page, total)
    pagination = pagination.model_copy(
        update={"links": _page_links(request, page, pagination.total_pages)}
    )
    warnings = None
    if page > max(pagination.total_pages, 1):
        warnings = [f"page {page} is past the last page ({pagination.total_pages})"]
    body = PaginatedResponse(
        status=ResponseStatus.SUCCESS,
        data=items,
        pagination=pagination,
        meta=meta(request, warnings=warnings),
    )
    return WireJSON(body)


Modules = enum_list(SourceModule, "source module(s); repeat or comma-separate")
AnomalyTypes = enum_list(AnomalyType, "anomaly type(s); repeat or comma-separate")
Severities = enum_list(ImpactSeverity, "impact severity(ies)")
MinSeverity = enum_one([s.value for s in ImpactSeverity], "negligible < low < ... < critical")


@router.get(
    "/anomalies",
    summary="Anomaly alerts (latest message of each episode), newest first, filtered and paged",
    response_class=WireJSON,
    responses={200: {"model": schemas.AnomaliesPage}, **_ERRORS},
)
async def anomalies(
    request: Request,
    _key: Annotated[ApiKey, Depends(require(Role.READ))],
    start: Time = None,
    end: Time = None,
    module: Modules = [],  # noqa: B006
    anomaly_type: AnomalyTypes = [],  # noqa: B006
    min_score: Annotated[float | None, Query(ge=0, description="anomaly_score >= this")] = None,
    max_score: Annotated[float | None, Query(ge=0, description="anomaly_score <= this")] = None,
    metric: Annotated[str | None, Query(description="metric name prefix")] = None,
    episode: Annotated[list[str], Query(description="started, escalated, ended")] = [],  # noqa: B006
    window: Annotated[list[str], Query(description="detection window: 1m, 5m, 1h")] = [],  # noqa: B006
    sort_order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    page: Page = 1,
    per_page: PerPage = 50,
) -> WireJSON:
    _check_paging(request, page, per_page)
    low, high = _range(start, end)
    modules = _enum_values("module", module, SourceModule)
    types = _enum_values("anomaly_type", anomaly_type, AnomalyType)
    episodes = set(parse_csv(episode))
    windows = set(parse_csv(window))
    _score_band("score", min_score, max_score)
    filtered = bool(modules or types or episodes or windows or metric) or (
        min_score is not None or max_score is not None
    )

    def parse(raw: bytes) -> dict[str, Any] | None:
        try:
            doc = orjson.loads(raw)
            event = AnomalyEvent.model_validate(doc["anomaly"])
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            log.warning("skipping an unreadable stored anomaly: %s", exc)
            return None
        if modules and event.source_module.value not in modules:
            return None
        if types and event.anomaly_type.value not in types:
            return None
        if min_score is not None and event.anomaly_score < min_score:
            return None
        if max_score is not None and event.anomaly_score > max_score:
            return None
        if metric and not event.metric.startswith(metric):
            return None
        ep, win = str(doc.get("episode", "")), str(doc.get("window", ""))
        if (episodes and ep not in episodes) or (windows and win not in windows):
            return None
        return {"anomaly": event, "episode": ep, "window": win}

    items, total = await _page(
        request, "anomalies", low, high, page, per_page, sort_order == "desc", parse, filtered
    )
    return _respond(request, items, total, page, per_page)


@router.get(
    "/correlations",
    summary="Incidents (correlated anomalies with root cause and impact), newest first",
    response_class=WireJSON,
    responses={200: {"model": schemas.CorrelationsPage}, **_ERRORS},
)
async def correlations(
    request: Request,
    _key: Annotated[ApiKey, Depends(require(Role.READ))],
    start: Time = None,
    end: Time = None,
    module: Modules = [],  # noqa: B006
    severity: Severities = [],  # noqa: B006
    min_severity: MinSeverity = None,
    min_strength: Annotated[float | None, Query(ge=0)] = None,
    max_strength: Annotated[float | None, Query(ge=0)] = None,
    anomaly_type: AnomalyTypes = [],  # noqa: B006
    sort_order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    page: Page = 1,
    per_page: PerPage = 50,
) -> WireJSON:
    _check_paging(request, page, per_page)
    low, high = _range(start, end)
    modules = _enum_values("module", module, SourceModule)
    severities = _enum_values("severity", severity, ImpactSeverity)
    floor = None
    if min_severity is not None:
        floor = _one_value("min_severity", min_severity, ImpactSeverity)
    types = _enum_values("anomaly_type", anomaly_type, AnomalyType)
    _score_band("strength", min_strength, max_strength)
    filtered = bool(modules or severities or floor or types) or (
        min_strength is not None or max_strength is not None
    )

    def parse(raw: bytes) -> AnomalyCorrelation | None:
        try:
            item = AnomalyCorrelation.from_wire(raw)
        except (ValueError, ValidationError) as exc:
            log.warning("skipping an unreadable stored correlation: %s", exc)
            return None
        impact = item.impact
        touched = {m.value for m in impact.affected_modules} | {
            a.source_module.value for a in item.anomalies
        }
        if modules and not modules & touched:
            return None
        if severities and impact.severity.value not in severities:
            return None
        if floor and not impact.severity.at_least(floor):
            return None
        if min_strength is not None and item.strength < min_strength:
            return None
        if max_strength is not None and item.strength > max_strength:
            return None
        if types and not types & {a.anomaly_type.value for a in item.anomalies}:
            return None
        return item

    items, total = await _page(
        request, "correlations", low, high, page, per_page, sort_order == "desc", parse, filtered
    )
    return _respond(request, items, total, page, per_page)
