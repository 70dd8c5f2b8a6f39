"""Admit each partition's messages strictly in offset order, once.

faust-streaming hands a message over twice after it seeks to the committed offset
(the copy prefetched before the seek, then the same offset again), and silently
drops messages that reach a stream while its flow control is paused (rebalance,
table recovery) without seeking back; both were seen in our kill -9 test. A repeat
applied twice counts events twice; stepping over a gap loses them, or makes them
late once later data has moved the watermark. The gate tells the caller which case
it has; on a gap the caller seeks back to :meth:`OffsetGate.expected` and ignores
messages until that offset arrives.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field


class Verdict(enum.Enum):
    ADMIT = "admit"
    """The next offset: process it."""
    REPEAT = "repeat"
    """Already admitted in this assignment: ignore it."""
    GAP = "gap"
    """Offsets before it are missing: seek back to the expected offset, ignore this one."""


@dataclass(slots=True)
class OffsetGate:
    _expected: dict[Hashable, int] = field(default_factory=dict)

    def knows(self, partition: Hashable) -> bool:
        return partition in self._expected

    def start(self, partition: Hashable, offset: int) -> None:
        """The first offset to admit: the committed offset when the partition was assigned.

        Starting too low is safe (the consumers de-duplicate by offset); too high loses data.
        """
        self._expected[partition] = offset

    def expected(self, partition: Hashable) -> int:
        return self._expected[partition]

    def check(self, partition: Hashable, offset: int) -> Verdict:
        want = self._expected[partition]
        if offset < want:
            return Verdict.REPEAT
        if offset > want:
            return Verdict.GAP
        self._expected[partition] = offset + 1
        return Verdict.ADMIT

    def skip_to(self, partition: Hashable, offset: int) -> int:
        """The log lost the expected offset to retention: accept the loss, say how much."""
        lost = max(0, offset - self._expected[partition])
        self._expected[partition] = max(offset, self._expected[partition])
        return lost

    def forget(self, partitions: Iterable[Hashable]) -> None:
        """Revoked partitions: their next assignment starts from the committed offset again."""
        for partition in partitions:
            self._expected.pop(partition, None)
