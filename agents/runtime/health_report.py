"""Each worker's health, every few seconds, into Redis: what `hub api`'s /metrics shows.

The worker's counters (consumed = processed + dead-lettered, late points, windows
published, alerts) and its recent window-close delays live in its own process; the
API runs elsewhere. A short JSON report under ``<p>hub:worker:<host>:<pid>`` that
expires after a minute bridges the two: a stopped worker disappears from /metrics by
itself. Redis being away costs the worker nothing but a warning once a minute.
"""

from __future__ import annotations

import logging
import os
import socket
import time

import numpy as np
import orjson
import redis
import redis.asyncio as aioredis

from agents.runtime.app import app, settings
from agents.runtime.counters import COUNTERS
from pipeline.store.layout import StoreLayout

log = logging.getLogger(__name__)

REPORT_EVERY_S = 5.0
REPORT_TTL_S = 60
WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


def health_report(now: float, previous: tuple[float, int] | None) -> dict[str, object]:
    """The report's content; ``previous`` (time, consumed) gives the events/s since then."""
    counts = COUNTERS.snapshot()
    delays = np.fromiter(COUNTERS.close_delays_s, dtype=float)
    rate = None
    if previous is not None and now > previous[0]:
        rate = (counts["consumed"] - previous[1]) / (now - previous[0])
    return {
        "worker": WORKER_NAME,
        "at": now,
        "counters": counts,
        "events_per_s": rate,
        "close_delay_s": (
            {
                "p50": float(np.percentile(delays, 50)),
                "p99": float(np.percentile(delays, 99)),
                "max": float(delays.max()),
                "windows": int(delays.size),
            }
            if delays.size
            else None
        ),
    }


@app.timer(REPORT_EVERY_S)
async def report_health() -> None:
    global _previous, _client, _last_warning
    now = time.time()
    report = health_report(now, _previous)
    _previous = (now, COUNTERS.consumed)
    if _client is None:
        _client = aioredis.Redis.from_url(
            settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
    key = StoreLayout(settings.topic_prefix).worker(WORKER_NAME)
    try:
        await _client.set(key, orjson.dumps(report), ex=REPORT_TTL_S)
    except (redis.RedisError, OSError) as exc:
        if now - _last_warning > 60:
            _last_warning = now
            log.warning("health report not stored (Redis at %s: %s); the worker carries on",
                        settings.redis_url, exc)  # fmt: skip


_previous: tuple[float, int] | None = None
_client: aioredis.Redis | None = None
_last_warning = 0.0
