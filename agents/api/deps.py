"""The per-route guard: a valid key (401), the right role (403), within its rate (429)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from agents.api.auth import ApiKey, Authenticator, Role
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
        token = bearer.credentials if bearer is not None else None
        if auth.open_access:
            client = request.client.host if request.client else "unknown"
            principal = auth.anonymous(client)
        else:
            principal = _identify(auth, api_key or token, token, request)
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


def _unauthorized(message: str) -> ApiProblem:
    return ApiProblem(401, message, headers={"WWW-Authenticate": "Bearer"})


def _identify(
    auth: Authenticator, presented: str | None, token: str | None, request: Request
) -> ApiKey:
    """The key a request presents, in either header; a malformed Authorization header or
    two headers that disagree (one of them empty or wrong) are refused, never resolved by
    picking one."""
    authorization = request.headers.get("Authorization")
    if authorization is not None and token is None:
        raise _unauthorized(
            "the Authorization header must be 'Bearer <key>' (or send the key as "
            "'X-API-Key: <key>' without an Authorization header)"
        )
    raw_key = request.headers.get("X-API-Key")
    if raw_key is not None and authorization is not None and raw_key != token:
        raise _unauthorized(
            "the request carries two different credentials (X-API-Key and "
            "Authorization: Bearer); send one key, in either header"
        )
    if not presented:
        raise _unauthorized(
            "this endpoint needs an API key: send 'Authorization: Bearer <key>' or "
            "'X-API-Key: <key>' (keys are configured with HUB_API_KEYS; see docs/API.md)"
        )
    found = auth.identify(presented)
    if found is None:
        raise _unauthorized(
            "the API key matches no configured key: check it for typos or "
            "whitespace, or ask the hub's admin for a key"
        )
    return found
