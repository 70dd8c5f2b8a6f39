"""Liveness (the process answers) and readiness (Redis answers PING, Kafka answers metadata)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request

from agents.api import schemas
from agents.api.deps import hub_state
from agents.api.errors import ApiProblem, WireJSON, meta
from agents.api.state import KafkaUnavailable
from pipeline.models.api import ApiResponse, ResponseStatus

router = APIRouter(tags=["health"])

VERSION = "0.1.0"


@router.get(
    "/health",
    summary="The process is up (no key needed)",
    response_class=WireJSON,
    responses={200: {"model": schemas.HealthResponse}},
)
async def health(request: Request) -> WireJSON:
    hub = hub_state(request)
    data = {"status": "up", "version": VERSION, "uptime_s": round(time.time() - hub.started_at, 1)}
    return WireJSON(ApiResponse(status=ResponseStatus.SUCCESS, data=data, meta=meta(request)))


async def _redis_check(request: Request) -> dict[str, Any]:
    hub = hub_state(request)
    started = time.perf_counter()
    try:
        await asyncio.wait_for(hub.store.redis.ping(), 3.0)
    except Exception as exc:
        return {
            "ok": False,
            "error": f"Redis at {hub.settings.redis_url} does not answer PING "
            f"({type(exc).__name__}); start it with 'hub infra up redis' or fix HUB_REDIS_URL",
        }
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


async def _kafka_check(request: Request) -> dict[str, Any]:
    hub = hub_state(request)
    try:
        result = await hub.publisher.check()
    except KafkaUnavailable as exc:
        return {"ok": False, "error": str(exc)}
    if result["missing_topics"]:
        result["error"] = (
            f"{len(result['missing_topics'])} input topic(s) missing, e.g. "
            f"{result['missing_topics'][0]}: run 'hub topics apply'"
        )
    return result


@router.get(
    "/ready",
    summary="Redis and Kafka are reachable (no key needed); 503 otherwise",
    response_class=WireJSON,
    responses={200: {"model": schemas.HealthResponse}, 503: {"model": schemas.ErrorResponse}},
)
async def ready(request: Request) -> WireJSON:
    redis_check, kafka_check = await asyncio.gather(_redis_check(request), _kafka_check(request))
    checks = {"redis": redis_check, "kafka": kafka_check}
    failing = [name for name, check in checks.items() if not check["ok"]]
    if failing:
        reasons = "; ".join(str(checks[name].get("error", name)) for name in failing)
        raise ApiProblem(
            503,
            f"not ready: {reasons}",
            context=checks,
            headers={"Retry-After": "5"},
        )
    data = {"status": "ready", "checks": checks}
    return WireJSON(ApiResponse(status=ResponseStatus.SUCCESS, data=data, meta=meta(request)))
