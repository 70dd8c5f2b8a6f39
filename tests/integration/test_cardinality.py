"""One cardinality decision for the whole hub: two worker processes, each reading half
of the input, keep the same HUB_MAX_TAG_VALUES values of a tag (the first ones of the
shared admission log, hub.tag-values), not five each."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaProducer

from pipeline.sim.simulate import EventSimulator
from tests.integration.harness import Worker, collect, hub, run

CAP = 5
CUSTOMERS = 20


async def _produce(bootstrap: str, topic: str, minute: float) -> None:
    sim = EventSimulator(seed=3, environment="it-cardinality")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(CUSTOMERS):
            moment = datetime.fromtimestamp(minute + 1 + i, UTC)
            event = orjson.loads(sim.make("telemetry.latency", moment).to_wire_bytes())
            event["tags"] = {"customer": f"c{i:02d}"}
            event["timestamp"] = moment.isoformat().replace("+00:00", "Z")
            await producer.send(topic, orjson.dumps(event), partition=i % 4)
        await producer.flush()
    finally:
        await producer.stop()


def test_two_processes_keep_the_same_tag_values(
    kafka_bootstrap: str, hub_env: dict[str, str]
) -> None:
    env = dict(hub_env, HUB_MAX_TAG_VALUES=str(CAP))
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    minute = math.floor(time.time() / 60) * 60 - 180
    run(_produce(kafka_bootstrap, prefix + "llm-observatory.events", minute))
    stamp = datetime.fromtimestamp(minute, UTC).isoformat().replace("+00:00", "Z")

    def per_customer(records: list) -> dict[str, int]:
        """Events per customer value; a series (customer and model) published twice in a
        rebalance counts once."""
        series = {tuple(sorted(v["tags"].items())): v for v in latency(records)}
        out: dict[str, int] = {}
        for v in series.values():
            out[v["tags"]["customer"]] = out.get(v["tags"]["customer"], 0) + v["values"]["count"]
        return out

    def counted(records: list) -> int:
        return sum(per_customer(records).values())

    def latency(records: list) -> list[dict]:
        values = [json.loads(r.value) for r in records]
        return [v for v in values if v["name"] == "llm_latency.total_latency_ms"
                and v["window_start"] == stamp and "customer" in v["tags"]]  # fmt: skip

    worker = Worker(env, "cardinality", command=("worker", "--processes", "2"))
    try:
        results = run(collect(kafka_bootstrap, prefix + "hub.metrics.1m",
                              lambda r: counted(r) >= CUSTOMERS, 120))  # fmt: skip
    finally:
        worker.stop()
    by_customer = per_customer(results)
    assert sum(by_customer.values()) == CUSTOMERS, (by_customer, worker.log_tail())
    kept = {c for c in by_customer if c != "__other__"}
    assert len(kept) == CAP, by_customer
    assert by_customer["__other__"] == CUSTOMERS - CAP
    log = run(collect(kafka_bootstrap, prefix + "hub.tag-values", lambda r: False, 3))
    proposed = [
        r.value.decode() for r in sorted(log, key=lambda r: r.offset) if r.key == b"customer"
    ]
    assert kept == set(list(dict.fromkeys(proposed))[:CAP])
