"""The topic catalogue (topics.yaml): pure parsing and the Kafka configs it implies."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TOPICS_FILE = Path(
    os.environ.get("HUB_TOPICS_FILE")
    or Path(__file__).resolve().parents[1] / "data" / "topics.yaml"
)
_ROLES = {
    "input",
    "metrics",
    "histograms",
    "anomalies",
    "correlations",
    "composites",
    "event-correlations",
    "event-graphs",
    "assets",
    "policies",
    "dead-letter",
    "late",
    "internal",
    "detect",
    "correlate",
    "changelog",
    "detect-state",
    "correlate-state",
    "chain-events",
    "chains-state",
    "tag-values",
}
_MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    role: str
    partitions: int
    replication_factor: int
    cleanup_policy: str
    retention_ms: int
    module: str | None = None
    window: str | None = None

    def configs(self) -> dict[str, str]:
        """Broker-side topic configs we own and keep in line on every apply."""
        if self.cleanup_policy == "compact":
            return {"cleanup.policy": "compact"}
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}


@dataclass(frozen=True)
class Catalogue:
    topics: tuple[TopicSpec, ...]

    def by_role(self, role: str) -> list[TopicSpec]:
        return [t for t in self.topics if t.role == role]

    def input_topic(self, module: str) -> TopicSpec:
        for topic in self.by_role("input"):
            if topic.module == module:
                return topic
        raise KeyError(f"no input topic for module {module!r} in topics.yaml")

    def metrics_topic(self, window: str) -> TopicSpec:
        return self._window_topic("metrics", window)

    def histograms_topic(self, window: str) -> TopicSpec:
        return self._window_topic("histograms", window)

    def _window_topic(self, role: str, window: str) -> TopicSpec:
        for topic in self.by_role(role):
            if topic.window == window:
                return topic
        raise KeyError(f"no {role} topic for window {window!r} in topics.yaml")

    def one(self, role: str) -> TopicSpec:
        found = self.by_role(role)
        if len(found) != 1:
            raise KeyError(f"expected one topic with role {role!r}, found {len(found)}")
        return found[0]


def parse_catalogue(
    doc: dict[str, Any], prefix: str = "", app_id: str = "llm-analytics-hub"
) -> Catalogue:
    """Validate the YAML document; errors name the offending topic and key."""
    defaults = doc.get("defaults", {})
    seen: set[str] = set()
    topics = []
    for i, raw in enumerate(doc.get("topics", [])):
        where = f"topics[{i}] ({raw.get('name', '?')})"
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: 'name' is required")
        if name in seen:
            raise ValueError(f"{where}: duplicate topic name")
        seen.add(name)
        role = raw.get("role")
        if role not in _ROLES:
            raise ValueError(f"{where}: role must be one of {sorted(_ROLES)}, got {role!r}")
        retention_days = raw.get("retention_days")
        if not isinstance(retention_days, int) or retention_days <= 0:
            raise ValueError(f"{where}: retention_days must be a positive integer")
        topics.append(
            TopicSpec(
                name=name.format(app_id=app_id) if "{app_id}" in name else prefix + name,
                role=role,
                partitions=int(raw.get("partitions", defaults.get("partitions", 4))),
                replication_factor=int(
                    raw.get("replication_factor", defaults.get("replication_factor", 1))
                ),
                cleanup_policy=str(raw.get("cleanup_policy", "delete")),
                retention_ms=retention_days * _MS_PER_DAY,
                module=raw.get("module"),
                window=raw.get("window"),
            )
        )
    return Catalogue(tuple(topics))


def load_catalogue(
    path: Path | str = DEFAULT_TOPICS_FILE, prefix: str = "", app_id: str = "llm-analytics-hub"
) -> Catalogue:
    with open(path, encoding="utf-8") as handle:
        return parse_catalogue(yaml.safe_load(handle), prefix, app_id)


SOURCE_HEADER = "hub.source"
"""Kafka header on each window result and detection-topic record: the ``hub.points``
partition that aggregated it (on ``hub.correlate``: the detection partition).
Silences are judged per source (an empty window is proven only by that partition's
later results), so a partition that lags in a catch-up silences nothing."""

KIND_HEADER = "hub.kind"
"""Kafka header on a detection-topic record: ``metric``, ``histogram`` or ``mark`` (a
mark's value is the moment through which its source partition has closed its windows)."""

WINDOW_HEADER = "hub.window_s"
"""Kafka header on a histogram of the detection topic: its window's size in seconds."""

TAGS_HEADER = "hub.tags"
"""Kafka header on each anomaly record: the alerted series' tags as a JSON object (the
wire format's AnomalyEvent names the metric, not which of its series)."""

RAISED_HEADER = "hub.raised_at"
"""Kafka header on an anomaly record: the window whose result raised it (the event's
``timestamp`` is the episode's first window; an episode may be raised a window later)."""
