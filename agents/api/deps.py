"""The per-route guard: a valid key (401), the right role (403), within its rate (429)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from agents.api.auth import ApiKey, Role
from agents.api.errors import ApiProblem
from agents.api.state import HubState

_API_KEY = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key (or send it as a Bearer token)"
)
_BEARER = HTTPBearer(auto_error=False, description="An API key as a Bearer token")


def hub_state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


def require(role: Role) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that admits keys with ``role`` (or admin) and takes a rate-limit token."""

    async def guard(
        request: Request,
        api_key: Annotated[str | None, Security(_API_KEY)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> ApiKey:
        hub = hub_state(request)
        auth = hub.auth
        presented = api_key or (bearer.credentials if bearer is not None else None)
        if auth.open_access:
            client = request.client.host if request.client else "unknown"
            principal = auth.anonymous(client)
        elif not presented:
            raise ApiProblem(
                401,
                "this endpoint needs an API key: send 'Authorization: Bearer <key>' or "
                "'X-API-Key: <key>' (keys are configured with HUB_API_KEYS; see docs/API.md)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            found = auth.identify(presented)
            if found is None:
                raise ApiProblem(
                    401,
                    "the API key matches no configured key: check it for typos or "
                    "whitespace, or ask the hub's admin for a key",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            principal = found
        request.state.key_id = principal.key_id
        wait = auth.throttle(principal)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise ApiProblem(
                429,
                f"rate limit of key {principal.key_id} reached ({principal.rate_per_s:g} "
                f"requests/s, burst {principal.burst}); retry after {retry} s, or batch "
                "events with POST /api/v1/events/batch",
                headers={"Retry-After": str(retry)},
                context={"rate_per_s": principal.rate_per_s, "burst": principal.burst},
            )
        if not principal.allows(role):
            held = "+".join(sorted(r.value for r in principal.roles))
            raise ApiProblem(
                403,
                f"key {principal.key_id} has role(s) {held}; this endpoint needs "
                f"'{role.value}' (or 'admin'): use a key with that role",
            )
        return principal

    return guard
