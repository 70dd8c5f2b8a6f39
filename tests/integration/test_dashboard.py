"""The live dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

The real stack in an isolated topic prefix: AggregatedMetric messages (latency and TTFT
of two models, errors, costs, tokens, the health score), anomalies and a root-caused
correlation are produced to the prefixed topics, `hub sink` stores them in Redis, and
`hub api` serves the page. The browser must draw every chart from the API, show the
seeded incident, and then pick up a metric and an anomaly produced after it loaded,
through the server-sent-event streams. Chromium is installed by `make test`
(scripts/chromium.sh); without it this test fails, never skips.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from pipeline.models.correlation import AnomalyCorrelation, AnomalyEvent
from pipeline.models.metrics import (
    AggregatedMetric,
    GaugeValues,
    StatisticalMeasures,
    TimeWindow,
)
from pipeline.store.dashboards import default_dashboard
from pipeline.store.layout import StoreLayout
from tests.integration.harness import (
    ARTIFACTS,
    Worker,
    delete_topics_with_prefix,
    free_port,
    hub,
    isolated_env,
    produce_raw,
    run,
    wait_until,
)

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READ = "dash-read-key-0123456789abcdef"
ADMIN = "dash-admin-key-0123456789abcdef"
MODELS = ("gpt-4o", "claude-3-haiku")
MINUTES = 18
"""Seeded 1-minute windows: minutes 0..17 of a story that started 20 minutes ago."""
HEALTH = 87.5
LIVE_P95 = 4321.5
SCREENSHOT = ARTIFACTS / "dashboard.png"
TIMEOUT_MS = 20_000


def _stats(p95: float, count: int = 20) -> StatisticalMeasures:
    avg = p95 / 1.6
    return StatisticalMeasures(
        avg=avg,
        min=avg / 3,
        max=p95 * 1.3,
        p50=avg * 0.9,
        p95=p95,
        p99=p95 * 1.2,
        stddev=avg / 4,
        count=count,
        sum=avg * count,
    )


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _metric(name: str, start_ms: int, values: Any, **tags: str) -> AggregatedMetric:
    return AggregatedMetric(
        name=name,
        window=TimeWindow.one_minute,
        window_start=_dt(start_ms),
        window_end=_dt(start_ms + 60_000),
        values=values,
        tags={"environment": "it", **tags},
    )


def _anomaly(n: int, module: str, kind: str, metric: str, at_ms: int) -> AnomalyEvent:
    return AnomalyEvent(
        event_id=uuid.UUID(int=0xDA5B0000 + n),
        source_module=module,
        anomaly_type=kind,
        anomaly_score=0.95,
        baseline=100.0,
        observed=400.0 + n,
        deviation=300.0 + n,
        timestamp=_dt(at_ms),
        metric=metric,
    )


@dataclass
class Seed:
    base_ms: int
    metrics: list[AggregatedMetric]
    anomalies: list[AnomalyEvent]
    correlation: AnomalyCorrelation

    def ms(self, minute: int) -> int:
        return self.base_ms + minute * 60_000


def _seed(base_ms: int) -> Seed:
    metrics = []
    for minute in range(MINUTES):
        start = base_ms + minute * 60_000
        for i, model in enumerate(MODELS):
            tags = {"model_id": model, "region": "eu", "source_module": "llm-observatory"}
            latency = (1800.0 if i == 0 else 900.0) + 15 * minute
            metrics += [
                _metric("llm_latency.total_latency_ms", start, _stats(latency), **tags),
                _metric("llm_latency.ttft_ms", start, _stats(latency / 8), **tags),
                _metric(
                    "llm_errors.error_rate_percent", start, _stats(1.0 + i + minute / 10), **tags
                ),
                _metric("llm_token_usage.total_tokens", start, _stats(900.0 + 50 * i), **tags),
                _metric(
                    "cost_tokens.total_cost_usd",
                    start,
                    _stats(0.02 + 0.01 * i),
                    model_id=model,
                    currency="USD",
                    source_module="llm-cost-ops",
                ),
            ]
        metrics.append(
            _metric(
                "cost_api.total_cost_usd",
                start,
                _stats(0.05),
                provider="openai",
                source_module="llm-cost-ops",
            )
        )
        health = HEALTH if minute == MINUTES - 1 else 90.0 - minute / 4
        metrics.append(
            _metric(
                "hub_composite.system_health_score",
                start,
                GaugeValues(value=health, delta=None),
                source_module="llm-analytics-hub",
            )
        )
    at = base_ms + 12 * 60_000
    anomalies = [
        _anomaly(1, "llm-sentinel", "frequency_anomaly", "security_threats.count", at),
        _anomaly(2, "llm-observatory", "spike", "llm_latency.total_latency_ms.p95", at),
        _anomaly(3, "llm-observatory", "spike", "llm_errors.error_rate_percent.avg", at + 60_000),
    ]
    ids = [str(a.event_id) for a in anomalies]
    correlation = AnomalyCorrelation.model_validate(
        {
            "correlation_id": str(uuid.UUID(int=0xC0)),
            "anomalies": [orjson.loads(a.to_wire()) for a in anomalies],
            "strength": 0.87,
            "root_cause": {
                "root_event_id": ids[0],
                "confidence": 0.52,
                "causal_chain": [
                    {
                        "from_event_id": ids[0],
                        "to_event_id": ids[1],
                        "relationship": "direct_cause",
                        "strength": 0.92,
                        "time_delta_ms": 0,
                    },
                    {
                        "from_event_id": ids[1],
                        "to_event_id": ids[2],
                        "relationship": "indirect_cause",
                        "strength": 0.6,
                        "time_delta_ms": 60_000,
                    },
                ],
                "contributing_factors": ["prompt-injection campaign against gpt-4o"],
                "recommendations": [
                    "Block the attacking sources and enable prompt-injection filtering",
                ],
            },
            "impact": {"severity": "high", "affected_modules": ["llm-observatory", "llm-sentinel"]},
            "detected_at": _dt(base_ms + 14 * 60_000).isoformat().replace("+00:00", "Z"),
        }
    )
    return Seed(base_ms, metrics, anomalies, correlation)


@dataclass
class Stack:
    url: str
    port: int
    env: dict[str, str]
    seed: Seed
    bootstrap: str
    server: Worker
    redis: redis.Redis
    layout: StoreLayout

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def produce(self, topic: str, *values: bytes) -> None:
        """In a thread of its own: Playwright's sync API keeps an event loop on this one."""
        prefixed = self.env["HUB_TOPIC_PREFIX"] + topic
        messages = [(prefixed, v) for v in values]
        with ThreadPoolExecutor(1) as pool:
            pool.submit(lambda: run(produce_raw(self.bootstrap, messages))).result(60)


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    env = isolated_env(
        Path(tmp_path_factory.mktemp("dashboard")),
        HUB_REDIS_URL=redis_url,
        HUB_API_KEYS=f"{READ}:read,{ADMIN}:admin",
        HUB_API_HEARTBEAT_S="2",
    )
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    now_ms = int(time.time() * 1000)
    seed = _seed(now_ms - now_ms % 60_000 - 20 * 60_000)
    run(
        produce_raw(
            kafka_bootstrap,
            [
                *((prefix + "hub.metrics.1m", m.to_wire_bytes()) for m in seed.metrics),
                *((prefix + "hub.anomalies", a.to_wire_bytes()) for a in seed.anomalies),
                (prefix + "hub.correlations", seed.correlation.to_wire_bytes()),
            ],
        )
    )
    sink = Worker(env, "dashboard-sink", command=("sink",))
    port = free_port()
    server = Worker(env, "dashboard-api", command=("api", "--port", str(port)))
    client = redis.Redis.from_url(redis_url)
    layout = StoreLayout(prefix)
    url = f"http://127.0.0.1:{port}"
    stack = Stack(url, port, env, seed, kafka_bootstrap, server, client, layout)

    def stored() -> bool:
        points = sum(client.hlen(k) for k in client.scan_iter(f"{layout.prefix}pts:*"))
        return (
            points == len(seed.metrics)
            and client.zcard(layout.events("anomalies")) == len(seed.anomalies)
            and client.zcard(layout.events("correlations")) == 1
        )

    try:
        wait_until(stored, 45, "the sink did not store the seeded data", sink)
        wait_until(stack.healthy, 30, "hub api did not answer /health", server)
        yield stack
    finally:
        stack.server.stop()
        sink.stop()
        for key in client.scan_iter(f"{layout.prefix}*"):
            client.delete(key)
        client.close()
        asyncio.run(delete_topics_with_prefix(kafka_bootstrap, prefix, env["HUB_APP_ID"]))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the dashboard test drives a real "
            "browser. 'make test' installs it (scripts/chromium.sh: apt-get install -y "
            "chromium, as root); or run 'sudo bash scripts/chromium.sh' yourself."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "Playwright for Python is missing: 'make test' (or 'make setup') installs the dev "
            "extras into .venv; it uses Debian's Chromium, never 'playwright install'."
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class PageWatch:
    """What the page did: its JavaScript errors and every URL it requested, with headers."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("request", lambda req: self.requests.append((req.url, req.headers)))


def _open(browser: Any, url: str) -> tuple[Any, Any, PageWatch]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch = PageWatch(page)
    page.goto(url)
    page.wait_for_selector("body[data-loaded='true']")
    return context, page, watch


def _legend(page: Any, widget: str) -> set[str]:
    items = page.locator(f"#w-{widget} .legend li")
    return {items.nth(i).get_attribute("data-series") for i in range(items.count())}


def test_dashboard_draws_every_widget_and_updates_live(stack: Stack, browser: Any) -> None:
    seed = stack.seed
    context, page, watch = _open(browser, f"{stack.url}/dashboard#key={READ}")
    try:
        assert READ not in page.url, "the key must leave the address bar"
        for widget in ("latency_p95", "ttft_p95", "error_rate"):
            assert page.locator(f"#w-{widget} circle.pt").count() == len(MODELS) * MINUTES
            assert page.locator(f"#w-{widget} path.series-line").count() == len(MODELS)
            assert _legend(page, widget) == set(MODELS), widget
        assert page.locator("#w-tokens rect.bar").count() == len(MODELS) * MINUTES
        assert _legend(page, "tokens") == set(MODELS)
        assert page.locator("#w-cost rect.bar").count() == 2 * MINUTES
        assert _legend(page, "cost") == {"tokens", "API calls"}
        newest = page.locator(
            f"#w-latency_p95 circle[data-series='gpt-4o'][data-t='{seed.ms(MINUTES - 1)}']"
        )
        assert float(newest.get_attribute("data-value")) == 1800.0 + 15 * (MINUTES - 1)
        assert (
            float(page.locator("#w-health path.gauge-value").get_attribute("data-value")) == HEALTH
        )

        threat = str(seed.anomalies[0].event_id)
        assert page.locator("#w-anomalies circle.anomaly").count() == len(seed.anomalies)
        assert page.locator(f"#w-anomalies circle.anomaly[data-id='{threat}']").count() == 1
        assert "security_threats.count" in page.locator("#w-anomalies .anomaly-list").inner_text()

        incident = page.locator("#w-incident")
        assert incident.locator("g.node").count() == len(seed.anomalies)
        assert incident.locator("g.node.root").get_attribute("data-id") == threat
        assert incident.locator("path.edge").count() == 2
        root = incident.locator(".root-cause").inner_text()
        assert "security_threats.count" in root and "llm-sentinel" in root and "0.52" in root
        assert "Block the attacking sources" in incident.locator(".recommendations").inner_text()

        # Live: a metric and an alert produced after the page loaded reach it by SSE.
        page.wait_for_selector("body[data-metrics-stream='open'][data-anomalies-stream='open']")
        now_ms = int(time.time() * 1000)
        minute = now_ms - now_ms % 60_000
        tags = {"model_id": "gpt-4o", "region": "eu", "source_module": "llm-observatory"}
        live = _metric("llm_latency.total_latency_ms", minute, _stats(LIVE_P95), **tags)
        alert = _anomaly(9, "llm-cost-ops", "drop", "cost_api.total_cost_usd.sum", now_ms)
        stack.produce("hub.metrics.1m", live.to_wire_bytes())
        stack.produce("hub.anomalies", alert.to_wire_bytes())
        page.wait_for_selector(
            f"#w-latency_p95 circle[data-series='gpt-4o'][data-value='{LIVE_P95}']"
        )
        page.wait_for_selector(f"#w-anomalies .anomaly-list li.live[data-id='{alert.event_id}']")
        assert int(page.locator("body").get_attribute("data-live-updates")) >= 1
        # ... and after the re-query the stored window replaces the live one (same value).
        page.wait_for_selector(
            f"#w-latency_p95 circle.pt:not(.live)[data-series='gpt-4o'][data-value='{LIVE_P95}']"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        assert watch.errors == [], watch.errors
        api_calls = [(u, hd) for u, hd in watch.requests if "/api/v1/" in u]
        assert api_calls and all(hd.get("x-api-key") == READ for _, hd in api_calls)
        assert not [u for u, _ in watch.requests if READ in u], "the key must never be in a URL"
        assert READ not in stack.server.log_path.read_text(errors="replace")
    finally:
        context.close()
    assert SCREENSHOT.stat().st_size > 10_000


def test_users_define_their_own_dashboards(stack: Stack, browser: Any) -> None:
    api = httpx.Client(base_url=stack.url, timeout=10)
    admin, read = {"X-API-Key": ADMIN}, {"X-API-Key": READ}
    mine = {
        "dashboard_id": "team-a",
        "name": "Team A latency",
        "layout": {"columns": 12},
        "widgets": [
            {
                "id": "slowest",
                "title": "Slowest p99",
                "type": "stat",
                "span": 4,
                "query": {
                    "metric": "llm_latency.total_latency_ms",
                    "fields": "p99",
                    "aggregate": "max",
                    "group_by": "model_id",
                    "resolution": "1m",
                },
            },
            {
                "id": "alerts",
                "title": "Alerts",
                "type": "timeline",
                "span": 8,
                "source": "anomalies",
            },
        ],
        "refresh_interval": 10,
        "default_time_range": "30m",
        "visibility": {"public": False},
    }
    try:
        body = orjson.dumps(mine)
        assert api.put("/api/v1/dashboards/team-a", content=body, headers=read).status_code == 403
        created = api.put("/api/v1/dashboards/team-a", content=body, headers=admin)
        assert created.status_code == 201, created.text
        assert api.put("/api/v1/dashboards/team-a", content=body, headers=admin).status_code == 200
        stored = stack.redis.hget(stack.layout.dashboards(), "team-a")
        assert stored is not None and orjson.loads(stored)["name"] == "Team A latency"
        got = api.get("/api/v1/dashboards/team-a", headers=read).json()["data"]
        assert got["widgets"][0]["query"]["fields"] == "p99" and got["default_time_range"] == "30m"
        listed = [
            d["dashboard_id"] for d in api.get("/api/v1/dashboards", headers=read).json()["data"]
        ]
        assert listed == ["default", "team-a"]

        context, page, watch = _open(browser, f"{stack.url}/dashboard?id=team-a#key={READ}")
        try:
            assert page.locator("#title").inner_text() == "Team A latency"
            assert page.locator("section.widget").count() == 2
            values = page.locator("#w-slowest .stat")
            assert {
                values.nth(i).get_attribute("data-series") for i in range(values.count())
            } == set(MODELS)
            assert page.locator("#w-anomalies").count() == 0
            assert page.locator("#w-alerts circle.anomaly").count() >= len(stack.seed.anomalies)
            assert watch.errors == []
        finally:
            context.close()

        deleted = api.delete("/api/v1/dashboards/team-a", headers=admin)
        assert deleted.status_code == 200, deleted.text
        assert api.get("/api/v1/dashboards/team-a", headers=read).status_code == 404
        kept = api.delete("/api/v1/dashboards/default", headers=admin)
        assert kept.status_code == 409 and "PUT" in kept.json()["error"]["message"]
        builtin = api.get("/api/v1/dashboards/default?builtin=true", headers=read)
        assert builtin.json()["data"] == default_dashboard().to_wire_obj()
    finally:
        stack.redis.hdel(stack.layout.dashboards(), "team-a")
        api.close()


def test_without_a_key_the_page_asks_for_one(stack: Stack, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{stack.url}/dashboard")
        page.wait_for_selector("#key-form:not([hidden])")
        page.fill("#key-input", "wrong-key-0123456789abcdef")
        page.click("#key-form button")
        page.wait_for_selector("#key-form:not([hidden]) #key-message:has-text('matches no')")
        page.fill("#key-input", READ)
        page.click("#key-form button")
        page.wait_for_selector("body[data-loaded='true']")
        assert page.locator("#w-latency_p95 circle.pt").count() > 0
    finally:
        context.close()


def test_streams_resume_with_last_event_id_after_a_drop(stack: Stack, browser: Any) -> None:
    """A metric published while the API was down arrives once the page reconnects: the
    page resumed the stream from its last SSE id instead of starting at the live end."""
    context, page, watch = _open(browser, f"{stack.url}/dashboard#key={READ}")
    try:
        page.wait_for_selector("body[data-metrics-stream='open'][data-metrics-resumable='true']")
        stack.server.stop(signal.SIGKILL)  # as a crash would: the open streams drop
        page.wait_for_selector("body[data-metrics-stream='reconnecting']")
        now_ms = int(time.time() * 1000)
        tags = {"model_id": "mistral-large", "region": "eu", "source_module": "llm-observatory"}
        missed = _metric("llm_latency.ttft_ms", now_ms - now_ms % 60_000, _stats(555.5), **tags)
        stack.produce("hub.metrics.1m", missed.to_wire_bytes())
        stack.server = Worker(
            stack.env, "dashboard-api-2", command=("api", "--port", str(stack.port))
        )
        wait_until(stack.healthy, 30, "the restarted hub api did not answer /health", stack.server)
        page.wait_for_selector(
            "#w-ttft_p95 circle.pt[data-series='mistral-large'][data-value='555.5']"
        )
        # Only the stream counts live updates, and only a resumed stream has this metric.
        page.wait_for_function("Number(document.body.dataset.liveUpdates) >= 1")
        resumed = [
            headers["last-event-id"]
            for url, headers in watch.requests
            if "/api/v1/stream/metrics" in url and "last-event-id" in headers
        ]
        assert resumed and all(re.fullmatch(r"\d+:(\d+=\d+,?)+", c) for c in resumed), resumed
        assert watch.errors == []
    finally:
        context.close()
