"""Integration fixtures: an isolated topic namespace per test, removed afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import delete_topics_with_prefix, isolated_env


@pytest.fixture
def hub_env(kafka_bootstrap: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = isolated_env(tmp_path)
    yield env
    asyncio.run(
        delete_topics_with_prefix(kafka_bootstrap, env["HUB_TOPIC_PREFIX"], env["HUB_APP_ID"])
    )
