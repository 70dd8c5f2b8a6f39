"""Process-wide worker counters; they reconcile: consumed = processed + dead-lettered."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field


@dataclass
class Counters:
    consumed: int = 0
    processed: int = 0
    dead_lettered: int = 0
    redelivered: int = 0
    """Messages faust handed over twice within one batch; not counted as consumed."""
    points: int = 0
    late_points: int = 0
    windows_published: int = 0
    duplicate_batches_skipped: int = 0
    gap_skipped: int = 0
    """Messages ignored because faust skipped earlier ones; they are read again after a seek."""
    retention_lost: int = 0
    """Offsets deleted by retention before they were read (the topic's retention is too short)."""
    anomalies: int = 0
    """Alert episodes published to the anomalies topic."""
    correlations: int = 0
    """Incident groups (and their growth) published to the correlations topic."""
    stale_skipped: int = 0
    """hub.points messages delivered after their partition was revoked; left to the owner."""

    close_delays_s: deque[float] = field(default_factory=lambda: deque(maxlen=2000))
    """Seconds from each recently published window's end to its results being on the broker
    (one entry per closed window and size, not per series)."""

    def snapshot(self) -> dict[str, int]:
        counts = asdict(self)
        del counts["close_delays_s"]
        return counts


COUNTERS = Counters()
