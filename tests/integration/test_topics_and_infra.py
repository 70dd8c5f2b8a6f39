"""`hub topics apply|list` against the real broker, and the local Redis the scripts start."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from pipeline.wire.topics import load_catalogue
from tests.integration.harness import hub


async def _set_retention(bootstrap: str, topic: str, retention_ms: str) -> None:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        await client.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC, topic, configs={"retention.ms": retention_ms}
                )
            ]
        )
    finally:
        await client.close()


@pytest.mark.integration
def test_apply_creates_then_is_idempotent_and_repairs_drift(
    kafka_bootstrap: str, hub_env: dict[str, str]
) -> None:
    env = hub_env
    prefix = env["HUB_TOPIC_PREFIX"]
    declared = load_catalogue(prefix=prefix).topics

    first = hub(env, "topics", "apply").stdout
    assert first.count("created ") == len(declared)

    second = hub(env, "topics", "apply").stdout
    assert "all topics already match topics.yaml" in second

    asyncio.run(_set_retention(kafka_bootstrap, f"{prefix}hub.metrics.1h", "1000"))
    # A config change reaches DescribeConfigs a moment later: ask until it shows.
    deadline = time.monotonic() + 15
    drifted = hub(env, "topics", "list", check=False)
    while drifted.returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        drifted = hub(env, "topics", "list", check=False)
    assert drifted.returncode == 1
    assert any(
        line.startswith(f"{prefix}hub.metrics.1h") and line.endswith("drift")
        for line in drifted.stdout.splitlines()
    )
    repaired = hub(env, "topics", "apply").stdout
    assert f"updated configs of {prefix}hub.metrics.1h" in repaired

    def metrics_1h_row() -> str:
        listing = hub(env, "topics", "list", check=False).stdout
        rows = listing.splitlines()
        return next(r for r in rows if r.startswith(f"{prefix}hub.metrics.1h"))

    deadline = time.monotonic() + 15
    row = metrics_1h_row()
    while not row.endswith("ok") and time.monotonic() < deadline:
        time.sleep(0.5)
        row = metrics_1h_row()
    assert "90d" in row and row.endswith("ok")

    refused = hub(env, "topics", "delete", check=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr  # never by accident
    deleted = hub(env, "topics", "delete", "--yes").stdout
    assert "topics deleted" in deleted and not deleted.startswith("hub topics delete: 0 ")
    deadline = time.monotonic() + 15
    gone = hub(env, "topics", "list", check=False).stdout
    while " ok" in gone and time.monotonic() < deadline:  # deletion completes in the background
        time.sleep(0.5)
        gone = hub(env, "topics", "list", check=False).stdout
    rows = [r for r in gone.splitlines() if r.startswith(prefix)]
    assert rows and all(r.endswith("missing") for r in rows), rows


@pytest.mark.integration
def test_redis_started_by_the_scripts_answers(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    assert client.ping() is True
    client.set("hub:test:ping", "pong", ex=10)
    assert client.get("hub:test:ping") == b"pong"
