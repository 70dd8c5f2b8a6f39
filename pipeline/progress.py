"""Which source partitions ingest has read to their end (for progress heartbeats).

A source partition is caught up when every message in it (up to the broker's end
offset) has been handled: its points are on the broker, or it was dead-lettered,
in this process or, before it, by whoever committed the group's offset. Only then
may a heartbeat claim that no event appended before "now" is still pending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class HandledOffsets:
    """Next offset after the last handled message, per source (``topic|partition``)."""

    next_offset: dict[str, int] = field(default_factory=dict)

    def handled(self, source: str, offset: int) -> None:
        if offset + 1 > self.next_offset.get(source, 0):
            self.next_offset[source] = offset + 1

    def caught_up(
        self, end_offsets: Mapping[str, int], committed: Mapping[str, int | None]
    ) -> list[str]:
        """Sources whose end offset is within what was handled here or committed before."""
        done = []
        for source, end in sorted(end_offsets.items()):
            handled = max(self.next_offset.get(source, 0), committed.get(source) or 0)
            if end <= handled:
                done.append(source)
        return done
