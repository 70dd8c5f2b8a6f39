"""Run real hub workers as subprocesses against the real broker, in isolated topics."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"


def isolated_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Fresh topic prefix and app id, so runs never see each other's data."""
    run = uuid.uuid4().hex[:8]
    env = dict(os.environ)
    env.update(
        HUB_TOPIC_PREFIX=f"it-{run}-",
        HUB_APP_ID=f"hub-it-{run}",
        HUB_DATA_DIR=str(tmp_path / "worker"),
        HUB_ALLOWED_LATENESS_S="1",
        HUB_LOG_LEVEL="warning",
    )
    env.update(overrides)
    return env


def hub(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agents.cli.main", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


class Worker:
    """A `hub worker` (or another `hub` command's) subprocess whose log lands in
    artifacts/ for post-mortems."""

    def __init__(
        self,
        env: dict[str, str],
        name: str,
        command: tuple[str, ...] = ("worker", "--loglevel", "info"),
    ) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"{name}-{env['HUB_APP_ID']}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agents.cli.main", *command],
            env={**env, "PYTHONUNBUFFERED": "1"},  # a kill -9 must not eat the log
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.alive():
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


async def produce_raw(bootstrap: str, messages: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=4 << 20)
    await producer.start()
    try:
        for topic, value in messages:
            await producer.send(topic, value=value)
        await producer.flush()
    finally:
        await producer.stop()


async def produce_to_partitions(bootstrap: str, topic: str, value: bytes) -> None:
    """The same message once to every partition of ``topic`` (e.g. to move each
    partition's event time past a point)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition in sorted(await producer.partitions_for(topic)):
            await producer.send(topic, value=value, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


async def collect(
    bootstrap: str,
    topic: str,
    done: Callable[[list[Any]], bool],
    timeout: float,
) -> list[Any]:
    """Read a topic from the beginning until ``done(records)`` or the timeout."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(records):
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


def free_port() -> int:
    """A loopback port nothing listens on now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, *workers: Worker) -> None:
    """Poll ``check`` until it holds; fail with the workers' logs if it does not in time
    or one of them died."""
    import pytest

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline or not all(w.alive() for w in workers):
            logs = "\n\n".join(f"{w.log_path.name}:\n{w.log_tail()}" for w in workers)
            pytest.fail(f"{what} within {timeout:.0f} s\n{logs}")
        time.sleep(0.2)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def delete_topics_with_prefix(bootstrap: str, *prefixes: str) -> None:
    """Remove a test run's topics so repeated local runs don't pile up partitions."""
    from aiokafka.admin import AIOKafkaAdminClient

    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        names = [t for t in await client.list_topics() if t.startswith(prefixes)]
        if names:
            await client.delete_topics(names)
    finally:
        await client.close()


async def stable_group_members(bootstrap: str, group: str) -> int:
    """Members of a consumer group once it is Stable (0 while it rebalances)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from agents.runtime.kafka_clients import stable_group_size

    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        return await stable_group_size(client, group)
    finally:
        await client.close()
