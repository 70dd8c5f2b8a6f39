"""Event-time tumbling windows: their alignment and the identity of a series.

Windows are epoch-aligned (a 5-minute window starts at a multiple of 300 s) so every
worker, replay and query agrees on them. Where a window closes is
:meth:`pipeline.windows.engine.PartitionEngine._close` (the watermark, lateness and grace live
in :mod:`pipeline.windows.engine`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def window_start(ts: float, size_s: int) -> int:
    """Start (epoch seconds) of the epoch-aligned tumbling window holding ``ts``."""
    return math.floor(ts / size_s) * size_s


def series_id_of(measurement: str, tags: Iterable[tuple[str, str]]) -> str:
    """Stable identity of a series: measurement plus sorted tag pairs."""
    return measurement + "|" + ",".join(f"{k}={v}" for k, v in sorted(tags))
