"""Every failure of the API has the spec's error shape, FastAPI's own errors included.

In-process through httpx's ASGI transport (no lifespan: nothing connects to Kafka or Redis)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from agents.api.app import create_app
from agents.api.auth import Authenticator


@pytest.fixture
def app() -> FastAPI:
    app = create_app(auth=Authenticator([], open_access=True))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://api")


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"status", "error", "meta"} and body["status"] == "error"
    assert body["error"]["code"] == code and body["error"]["status_code"] == status
    assert response.headers["x-request-id"] == body["meta"]["request_id"]
    return body["error"]


async def test_unexpected_errors_are_500_with_the_request_id(app: FastAPI) -> None:
    async with _client(app) as client:
        error = _error(await client.get("/boom"), 500, "internal_error")
    assert "secret internals" not in error["message"] and "request id" in error["message"]


async def test_framework_errors_have_the_same_shape(app: FastAPI) -> None:
    async with _client(app) as client:
        response = await client.get("/api/v1/query", params={"metric": "m", "limit": "many"})
        error = _error(response, 400, "bad_request")
        assert list(error["field_errors"]) == ["limit"]
        assert "fix what field_errors says" in error["message"]
        _error(await client.get("/nowhere"), 404, "not_found")
        _error(await client.put("/api/v1/anomalies"), 405, "method_not_allowed")
        response = await client.get("/api/v1/anomalies", params={"page": 0})
        error = _error(response, 400, "bad_request")
        (reason,) = error["field_errors"]["page"]
        assert reason.startswith("page counts from 1 to 1000000 (got 0)")
        response = await client.get("/api/v1/anomalies", params={"page": 10**15})
        assert "(got 1000000000000000)" in _error(response, 400, "bad_request")["message"]
