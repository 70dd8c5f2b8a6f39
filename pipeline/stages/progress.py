"""Which source partitions ingest has read to their end (for progress heartbeats).

A partition is caught up when the consumer's position (the offset after the last
message it handed over, all of which were forwarded) has reached the broker's end
offset. Only then may a heartbeat claim that no event appended before "now" is pending.
"""

from __future__ import annotations

from collections.abc import Mapping


def caught_up(end_offsets: Mapping[str, int], positions: Mapping[str, int]) -> list[str]:
    """Sources (``topic|partition``) whose position has reached their end offset, sorted."""
    return sorted(
        source
        for source, end in end_offsets.items()
        if source in positions and end <= positions[source]
    )
