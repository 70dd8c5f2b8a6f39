"""The FastAPI app: state, error handlers, routes, and OpenAPI with the spec's models."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from agents.api import errors
from agents.api.auth import Authenticator, KeyConfigError, load_keys
from agents.api.routes import (
    dashboard,
    health,
    incidents,
    ingest,
    metadata,
    prometheus,
    query,
    stream,
)
from agents.api.state import ApiLimits, EventPublisher, HubState, KafkaUnavailable
from agents.runtime.settings import Settings, load_settings
from agents.runtime.store import MetricStore
from pipeline.models.correlation import AnomalyCorrelation
from pipeline.models.events import AnalyticsEvent
from pipeline.models.metadata import (
    AssetMetadata,
    DashboardConfig,
    PolicyDefinition,
    UserPreferences,
)
from pipeline.models.metrics import AggregatedMetric
from pipeline.wire.topics import Catalogue, load_catalogue

log = logging.getLogger("hub.api")

DESCRIPTION = """\
HTTP API of the LLM Analytics Hub: time-series queries over the stored windows, anomalies
and correlations, event ingest, live streams (server-sent events), Prometheus metrics, and
dashboard configs with the live dashboard page at `/dashboard`.

Every response is the spec's `ApiResponse` (or `PaginatedResponse`) in its wire format;
every error carries an `ApiError` whose message says what to change. Send an API key as
`Authorization: Bearer <key>` or `X-API-Key: <key>`; `/health`, `/ready`, `/docs`,
`/openapi.json` and the `/dashboard` page need none. See docs/API.md.
"""


class AuthConfigError(SystemExit):
    """The key configuration cannot start a safe server; the message says what to change."""


def build_auth(host: str, insecure_no_auth: bool) -> Authenticator:
    """Keys from the environment; without keys only ``--insecure-no-auth`` on loopback starts."""
    try:
        keys, rate, burst = load_keys()
    except KeyConfigError as exc:
        raise AuthConfigError(f"hub api: {exc}") from None
    if keys and insecure_no_auth:
        raise AuthConfigError(
            "hub api: --insecure-no-auth and configured keys exclude each other; "
            "drop the flag (keys are in HUB_API_KEYS / HUB_API_KEYS_FILE)"
        )
    if not keys and not insecure_no_auth:
        raise AuthConfigError(
            "hub api: no API keys configured, and the API does not run open by default. "
            "Set HUB_API_KEYS='<key>:read+ingest' (or HUB_API_KEYS_FILE), or, for a local "
            "trial only, add --insecure-no-auth (loopback addresses only). See docs/API.md."
        )
    if insecure_no_auth and not _loopback(host):
        raise AuthConfigError(
            f"hub api: --insecure-no-auth only binds to loopback (127.0.0.1, ::1, localhost), "
            f"not {host!r}: configure API keys to serve other hosts"
        )
    return Authenticator(keys, open_access=insecure_no_auth, default_rate=rate, default_burst=burst)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(
    settings: Settings | None = None,
    catalogue: Catalogue | None = None,
    auth: Authenticator | None = None,
    limits: ApiLimits | None = None,
) -> FastAPI:
    settings = settings or load_settings()
    catalogue = catalogue or load_catalogue(prefix=settings.topic_prefix, app_id=settings.app_id)
    state = HubState(
        settings=settings,
        catalogue=catalogue,
        auth=auth or Authenticator([]),
        limits=limits or ApiLimits.from_env(settings),
        store=MetricStore(settings.redis_url, settings.topic_prefix),
        publisher=EventPublisher(settings, catalogue),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await state.publisher.producer()
        except KafkaUnavailable as exc:  # /ready says so; ingest retries on each request
            log.warning("%s", exc)
        try:
            yield
        finally:
            await prometheus.close(state)
            await state.publisher.close()
            await state.store.close()

    app = FastAPI(
        title="LLM Analytics Hub API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.hub = state
    errors.install(app)
    app.add_middleware(errors.RequestContext)
    for module in (health, query, incidents, ingest, stream, prometheus, dashboard, metadata):
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


BODY_MODELS = (AssetMetadata, PolicyDefinition, UserPreferences, DashboardConfig)
"""Bodies the routes read by hand (the wire codec), named in their ``openapi_extra``."""


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the wire models the routes read by hand."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    _, extra = models_json_schema(
        [
            (AnalyticsEvent, "validation"),
            *((model, "validation") for model in BODY_MODELS),
            (AggregatedMetric, "serialization"),
            (AnomalyCorrelation, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in extra.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    _require_discriminators(schemas)
    _drop_fastapi_422(doc)
    app.openapi_schema = doc
    return doc


def _require_discriminators(schemas: dict[str, Any]) -> None:
    """A discriminated union needs its tag: the wire models give it a default (the Python
    constructor fills it in), but a JSON document without it cannot be told apart, and the
    validator refuses it; so each variant's schema requires it."""
    for schema in list(schemas.values()):
        for node in _walk(schema):
            discriminator = node.get("discriminator")
            if not isinstance(discriminator, dict):
                continue
            tag = discriminator.get("propertyName")
            for ref in (discriminator.get("mapping") or {}).values():
                variant = schemas.get(str(ref).rsplit("/", 1)[-1])
                if variant is not None and tag not in variant.setdefault("required", []):
                    variant["required"].append(tag)


def _drop_fastapi_422(doc: dict[str, Any]) -> None:
    """FastAPI documents a 422 with its own body on every operation with parameters; the hub
    answers malformed parameters with a 400 ApiResponse (agents/api/errors.py) and uses 422
    only where a route declares it (parameters valid alone that contradict each other)."""
    for operation in (op for path in doc.get("paths", {}).values() for op in path.values()):
        response = operation.get("responses", {}).get("422")
        if response and "HTTPValidationError" in str(response):
            del operation["responses"]["422"]
    components = doc.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in str(doc.get("paths")):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
