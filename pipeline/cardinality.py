"""Cardinality guard: cap distinct values per tag key so one producer can't exhaust memory.

Values beyond the cap become ``__other__``; the overflow is counted and warned about
once per key. The cap is per worker process (first come, first kept).
"""

from __future__ import annotations

import logging
from collections import Counter

from pipeline.normalize import Point

OTHER = "__other__"
PROTECTED_KEYS = frozenset({"source_module", "environment", "event_type", "severity", "payload"})
log = logging.getLogger(__name__)
_ADMITTED_LIMIT = 100_000
"""Tag sets remembered as admitted (a fast path only; beyond it each value is checked)."""


class CardinalityGuard:
    def __init__(self, max_values_per_key: int = 1000) -> None:
        self.max_values = max_values_per_key
        self._seen: dict[str, set[str]] = {}
        self.overflow: Counter[str] = Counter()
        self._admitted: set[tuple[tuple[str, str], ...]] = set()  # tag sets wholly within caps

    def _admit(self, key: str, value: str) -> str:
        values = self._seen.get(key)
        if values is None:
            values = self._seen[key] = set()
        if value in values:
            return value
        if len(values) < self.max_values or key in PROTECTED_KEYS:
            values.add(value)
            return value
        if not self.overflow[key]:
            log.warning(
                "tag %r passed %d distinct values; further values are folded into %r "
                "(raise HUB_MAX_TAG_VALUES if this is expected)",
                key,
                self.max_values,
                OTHER,
            )
        self.overflow[key] += 1
        return OTHER

    def apply(self, point: Point) -> Point:
        tags = self.admit(point.tags)
        if tags is point.tags:
            return point
        return Point(point.measurement, point.timestamp, tags, point.fields)

    def admit(self, tags: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        """The series' tags within the caps: the same object when nothing was folded."""
        if tags in self._admitted:
            return tags  # every value already admitted: admitted values stay admitted
        admitted = tuple((k, self._admit(k, v)) for k, v in tags)
        if admitted == tags:
            if len(self._admitted) < _ADMITTED_LIMIT:
                self._admitted.add(tags)
            return tags
        return admitted
