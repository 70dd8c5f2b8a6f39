"""The start barrier of `hub worker --processes N` (files in a directory, real threads)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from agents.runtime.processes import wait_for_peers


def test_siblings_leave_the_barrier_together_once_all_have_arrived(tmp_path: Path) -> None:
    barrier = tmp_path / "barrier"
    left: dict[int, float] = {}

    def sibling(index: int, delay: float) -> None:
        time.sleep(delay)
        assert wait_for_peers(f"{barrier}:3:{index}", timeout_s=10)
        left[index] = time.monotonic()

    started = time.monotonic()
    threads = [threading.Thread(target=sibling, args=(i, 0.3 * i)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(left) == [0, 1, 2]
    # nobody left before the last one (0.6 s late) arrived
    assert min(left.values()) - started >= 0.6
    assert max(left.values()) - min(left.values()) < 0.5


def test_a_missing_sibling_does_not_block_forever(tmp_path: Path) -> None:
    began = time.monotonic()
    assert not wait_for_peers(f"{tmp_path / 'b'}:2:0", timeout_s=0.3)
    assert 0.3 <= time.monotonic() - began < 2.0
