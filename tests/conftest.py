"""Shared fixtures. Integration tests need the real Kafka and Redis that `make test`
starts; when they are missing the tests FAIL with instructions, never skip."""

from __future__ import annotations

import asyncio
import os
import socket
from urllib.parse import urlparse

import pytest

KAFKA = os.environ.get("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REDIS_URL = os.environ.get("HUB_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    host, _, port = KAFKA.split(",")[0].rpartition(":")
    if not _reachable(host, int(port)):
        pytest.fail(
            f"Kafka is not reachable at {KAFKA}. Run 'make test' (it starts Kafka), "
            "or 'hub infra up', or point HUB_KAFKA_BOOTSTRAP at a broker."
        )

    async def _probe() -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        client = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=10_000)
        await client.start()
        try:
            await client.list_topics()
        finally:
            await client.close()

    try:
        asyncio.run(_probe())
    except Exception as exc:
        pytest.fail(f"Kafka at {KAFKA} accepts connections but does not answer: {exc!r}")
    return KAFKA


@pytest.fixture(scope="session")
def redis_url() -> str:
    parsed = urlparse(REDIS_URL)
    if not _reachable(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        pytest.fail(f"Redis is not reachable at {REDIS_URL}. Run 'make test' or 'hub infra up'.")
    return REDIS_URL
