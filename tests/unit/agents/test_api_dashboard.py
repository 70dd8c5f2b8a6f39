"""The dashboard page and its assets are served without a key, under a strict CSP, from the
installed package; config writes need the admin role and a config the page can draw.

In-process through httpx's ASGI transport (no lifespan: nothing connects to Kafka or
Redis, so only requests answered before the store is touched are tested here; the
stored round trip is in tests/integration/test_dashboard.py)."""

from __future__ import annotations

import httpx
import orjson
import pytest
from fastapi import FastAPI

from agents.api.app import create_app
from agents.api.auth import Authenticator, parse_keys_env
from agents.api.routes.dashboard import ASSETS, STATIC_DIR
from pipeline.store.dashboards import default_dashboard

READ = "read-key-0123456789abcdef"
ADMIN = "admin-key-0123456789abcdef"


@pytest.fixture
def app() -> FastAPI:
    return create_app(auth=Authenticator(parse_keys_env(f"{READ}:read,{ADMIN}:admin")))


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://api")


async def test_page_and_assets_need_no_key_and_forbid_foreign_scripts(app: FastAPI) -> None:
    async with _client(app) as client:
        page = await client.get("/dashboard", params={"id": "default"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert page.headers["referrer-policy"] == "no-referrer"
        assert '<script src="/dashboard/static/dashboard.js"' in page.text
        for name, media_type in ASSETS.items():
            asset = await client.get(f"/dashboard/static/{name}")
            assert asset.status_code == 200, name
            assert asset.headers["content-type"] == media_type
            assert asset.content == (STATIC_DIR / name).read_bytes()
        missing = await client.get("/dashboard/static/..%2Fapp.py")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_page_never_loads_anything_from_elsewhere() -> None:
    for name in ("dashboard.html", *ASSETS):
        text = (STATIC_DIR / name).read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text and "//cdn" not in text


async def test_configs_need_a_key_and_writes_need_admin(app: FastAPI) -> None:
    body = default_dashboard().to_wire_bytes()
    async with _client(app) as client:
        assert (await client.get("/api/v1/dashboards/default")).status_code == 401
        put = await client.put(
            "/api/v1/dashboards/default", content=body, headers={"X-API-Key": READ}
        )
        assert put.status_code == 403 and "'admin'" in put.json()["error"]["message"]
        delete = await client.delete("/api/v1/dashboards/x", headers={"X-API-Key": READ})
        assert delete.status_code == 403


@pytest.mark.parametrize(
    "path, body, field, status",
    [  # 400: not what the OpenAPI document describes; 422: valid alone, not together
        ("/api/v1/dashboards/other", None, "dashboard_id", 422),
        ("/api/v1/dashboards/default", b'{"dashboard_id": "default"', "<document>", 400),
        ("/api/v1/dashboards/default", b'{"dashboard_id": "default"}', "name", 400),
        ("/api/v1/dashboards/bad%20id", None, "dashboard_id", 400),
        ("/api/v1/dashboards/default", "range", "default_time_range", 422),
    ],
)
async def test_bad_configs_are_refused_with_the_field_to_fix(
    app: FastAPI, path: str, body: bytes | str | None, field: str, status: int
) -> None:
    doc = default_dashboard().to_wire_obj()
    if body == "range":
        doc["default_time_range"] = "forever"
    content = body if isinstance(body, bytes) else orjson.dumps(doc)
    async with _client(app) as client:
        response = await client.put(path, content=content, headers={"X-API-Key": ADMIN})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    code = "bad_request" if status == 400 else "unprocessable"
    assert error["code"] == code and field in error["field_errors"], error
