"""How closed-window metrics, anomalies and correlations are laid out in Redis (pure).

Plain Redis data types (Debian's ``redis-server`` has no time-series module):

* ``<p>pts:<window>:<series>``: hash, field = window start in epoch ms, value = the
  metric's ``values`` object as wire JSON. Writing a window again replaces it, so a
  replayed message never duplicates a point.
* ``<p>idx:<window>:<series>``: sorted set of the same window starts (score = member),
  for time-range reads and trimming.
* ``<p>series:<name>``: hash, field = series id, value = the series' tags as JSON: what
  a query by measurement and tag filter scans.
* ``<p>anomalies`` / ``<p>correlations``: sorted sets of ids by event time (ms), and
  ``<p>anomaly:<id>`` / ``<p>correlation:<id>``: the latest message of that id
  (an episode's start is replaced by its end; a grown correlation by its new version).
* ``<p>dashboards``: hash, field = dashboard id, value = a user's ``DashboardConfig``
  as wire JSON (``PUT /api/v1/dashboards/{id}``).

A series id is a short hash of the metric name and its sorted tags, stable across
processes and restarts. Retention is per resolution (``RETENTION_MS``) and counted
back from the newest point of the series (as Redis TimeSeries does), so a backfill of
old data is kept as long as it is the newest the series has.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from pipeline.models.metrics import TimeWindow

_DAY_MS = 86_400_000
RETENTION_MS: dict[TimeWindow, int] = {
    TimeWindow.one_minute: 7 * _DAY_MS,
    TimeWindow.five_minutes: 30 * _DAY_MS,
    TimeWindow.fifteen_minutes: 30 * _DAY_MS,
    TimeWindow.one_hour: 90 * _DAY_MS,
    TimeWindow.six_hours: 90 * _DAY_MS,
    TimeWindow.one_day: 365 * _DAY_MS,
    TimeWindow.one_week: 365 * _DAY_MS,
    TimeWindow.one_month: 365 * _DAY_MS,
}
"""The spec's retention policy per resolution (15m kept like 5m, 6h like 1h, 1w/30d like 1d)."""

EVENT_RETENTION_MS = 30 * _DAY_MS
"""Anomalies and correlations: as long as their topics keep them."""


def series_id(name: str, tags: Mapping[str, str]) -> str:
    """16 hex digits of SHA-1 over the canonical (name, sorted tags) JSON."""
    canonical = json.dumps([name, sorted(tags.items())], separators=(",", ":"))
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()[:16]


class StoreLayout:
    """Key names under one prefix (the topic prefix, so a demo never mixes with tests)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = f"{prefix}hub:"

    def points(self, window: TimeWindow, sid: str) -> str:
        return f"{self.prefix}pts:{window.label}:{sid}"

    def index(self, window: TimeWindow, sid: str) -> str:
        return f"{self.prefix}idx:{window.label}:{sid}"

    def series(self, name: str) -> str:
        return f"{self.prefix}series:{name}"

    def names(self) -> str:
        return f"{self.prefix}names"

    def events(self, kind: str) -> str:
        """``kind``: ``anomalies`` or ``correlations``."""
        return f"{self.prefix}{kind}"

    def event(self, kind: str, event_id: str) -> str:
        return f"{self.prefix}{kind.rstrip('s')}:{event_id}"

    def dashboards(self) -> str:
        """Hash dashboard id -> ``DashboardConfig`` wire JSON (the ones users PUT)."""
        return f"{self.prefix}dashboards"

    def metadata(self, kind: str) -> str:
        """Hash id -> wire JSON of ``assets``, ``policies`` or ``preferences`` (the API's
        CRUD and, for assets and policies, the compacted metadata topics via the sink)."""
        return f"{self.prefix}meta:{kind}"

    def worker(self, name: str) -> str:
        """String (expires after a minute): a worker's latest health report, JSON."""
        return f"{self.prefix}worker:{name}"

    def applied(self) -> str:
        """Hash ``topic|partition`` -> next offset the sink has fully written (progress)."""
        return f"{self.prefix}sink-offsets"


def matches(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Tag filter of a query: every wanted key present with that value."""
    return all(tags.get(key) == value for key, value in wanted.items())
