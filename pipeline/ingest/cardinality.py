"""Cardinality: at most ``HUB_MAX_TAG_VALUES`` distinct values per tag key.

Values beyond the cap become ``__other__`` (counted, warned about once per key), so one
producer cannot exhaust memory with a tag per request. Which values are kept is one
decision for every ingest process (:mod:`pipeline.ingest.tag_admission`); the keys that name
where an event comes from are never capped.
"""

from __future__ import annotations

OTHER = "__other__"
PROTECTED_KEYS = frozenset({"source_module", "environment", "event_type", "severity", "payload"})
