"""Process-wide worker counters; they reconcile: consumed = processed + dead-lettered."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Counters:
    consumed: int = 0
    processed: int = 0
    dead_lettered: int = 0
    points: int = 0
    late_points: int = 0
    windows_published: int = 0
    duplicate_batches_skipped: int = 0

    def snapshot(self) -> dict[str, int]:
        return asdict(self)


COUNTERS = Counters()
