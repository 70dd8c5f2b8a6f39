"""GET /metrics: Prometheus text exposition of the hub's health and the latest LLM metrics.

Hub health: Redis and Kafka reachability, consumer lag of the hub's groups (ingest,
aggregation, detection, sink, chains), messages held in the dead-letter and late-event
topics, anomalies and correlations stored. LLM metrics: the latest closed 1-minute
window of each series (if it closed within ``FRESH_S``), under OpenTelemetry GenAI
names where a convention exists (``gen_ai.client.operation.duration``,
``gen_ai.server.time_to_first_token``, ``gen_ai.client.token.usage``), else ``hub_llm_*``.
Window values are gauges (the window's statistics), not cumulative counters.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import APIRouter, Depends, Request
from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry
from starlette.responses import PlainTextResponse

from agents.api.auth import ApiKey, Role
from agents.api.deps import hub_state, require
from agents.api.state import HubState, topic_partitions
from agents.runtime import kafka_clients
from pipeline.models.metrics import TimeWindow

log = logging.getLogger("hub.api")
router = APIRouter(tags=["metrics"])

FRESH_S = 900
KAFKA_TIMEOUT_S = 5.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Family:
    """How one stored metric becomes Prometheus samples."""

    family: str
    help: str
    scale: float = 1.0
    labels: tuple[tuple[str, str], ...] = ()
    quantiles: bool = True


LLM_METRICS: dict[str, Family] = {
    "llm_latency.total_latency_ms": Family(
        "gen_ai_client_operation_duration_seconds",
        "GenAI operation duration (gen_ai.client.operation.duration) in the latest closed "
        "1-minute window",
        scale=0.001,
    ),
    "llm_latency.ttft_ms": Family(
        "gen_ai_server_time_to_first_token_seconds",
        "Time to first token (gen_ai.server.time_to_first_token) in the latest closed "
        "1-minute window",
        scale=0.001,
    ),
    "llm_token_usage.prompt_tokens": Family(
        "gen_ai_client_token_usage",
        "Tokens per operation (gen_ai.client.token.usage) in the latest closed 1-minute window",
        labels=(("gen_ai_token_type", "input"),),
    ),
    "llm_token_usage.completion_tokens": Family(
        "gen_ai_client_token_usage",
        "Tokens per operation (gen_ai.client.token.usage) in the latest closed 1-minute window",
        labels=(("gen_ai_token_type", "output"),),
    ),
    "llm_latency.tokens_per_second": Family(
        "hub_llm_output_tokens_per_second",
        "Output tokens per second in the latest closed 1-minute window (no GenAI convention)",
    ),
    "cost_tokens.total_cost_usd": Family(
        "hub_llm_cost_usd",
        "Token cost in USD per request in the latest closed 1-minute window",
    ),
    "llm_errors.error_rate_percent": Family(
        "hub_llm_error_rate_percent",
        "Reported error rate in the latest closed 1-minute window",
        quantiles=False,
    ),
}
"""Stored metric name -> Prometheus family (OpenTelemetry GenAI names where they exist)."""

_LABEL_RENAMES = {"model_id": "gen_ai_request_model"}
_LABEL = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(slots=True)
class _Kafka:
    admin: AIOKafkaAdminClient
    consumer: AIOKafkaConsumer


class Exposition:
    """Samples grouped by family, written by prometheus_client's text exposition (its
    escaping, float spelling and ``_total`` handling of counters)."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}

    def family(self, name: str, kind: str, text: str) -> None:
        if name not in self._families:
            base = name.removesuffix("_total") if kind == "counter" else name
            self._families[name] = Metric(base, text, kind)

    def sample(self, name: str, value: float, labels: Iterable[tuple[str, str]] = ()) -> None:
        self._families[name].add_sample(name, dict(labels), float(value))

    def text(self) -> str:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(list(self._families.values())))
        return generate_latest(registry).decode()


class _Families(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


def _label_name(key: str) -> str:
    name = _LABEL_RENAMES.get(key) or _LABEL.sub("_", key)
    return name if not name[:1].isdigit() else f"_{name}"


async def _kafka(state: HubState) -> _Kafka:
    admin = kafka_clients.admin(state.settings)
    consumer = kafka_clients.consumer(state.settings, group_id=None, enable_auto_commit=False)
    try:
        await asyncio.wait_for(admin.start(), KAFKA_TIMEOUT_S)
        await asyncio.wait_for(consumer.start(), KAFKA_TIMEOUT_S)
    except BaseException:
        await _stop(admin, consumer)
        raise
    found = _Kafka(admin, consumer)
    _KAFKA[id(state)] = found
    return found


_KAFKA: dict[int, _Kafka] = {}


def _cached(state: HubState) -> _Kafka | None:
    return _KAFKA.get(id(state))


async def _stop(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> None:
    for stop in (consumer.stop, admin.close):
        try:
            await asyncio.wait_for(stop(), KAFKA_TIMEOUT_S)
        except Exception as exc:
            log.debug("metrics kafka client stop: %s", exc)


async def close(state: HubState) -> None:
    found = _KAFKA.pop(id(state), None)
    if found is not None:
        await _stop(found.admin, found.consumer)


def _groups(state: HubState) -> list[str]:
    app = state.settings.app_id
    return [app, f"{app}-ingest", f"{app}-detect", f"{app}-sink", f"{app}-chains"]


async def _kafka_samples(state: HubState, out: Exposition) -> bool:
    kafka = _cached(state) or await _kafka(state)
    lags: dict[tuple[str, str], int] = {}
    for group in _groups(state):
        committed = await asyncio.wait_for(
            kafka.admin.list_consumer_group_offsets(group), KAFKA_TIMEOUT_S
        )
        tps = [tp for tp, meta in committed.items() if meta is not None and meta.offset >= 0]
        if not tps:
            continue
        ends = await asyncio.wait_for(kafka.consumer.end_offsets(tps), KAFKA_TIMEOUT_S)
        for tp in tps:
            lag = max(0, ends[tp] - committed[tp].offset)
            key = (group, tp.topic)
            lags[key] = lags.get(key, 0) + lag
    out.family(
        "hub_consumer_group_lag_messages",
        "gauge",
        "Messages not yet committed by a hub consumer group, per topic",
    )
    for (group, topic), lag in sorted(lags.items()):
        out.sample("hub_consumer_group_lag_messages", lag, (("group", group), ("topic", topic)))

    held_topics = {role: state.catalogue.one(role).name for role in ("dead-letter", "late")}
    partitions = await topic_partitions(kafka.admin, list(held_topics.values()))
    out.family(
        "hub_topic_retained_messages",
        "gauge",
        "Messages held in the dead-letter and late-event topics (within their retention)",
    )
    for role, topic in held_topics.items():
        tps = [TopicPartition(topic, p) for p in partitions.get(topic, [])]
        if not tps:
            continue
        begins = await asyncio.wait_for(kafka.consumer.beginning_offsets(tps), KAFKA_TIMEOUT_S)
        ends = await asyncio.wait_for(kafka.consumer.end_offsets(tps), KAFKA_TIMEOUT_S)
        held = sum(ends[tp] - begins[tp] for tp in tps)
        out.sample("hub_topic_retained_messages", held, (("topic", topic), ("role", role)))
    return True


_WORKER_COUNTERS = {
    "consumed": "Events read from the module topics (consumed = processed + dead-lettered)",
    "processed": "Valid events turned into points",
    "dead_lettered": "Events sent to the dead-letter topic",
    "late_points": "Points that arrived after their window closed (to the late-events topic)",
    "windows_published": "Closed-window results published",
    "anomalies": "Alert episodes published",
}


async def _worker_samples(state: HubState, out: Exposition) -> None:
    """The workers' own reports (agents/runtime/health_report.py; each expires a minute after
    its worker stops): counters, events/s and window-close delay."""
    r, layout = state.store.redis, state.store.layout
    keys = [k async for k in r.scan_iter(match=layout.worker("*"), count=100)]
    reports = [orjson.loads(raw) for raw in await r.mget(keys) if raw] if keys else []
    out.family("hub_workers", "gauge", "Workers that reported in the last minute")
    out.sample("hub_workers", len(reports))
    for name, text in _WORKER_COUNTERS.items():
        family = f"hub_worker_{name}_total"
        out.family(family, "counter", text)
        for report in reports:
            value = report["counters"].get(name, 0)
            out.sample(family, value, (("worker", report["worker"]),))
    out.family("hub_worker_events_per_second", "gauge", "Events consumed per second (5 s)")
    out.family("hub_window_close_delay_seconds", "gauge",
               "Seconds from a window's end to its results on the broker, over the worker's "
               "last 2,000 closed windows")  # fmt: skip
    for report in reports:
        worker = (("worker", report["worker"]),)
        if report.get("events_per_s") is not None:
            out.sample("hub_worker_events_per_second", report["events_per_s"], worker)
        delays = report.get("close_delay_s")
        for quantile, key in (("0.5", "p50"), ("0.99", "p99")):
            if delays:
                out.sample("hub_window_close_delay_seconds", delays[key],
                           (*worker, ("quantile", quantile)))  # fmt: skip


async def _store_samples(state: HubState, out: Exposition) -> None:
    store = state.store
    r, layout = store.redis, store.layout
    await _worker_samples(state, out)
    out.family("hub_store_anomalies", "gauge", "Anomaly episodes stored by the sink")
    out.sample("hub_store_anomalies", await r.zcard(layout.events("anomalies")))
    out.family("hub_store_correlations", "gauge", "Correlations (incidents) stored by the sink")
    out.sample("hub_store_correlations", await r.zcard(layout.events("correlations")))
    window = TimeWindow.one_minute
    fresh_after_ms = (time.time() - FRESH_S) * 1000
    for name, mapping in LLM_METRICS.items():
        series = await store.series(name)
        if not series:
            continue
        sids = sorted(series)
        pipe = r.pipeline(transaction=False)
        for sid in sids:
            pipe.zrange(layout.index(window, sid), -1, -1, withscores=True)
        newest = await pipe.execute()
        pipe = r.pipeline(transaction=False)
        wanted = []
        for sid, found in zip(sids, newest, strict=True):
            if found and found[0][1] >= fresh_after_ms:
                wanted.append(sid)
                pipe.hget(layout.points(window, sid), found[0][0])
        values = await pipe.execute() if wanted else []
        for sid, raw in zip(wanted, values, strict=True):
            if raw is None:
                continue
            _llm_samples(out, mapping, series[sid], orjson.loads(raw))


def _llm_samples(
    out: Exposition, mapping: Family, tags: dict[str, str], values: dict[str, Any]
) -> None:
    labels = [*mapping.labels, *((_label_name(k), v) for k, v in sorted(tags.items()))]
    family = mapping.family
    if "p95" not in values:  # a counter or gauge shape: the value itself
        if isinstance(values.get("value"), (int, float)):
            out.family(family, "gauge", mapping.help)
            out.sample(family, float(values["value"]) * mapping.scale, labels)
        return
    out.family(family, "gauge", mapping.help + " (quantile label: p50/p95/p99; else the mean)")
    if mapping.quantiles:
        for q, key in (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99")):
            out.sample(family, float(values[key]) * mapping.scale, [("quantile", q), *labels])
    out.sample(family, float(values["avg"]) * mapping.scale, labels)
    out.family(f"{family}_window_sum", "gauge", f"Sum of {family} over the window")
    out.sample(f"{family}_window_sum", float(values["sum"]) * mapping.scale, labels)
    out.family(f"{family}_window_count", "gauge", f"Count of {family} values in the window")
    out.sample(f"{family}_window_count", float(values["count"]), labels)


_JSON_ERROR = {
    "description": "an ApiResponse with the error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}


@router.get(
    "/metrics",
    summary="Prometheus exposition: hub health and the latest LLM metrics (role read)",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}},
        **{status: _JSON_ERROR for status in (401, 403, 429)},
    },
)
async def metrics(
    request: Request, _key: Annotated[ApiKey, Depends(require(Role.READ))]
) -> PlainTextResponse:
    state = hub_state(request)
    out = Exposition()
    out.family("hub_api_up", "gauge", "1 while the API process answers")
    out.sample("hub_api_up", 1)
    try:
        kafka_ok = await _kafka_samples(state, out)
    except Exception as exc:
        log.warning("metrics: Kafka unavailable: %s", exc)
        kafka_ok = False
        await close(state)
    try:
        await asyncio.wait_for(_store_samples(state, out), 10)
        redis_ok = True
    except Exception as exc:
        log.warning("metrics: Redis unavailable: %s", exc)
        redis_ok = False
    out.family("hub_kafka_up", "gauge", "1 when Kafka answered the lag and topic queries")
    out.sample("hub_kafka_up", 1 if kafka_ok else 0)
    out.family("hub_redis_up", "gauge", "1 when Redis answered the store queries")
    out.sample("hub_redis_up", 1 if redis_ok else 0)
    return PlainTextResponse(out.text(), media_type=CONTENT_TYPE)
