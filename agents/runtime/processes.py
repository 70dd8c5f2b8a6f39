"""`hub worker --processes N`: N worker processes of one consumer group on one machine.

A worker is one Python process, so it uses one core. Workers with the same app id
split the partitions (and the results stay exact: see the scale-out test), so the
simplest way to use every core is to start one per core, each with its own state
directory. The parent forwards SIGINT/SIGTERM and exits when all children have. Children start
consuming together (``wait_for_peers``), so the first does not take every partition
and then rebalance mid-stream when the others join.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from agents.runtime.kafka_clients import stable_group_size


def child_data_dir(data_dir: str, index: int) -> str:
    """Each process keeps its own RocksDB state under the configured directory."""
    return str(Path(data_dir) / f"process-{index}")


BARRIER_ENV = "HUB_START_BARRIER"
"""``directory:peers:index`` of a start barrier shared by sibling processes."""


def wait_for_peers(spec: str, timeout_s: float = 60.0, stage: str = "started") -> bool:
    """Mark this process as started and wait until all its siblings are too.

    Siblings that start consuming together are assigned their partitions in the first
    rebalances; otherwise the first one reads the backlog alone (and starves the
    others' start-up of CPU) until a later join rebalances the groups mid-stream.
    Gives up after ``timeout_s`` (False) rather than never starting.
    """
    directory, peers, index = spec.rsplit(":", 2)
    barrier = Path(directory)
    barrier.mkdir(parents=True, exist_ok=True)
    (barrier / f"{stage}-{index}").touch()
    deadline = time.monotonic() + timeout_s
    while len(list(barrier.glob(f"{stage}-*"))) < int(peers):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def sibling_count() -> int:
    """Processes started together with this one (1 outside ``--processes``)."""
    spec = os.environ.get(BARRIER_ENV)
    return int(spec.rsplit(":", 2)[1]) if spec else 1


async def wait_for_group(admin: Any, group: str, members: int, timeout_s: float = 60.0) -> bool:
    """Wait until ``group`` is Stable with ``members`` members (False after the timeout).

    Siblings start Faust at the same moment, yet reach their first group join up to
    seconds apart; ingest waits for the aggregators' group to hold them all, so input
    is read only once the partitions are split, not rebalanced under load.
    """
    deadline = time.monotonic() + timeout_s
    await admin.start()
    try:
        while time.monotonic() < deadline:
            if await stable_group_size(admin, group) >= members:
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await admin.close()


def run_processes(count: int, loglevel: str, data_dir: str) -> int:
    children = []
    barrier = Path(data_dir) / f"start-barrier-{os.getpid()}"
    for index in range(count):
        env = {
            **os.environ,
            "HUB_DATA_DIR": child_data_dir(data_dir, index),
            BARRIER_ENV: f"{barrier}:{count}:{index}",
        }
        command = [sys.executable, "-m", "agents.cli.main", "worker", "--loglevel", loglevel]
        children.append(subprocess.Popen(command, env=env))
    print(f"hub worker: {count} processes (pids {', '.join(str(c.pid) for c in children)})")

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    codes = []
    for child in children:
        while True:
            try:
                codes.append(child.wait())
                break
            except KeyboardInterrupt:  # pragma: no cover - the handler above forwards it
                time.sleep(0.1)
    shutil.rmtree(barrier, ignore_errors=True)
    return max(codes, default=0)
