"""The live dashboard page (``GET /dashboard``) and the dashboard configs it draws.

The page and its two static files need no key: they hold no data. The page reads the
key from the URL fragment (``#key=...``, which browsers never send to a server) or asks
for it, and sends it as ``X-API-Key`` on its own requests. Configs are the spec's
``DashboardConfig``: the built-in default (:mod:`pipeline.store.dashboards`) and the ones
admins ``PUT``, stored in Redis under the topic prefix (a stored ``default`` overrides
the built-in one until it is deleted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import ValidationError
from starlette.responses import FileResponse

from agents.api import schemas
from agents.api.auth import ApiKey, Role
from agents.api.deps import hub_state, require
from agents.api.errors import ApiProblem, WireJSON, meta
from agents.api.routes.ingest import read_body
from pipeline.models.api import ApiResponse, api_error_from_issues
from pipeline.models.api import ResponseStatus as Status
from pipeline.models.issues import issues_from_error, only_whole_floats_for_integers
from pipeline.models.metadata import DashboardConfig
from pipeline.store import dashboards
from pipeline.wire.json_codec import WireDecodeError, loads

router = APIRouter(tags=["dashboard"])

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
"""The only files served from STATIC_DIR (no directory listing, no path walking)."""
MAX_CONFIG_BYTES = 256 * 1024

PAGE_HEADERS = {
    # Everything the page loads or calls is on this origin; no inline script can run.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_ERRORS = {
    400: {"model": schemas.ErrorResponse},
    401: {"model": schemas.ErrorResponse},
    403: {"model": schemas.ErrorResponse},
    404: {"model": schemas.ErrorResponse},
    413: {"model": schemas.ErrorResponse},
    429: {"model": schemas.ErrorResponse},
}

DashboardId = Annotated[
    str,
    PathParam(
        description="dashboard id: letters, digits, '_', '-', '.' (at most 64)",
        pattern=f"^{dashboards.ID_PATTERN.pattern}$",
    ),
]


def _asset(name: str, media_type: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=PAGE_HEADERS)


@router.get("/dashboard", include_in_schema=False)
async def page() -> FileResponse:
    """The page itself (``?id=<dashboard>``; the key goes in ``#key=...``)."""
    return _asset("dashboard.html", "text/html; charset=utf-8")


@router.get("/dashboard/static/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise ApiProblem(404, f"no dashboard asset {name!r}")
    return _asset(name, media_type)


def _check_id(dashboard_id: str) -> None:
    if not dashboards.ID_PATTERN.fullmatch(dashboard_id):
        raise ApiProblem(
            400,
            f"dashboard id {dashboard_id!r}: use letters, digits, '_', '-', '.' (at most 64)",
            field_errors={"dashboard_id": ["invalid id"]},
        )


async def _stored(request: Request) -> dict[str, DashboardConfig]:
    store = hub_state(request).store
    raw = await store.redis.hgetall(store.layout.dashboards())
    return {k.decode(): DashboardConfig.from_wire(v) for k, v in raw.items()}


@router.get(
    "/api/v1/dashboards",
    summary="Dashboard configs: the built-in default and the stored ones",
    response_class=WireJSON,
    responses={200: {"model": schemas.DashboardListResponse}, **_ERRORS},
)
async def list_dashboards(
    request: Request, _key: Annotated[ApiKey, Depends(require(Role.READ))]
) -> WireJSON:
    found = {dashboards.DEFAULT_ID: dashboards.default_dashboard(), **await _stored(request)}
    ordered = sorted(found.values(), key=lambda d: (d.dashboard_id != "default", d.dashboard_id))
    return WireJSON(ApiResponse(status=Status.SUCCESS, data=ordered, meta=meta(request)))


@router.get(
    "/api/v1/dashboards/{dashboard_id}",
    summary="One dashboard config (DashboardConfig)",
    response_class=WireJSON,
    responses={200: {"model": schemas.DashboardResponse}, **_ERRORS},
)
async def get_dashboard(
    request: Request,
    dashboard_id: DashboardId,
    _key: Annotated[ApiKey, Depends(require(Role.READ))],
    builtin: Annotated[
        bool, Query(description="the built-in default, even when a stored one replaces it")
    ] = False,
) -> WireJSON:
    _check_id(dashboard_id)
    store = hub_state(request).store
    raw = None
    if not (builtin and dashboard_id == dashboards.DEFAULT_ID):
        raw = await store.redis.hget(store.layout.dashboards(), dashboard_id)
    if raw is not None:
        config = DashboardConfig.from_wire(raw)
    elif dashboard_id == dashboards.DEFAULT_ID:
        config = dashboards.default_dashboard()
    else:
        raise ApiProblem(
            404,
            f"no dashboard {dashboard_id!r}; GET /api/v1/dashboards lists them, and an admin "
            "key can create it with PUT /api/v1/dashboards/{id}",
        )
    return WireJSON(ApiResponse(status=Status.SUCCESS, data=config, meta=meta(request)))


def _parse(raw: bytes, dashboard_id: str) -> DashboardConfig:
    if not raw.strip():
        raise ApiProblem(400, "the request body is empty: send a DashboardConfig as JSON")
    document = None
    try:
        document = loads(raw)
        config = DashboardConfig.model_validate(document)
    except (WireDecodeError, ValidationError) as exc:
        issues = issues_from_error(exc, document)
        error = api_error_from_issues(issues, "")
        first = str(issues[0]) if issues else str(exc)
        raise ApiProblem(
            422 if only_whole_floats_for_integers(issues) else 400,
            f"not a DashboardConfig: {first}; fix the fields listed in field_errors",
            field_errors=error.field_errors,
        ) from None
    if config.dashboard_id != dashboard_id:
        raise ApiProblem(
            422,
            f"the body's dashboard_id {config.dashboard_id!r} differs from the path's "
            f"{dashboard_id!r}; make them equal",
            field_errors={"dashboard_id": ["must equal the id in the path"]},
        )
    found = dashboards.problems(config)
    if found:
        fields: dict[str, list[str]] = {}
        for problem in found:
            path, _, reason = problem.partition(": ")
            fields.setdefault(path, []).append(reason or problem)
        raise ApiProblem(
            422,
            f"the dashboard page cannot draw this config: {found[0]}"
            + (f" (and {len(found) - 1} more)" if len(found) > 1 else ""),
            field_errors=fields,
        )
    return config


@router.put(
    "/api/v1/dashboards/{dashboard_id}",
    summary="Create or replace a dashboard config (admin); 201 when new, 200 when replaced",
    response_class=WireJSON,
    responses={
        200: {"model": schemas.DashboardResponse},
        201: {"model": schemas.DashboardResponse},
        **_ERRORS,
        422: schemas.CONFLICT,
    },
    openapi_extra=schemas.json_body("DashboardConfig"),
)
async def put_dashboard(
    request: Request,
    dashboard_id: DashboardId,
    _key: Annotated[ApiKey, Depends(require(Role.ADMIN))],
) -> WireJSON:
    _check_id(dashboard_id)
    raw = await read_body(
        request, MAX_CONFIG_BYTES, "the dashboard config", "use fewer or smaller widgets"
    )
    config = _parse(raw, dashboard_id)
    store = hub_state(request).store
    created = await store.redis.hset(
        store.layout.dashboards(), dashboard_id, config.to_wire_bytes()
    )
    body = ApiResponse(status=Status.SUCCESS, data=config, meta=meta(request))
    return WireJSON(body, 201 if created else 200)


@router.delete(
    "/api/v1/dashboards/{dashboard_id}",
    summary="Delete a stored dashboard config (admin); 'default' cannot be deleted (409)",
    response_class=WireJSON,
    responses={**_ERRORS, 409: {"model": schemas.ErrorResponse}},
)
async def delete_dashboard(
    request: Request,
    dashboard_id: DashboardId,
    _key: Annotated[ApiKey, Depends(require(Role.ADMIN))],
) -> WireJSON:
    _check_id(dashboard_id)
    if dashboard_id == dashboards.DEFAULT_ID:  # a DELETE that left it readable would lie
        raise ApiProblem(
            409,
            "the default dashboard always exists (the page opens it): PUT "
            "/api/v1/dashboards/default replaces it; to restore the built-in config, PUT "
            "the one GET /api/v1/dashboards/default?builtin=true returns",
        )
    store = hub_state(request).store
    if not await store.redis.hdel(store.layout.dashboards(), dashboard_id):
        raise ApiProblem(404, f"no stored dashboard {dashboard_id!r}")
    data = {"dashboard_id": dashboard_id, "deleted": True}
    return WireJSON(ApiResponse(status=Status.SUCCESS, data=data, meta=meta(request)))
