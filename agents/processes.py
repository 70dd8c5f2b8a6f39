"""`hub worker --processes N`: N worker processes of one consumer group on one machine.

A worker is one Python process, so it uses one core. Workers with the same app id
split the partitions (and the results stay exact: see the scale-out test), so the
simplest way to use every core is to start one per core, each with its own state
directory. The parent forwards SIGINT/SIGTERM and exits when all children have.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType


def child_data_dir(data_dir: str, index: int) -> str:
    """Each process keeps its own RocksDB state under the configured directory."""
    return str(Path(data_dir) / f"process-{index}")


def run_processes(count: int, loglevel: str, data_dir: str) -> int:
    children = []
    for index in range(count):
        env = {**os.environ, "HUB_DATA_DIR": child_data_dir(data_dir, index)}
        command = [sys.executable, "-m", "agents.cli", "worker", "--loglevel", loglevel]
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
    return max(codes, default=0)
