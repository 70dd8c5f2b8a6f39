"""Event-time release of a keyed stage's input: decisions that never depend on read order.

A stage downstream of several partitions (detection reads what every aggregation
partition closed; correlation reads what every detection partition concluded) gets
their records interleaved in whatever order the broker and the scheduler produced.
Each upstream partition also sends *marks*: "everything I will ever send about
windows ending at or before T is already sent". The stage holds its records in a
:class:`ReleaseBuffer` and takes them out only once the lowest mark of all upstream
partitions (the watermark) has passed them, grouped by window end and sorted by a
canonical key. What the stage then concludes is a function of the records alone,
not of how they were interleaved, how many processes read them, or where a restart
resumed (a repeated record is dropped by its identity).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SourceMarks:
    """The lowest "closed through" mark over a fixed set of upstream partitions."""

    sources: int
    """How many upstream partitions there are: until each has marked, nothing is released."""
    marks: dict[int, float] = field(default_factory=dict)

    def mark(self, source: int, through: float) -> None:
        if through > self.marks.get(source, -math.inf):
            self.marks[source] = through

    @property
    def watermark(self) -> float:
        if len(self.marks) < self.sources:
            return -math.inf
        return min(self.marks.values())


@dataclass(slots=True)
class ReleaseBuffer:
    """Records held until the watermark passes their window end, released in order.

    ``offer(end, identity, item)``: a record about a window ending at ``end``;
    ``identity`` (hashable, sortable) both orders the records of one end and names a
    repeat: an upstream partition that restarts re-sends what it sent, and the second
    copy is dropped, whether it arrives before or after the first was released.
    """

    released_through: float = -math.inf
    held: dict[float, dict[Hashable, Any]] = field(default_factory=dict)
    repeats: int = 0

    def offer(self, end: float, identity: Hashable, item: Any) -> bool:
        """Hold one record; False for a repeat (of one held or already released)."""
        if end <= self.released_through:
            self.repeats += 1
            return False
        at_end = self.held.setdefault(end, {})
        if identity in at_end:
            self.repeats += 1
            return False
        at_end[identity] = item
        return True

    def release(self, watermark: float) -> list[tuple[float, list[Any]]]:
        """(window end, its records in identity order) for every end up to ``watermark``,
        in end order."""
        if watermark <= self.released_through:
            return []
        out = []
        for end in sorted(e for e in self.held if e <= watermark):
            records = self.held.pop(end)
            out.append((end, [records[k] for k in sorted(records)]))
        self.released_through = watermark
        return out

    @property
    def pending(self) -> int:
        return sum(len(records) for records in self.held.values())
