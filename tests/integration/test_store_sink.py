"""`hub sink` on the real broker and a real Redis: idempotent, retained, survives an outage.

The Redis here is a private `redis-server` (append-only file in tmp_path) on its own
port, so the test can stop and restart it without touching the shared one.
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pytest
import redis

from pipeline.models.metrics import AggregatedMetric, StatisticalMeasures, TimeWindow
from pipeline.store.layout import StoreLayout, series_id
from tests.integration.harness import Worker, free_port, hub, produce_raw, run, wait_until

T0 = 1_790_000_040  # minute-aligned
MODELS = ("gpt-4o", "claude-3-haiku")


class PrivateRedis:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@pytest.fixture
def private_redis(tmp_path: Path, redis_url: str):  # redis_url: fail early without Redis
    server = PrivateRedis(tmp_path, free_port())
    server.start()
    yield server
    server.stop()


def _metric(model: str, minute: int, rng: np.random.Generator) -> AggregatedMetric:
    values = rng.lognormal(6.5, 0.3, 40)
    start = datetime.fromtimestamp(T0 + 60 * minute, UTC)
    end = datetime.fromtimestamp(T0 + 60 * minute + 60, UTC)
    return AggregatedMetric(
        name="llm_latency.total_latency_ms",
        window=TimeWindow.one_minute,
        window_start=start,
        window_end=end,
        values=StatisticalMeasures(
            avg=float(values.mean()), min=float(values.min()), max=float(values.max()),
            p50=float(np.percentile(values, 50)), p95=float(np.percentile(values, 95)),
            p99=float(np.percentile(values, 99)), stddev=float(values.std()),
            count=int(values.size), sum=float(values.sum()),
        ),
        tags={"environment": "it", "model_id": model, "source_module": "llm-observatory"},
    )  # fmt: skip


def _stored(client: redis.Redis, layout: StoreLayout, model: str) -> dict[int, dict]:
    tags = {"environment": "it", "model_id": model, "source_module": "llm-observatory"}
    sid = series_id("llm_latency.total_latency_ms", tags)
    raw = client.hgetall(layout.points(TimeWindow.one_minute, sid))
    assert client.zcard(layout.index(TimeWindow.one_minute, sid)) == len(raw)
    return {int(k): orjson.loads(v) for k, v in raw.items()}


def test_sink_is_idempotent_retains_and_survives_a_redis_outage(
    hub_env: dict[str, str], kafka_bootstrap: str, private_redis: PrivateRedis
) -> None:
    env = {**hub_env, "HUB_REDIS_URL": f"redis://127.0.0.1:{private_redis.port}/0"}
    hub(env, "topics", "apply")
    topic = env["HUB_TOPIC_PREFIX"] + "hub.metrics.1m"
    layout = StoreLayout(env["HUB_TOPIC_PREFIX"])
    client = redis.Redis(port=private_redis.port)
    rng = np.random.default_rng(3)

    # 30 minutes per model, one window 8 days older than the rest (past 1m retention),
    # and every message sent twice.
    minutes = [-8 * 1440, *range(30)]
    first = {(m, i): _metric(m, i, rng) for m in MODELS for i in minutes}
    messages = [(topic, metric.to_wire_bytes()) for metric in first.values()]
    anomaly = {
        "event_id": "6f1f6d4e-6c55-4a3b-9c9a-0d6f1e2a3b4c", "source_module": "llm-observatory",
        "anomaly_type": "spike", "anomaly_score": 0.93, "baseline": 700.0, "observed": 2900.0,
        "deviation": 2200.0, "timestamp": "2026-09-21T12:00:00Z",
        "metric": "llm_latency.total_latency_ms.p95",
    }  # fmt: skip
    run(produce_raw(kafka_bootstrap, messages + messages))
    run(produce_raw(kafka_bootstrap, [(env["HUB_TOPIC_PREFIX"] + "hub.anomalies",
                                       orjson.dumps(anomaly))]))  # fmt: skip

    sink = Worker(env, "sink", command=("sink",))
    try:
        wait_until(lambda: all(len(_stored(client, layout, m)) == 30 for m in MODELS), 60,
              "the sink did not store 30 windows per series", sink)  # fmt: skip
        for model in MODELS:
            stored = _stored(client, layout, model)
            for i in range(30):
                expected = first[(model, i)]
                key = int(expected.window_start.timestamp() * 1000)
                assert stored[key] == orjson.loads(expected.values.to_wire_bytes())
            old = int(first[(model, -8 * 1440)].window_start.timestamp() * 1000)
            assert old not in stored  # trimmed: older than 7 days before the newest point
        wait_until(lambda: client.zcard(layout.events("anomalies")) == 1, 30,
              "the anomaly was not stored", sink)  # fmt: skip
        kept = orjson.loads(client.get(layout.event("anomalies", anomaly["event_id"])))
        assert kept["anomaly"] == anomaly and kept["episode"] == "started"

        # Outage: Redis goes away, 20 more minutes are published, Redis comes back.
        private_redis.stop()
        later = {(m, i): _metric(m, i, rng) for m in MODELS for i in range(30, 50)}
        run(produce_raw(kafka_bootstrap, [(topic, x.to_wire_bytes()) for x in later.values()]))
        wait_until(lambda: "unreachable" in sink.log_path.read_text(), 30,
              "the sink did not notice the outage", sink)  # fmt: skip
        assert sink.alive()
        private_redis.start()
        wait_until(lambda: all(len(_stored(client, layout, m)) == 50 for m in MODELS), 60,
              "the sink did not catch up after the outage", sink)  # fmt: skip
        for (model, _minute), expected in later.items():
            key = int(expected.window_start.timestamp() * 1000)
            assert _stored(client, layout, model)[key]["count"] == expected.values.count
        assert "Redis is back" in sink.log_path.read_text()
        stats = hub(env, "store-stats").stdout
        assert "2 series-resolutions, 100 points" in stats and "1 anomalies" in stats, stats
        assert hub(env, "store-clear", check=False).returncode == 2  # refuses without --yes
        assert len(_stored(client, layout, MODELS[0])) == 50
        hub(env, "store-clear", "--yes")
        assert list(client.scan_iter(match=layout.prefix + "*")) == []
    finally:
        sink.stop()
