"""One error shape for every failure: the spec's ``ApiResponse`` with an ``ApiError`` (§9.1, §9.3).

FastAPI's own errors (validation, unknown route, wrong method) and unexpected
exceptions are turned into the same shape, with a message that says what to change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.models.api import (
    ApiError,
    ApiResponse,
    ErrorDetails,
    ResponseMetadata,
    ResponseStatus,
)
from pipeline.models.base import WireModel
from pipeline.store.query import QueryConflict, QueryError

log = logging.getLogger("hub.api")

CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}
"""The spec's standard codes (400, 401, 403, 404, 500) and ours for the other statuses."""

DOCS = "/docs"


class WireJSON(JSONResponse):
    """A wire model written by the project's own encoder (spec key order and float layout)."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, WireModel):
            return content.to_wire_bytes()
        if isinstance(content, bytes):
            return content
        raise TypeError(f"WireJSON needs a wire model, not {type(content).__name__}")


class ApiProblem(Exception):
    """Raise anywhere in a route: becomes an error response of ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        field_errors: Mapping[str, Sequence[str]] | None = None,
        suggestions: Sequence[str] | None = None,
        context: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "error")
        self.field_errors = {k: list(v) for k, v in (field_errors or {}).items()}
        self.suggestions = list(suggestions or [])
        self.context = dict(context or {})
        self.headers = dict(headers or {})


def request_id(request: Request) -> UUID:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = uuid4()
    return rid


def meta(request: Request, **extra: Any) -> ResponseMetadata:
    """Response metadata: this request's id, the time, and how long it took so far."""
    started = getattr(request.state, "started", None)
    elapsed = None if started is None else int((time.perf_counter() - started) * 1000)
    return ResponseMetadata(
        request_id=request_id(request),
        timestamp=datetime.now(UTC),
        api_version="1.0.0",
        response_time_ms=elapsed,
        **{k: v for k, v in extra.items() if v is not None},
    )


def error_body(request: Request, problem: ApiProblem) -> ApiResponse:
    details = None
    if problem.suggestions or problem.context:
        details = ErrorDetails(
            suggestions=problem.suggestions or None,
            context=problem.context or None,
            documentation_url=DOCS,
        )
    error = ApiError(
        code=problem.code,
        message=problem.message,
        status_code=problem.status,
        details=details,
        field_errors=problem.field_errors or None,
        timestamp=datetime.now(UTC),
    )
    return ApiResponse(status=ResponseStatus.ERROR, error=error, meta=meta(request))


def error_response(request: Request, problem: ApiProblem) -> WireJSON:
    return WireJSON(error_body(request, problem), problem.status, headers=problem.headers)


def _validation_path(loc: Sequence[Any]) -> tuple[str, str]:
    """(where, dotted path) of a FastAPI error location such as ``("query", "per_page")``."""
    where = str(loc[0]) if loc else "request"
    parts = (
        [str(p) for p in loc[1:]]
        if where in ("query", "path", "header", "body")
        else list(map(str, loc))
    )
    return where, ".".join(parts) or "<document>"


def validation_problem(exc: RequestValidationError) -> ApiProblem:
    field_errors: dict[str, list[str]] = {}
    places = set()
    for error in exc.errors():
        where, path = _validation_path(error.get("loc", ()))
        places.add(where)
        reason = str(error.get("msg", "invalid"))
        if "input" in error and error.get("type") != "missing":
            reason = f"{reason} (got {error['input']!r})"[:300]
        field_errors.setdefault(path, []).append(reason)
    names = ", ".join(sorted(field_errors))
    noun = "query parameter" if places == {"query"} else "field"
    return ApiProblem(
        400,
        f"invalid {noun}(s) {names}: fix what field_errors says and send the request again",
        field_errors=field_errors,
    )


def allowed_methods(request: Request) -> list[str]:
    """The methods of every route whose path matches the request's (Starlette's 405 names
    only the first route's, while GET, PUT and DELETE of one path are separate routes)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is Match.NONE:
            continue
        methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers that make every error an ``ApiResponse`` with an ``ApiError``."""

    @app.exception_handler(ApiProblem)
    async def _problem(request: Request, exc: ApiProblem) -> Response:
        return error_response(request, exc)

    @app.exception_handler(QueryError)
    async def _query(request: Request, exc: QueryError) -> Response:
        status = 422 if isinstance(exc, QueryConflict) else 400  # valid alone, not together
        return error_response(
            request, ApiProblem(status, exc.message, field_errors={exc.param: [exc.message]})
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        if status == 404:
            message = (
                f"no endpoint {request.url.path}; the endpoints are listed at "
                f"{DOCS} and /openapi.json"
            )
        elif status == 405:
            message = (
                f"{request.method} is not allowed on {request.url.path}; "
                f"see {DOCS} for the methods it takes"
            )
        else:
            message = str(exc.detail)
        headers = dict(exc.headers or {})
        if status == 405:  # every route of the path, not only the first one that matched
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(request, ApiProblem(status, message, headers=headers))

    @app.exception_handler(redis.RedisError)
    async def _redis(request: Request, exc: redis.RedisError) -> Response:
        settings = request.app.state.hub.settings
        log.warning("request %s: Redis error: %s", request_id(request), exc)
        return error_response(
            request,
            ApiProblem(
                503,
                f"the store (Redis at {settings.redis_url}) is unreachable or failing "
                f"({type(exc).__name__}); check 'hub infra status' and retry",
                headers={"Retry-After": "5"},
            ),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        rid = request_id(request)
        log.exception("request %s %s %s failed", rid, request.method, request.url.path)
        return error_response(
            request,
            ApiProblem(
                500,
                f"unexpected server error (request id {rid}); the server log has the details "
                "under that id: report it with the request you sent",
                headers={"X-Request-Id": str(rid)},  # this handler runs outside RequestContext
            ),
        )


class RequestContext:
    """Pure ASGI middleware: a request id and start time per request, echoed as X-Request-Id.

    (Not ``BaseHTTPMiddleware``, which would buffer the server-sent-event streams.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid4()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        state["started"] = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", str(rid).encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
