"""Threshold alerts configured in YAML, beside the learned detectors.

The learned detectors (:mod:`pipeline.detection.metric_detection`) find what is unusual
for a series; some questions have a fixed answer instead: a budget past 80 %,
a model failing more than 5 % of its requests, a tenant spending more than
$100 an hour. A :class:`Rule` states one of them; :class:`RuleEngine` judges
closed-window results against the rules and returns the same :class:`Alert`
messages as the detectors (episodes that start, escalate and end), so the
anomalies topic carries both. Pure logic: no Kafka, no clock; the schema and
the episode semantics are in docs/RULES.md.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from pipeline.correlation.incidents import SeriesKey
from pipeline.detection.metric_detection import _ID_NAMESPACE, Alert, Phase, _module
from pipeline.ingest.normalize import COUNTER_FIELDS, GAUGE_FIELDS, LATENCY_FIELDS
from pipeline.models.correlation import AnomalyEvent, AnomalyType
from pipeline.models.events import SourceModule
from pipeline.models.metrics import (
    AggregatedMetric,
    CounterValues,
    GaugeValues,
    MetricValues,
    StatisticalMeasures,
    TimeWindow,
)

__all__ = [
    "DEFAULT_RULES_FILE",
    "KNOWN_METRICS",
    "LEVEL_SCORES",
    "RULE_PREFIX",
    "STATS",
    "Direction",
    "EngineLimits",
    "Level",
    "Rule",
    "RuleEngine",
    "RuleError",
    "load_rules",
    "metric_shape",
    "parse_rules",
    "rule_name",
]

DEFAULT_RULES_FILE = Path(
    os.environ.get("HUB_RULES_FILE") or Path(__file__).resolve().parents[1] / "data" / "rules.yaml"
)
RULE_PREFIX = "rule:"
"""``AnomalyEvent.metric`` of a rule alert is ``rule:<rule name>``: one prefix to filter on."""
MAX_ROLLING_WINDOWS = 1_440
"""``over`` may span at most this many windows (a day of 1m windows): the buffer per group."""


class RuleError(ValueError):
    """A rules file that cannot be used; the message lists every problem found."""


class Level(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    WARNING = "warning"
    CRITICAL = "critical"


LEVEL_SCORES: dict[Level, float] = {Level.WARNING: 0.6, Level.CRITICAL: 0.9}
"""``anomaly_score`` of a rule alert: fixed per level, critical in the spec's ≥ 0.8 band."""
_RANK = {Level.WARNING: 0, Level.CRITICAL: 1}


class Direction(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    ABOVE = "above"
    """The condition holds when the value is at or above a level (a ``spike`` alert)."""
    BELOW = "below"
    """The condition holds when the value is at or below a level (a ``drop`` alert)."""


# --- the metrics a rule can name -------------------------------------------------------------

_FIELDS: dict[str, tuple[str, ...]] = {
    "hub_events": ("count",),
    "llm_latency": LATENCY_FIELDS,
    "llm_throughput": ("requests_per_second", "tokens_per_second", "concurrent_requests"),
    "llm_errors": ("total_requests", "failed_requests", "error_rate_percent"),
    "llm_token_usage": ("prompt_tokens", "completion_tokens", "total_tokens"),
    "llm_model_performance": ("accuracy", "quality_score", "user_satisfaction"),
    "security_threats": ("count",),
    "security_vulnerabilities": ("count", "severity_score"),
    "security_compliance_violations": ("count",),
    "security_auth": ("attempts", "failures"),
    "security_privacy": ("operations", "data_subjects", "without_consent"),
    "cost_tokens": ("total_cost_usd", "prompt_tokens", "completion_tokens", "total_tokens"),
    "cost_api": ("total_cost_usd", "request_count"),
    "cost_resources": ("cost_usd", "quantity", "utilization_percent"),
    "cost_budget": ("current_spend_usd", "budget_limit_usd", "spend_percent"),
    "governance_policy_violations": ("count", "violated_rules"),
    "governance_audit": ("count",),
    "governance_compliance": ("score", "passed", "findings"),
    "governance_lineage": ("count", "path_length"),
}
"""What pipeline/ingest/normalize.py publishes (docs/MEASUREMENTS.md): a misspelt metric name
must fail at load time, not match nothing forever. tests/unit/correlation/test_rules.py checks the
table against the normaliser."""
_CUSTOM = "llm_model_performance.custom."
KNOWN_METRICS: tuple[str, ...] = tuple(f"{m}.{f}" for m, fields in _FIELDS.items() for f in fields)

_SHAPE_STATS: dict[str, tuple[str, ...]] = {
    "counter": ("value", "rate"),
    "gauge": ("value",),
    "statistics": ("avg", "min", "max", "p50", "p95", "p99", "sum", "count"),
}
STATS: tuple[str, ...] = ("value", "rate", "avg", "min", "max", "p50", "p95", "p99", "sum", "count")
_ADDITIVE = {
    ("counter", "value"),
    ("counter", "rate"),
    ("statistics", "sum"),
    ("statistics", "count"),
}
"""Stats whose values add up across series and windows; the rest combine to the worst."""
_WINDOWS: dict[str, TimeWindow] = {w.label: w for w in TimeWindow} | {"30d": TimeWindow.one_month}
_WINDOW_LABELS = "1m, 5m, 15m, 1h, 6h, 1d, 1w, 30d"
_UNIT_SECONDS = {"m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def metric_shape(name: str) -> str | None:
    """``counter``, ``gauge`` or ``statistics`` for a published metric name, else None."""
    measurement, _, name_field = name.partition(".")
    if name.startswith(_CUSTOM) and len(name) > len(_CUSTOM):
        return "statistics"
    if name_field not in _FIELDS.get(measurement, ()):
        return None
    if (measurement, name_field) in COUNTER_FIELDS:
        return "counter"
    if (measurement, name_field) in GAUGE_FIELDS:
        return "gauge"
    return "statistics"


# --- rules -----------------------------------------------------------------------------------

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert condition; built by :func:`parse_rules`, which checks every field.

    ``inputs`` is one metric, or (numerator, denominator) for a ratio. ``levels``
    is ordered by severity (warning first). ``over_s`` > 0 makes it a rolling sum
    over that many seconds of ``window`` results.
    """

    name: str
    inputs: tuple[str, ...]
    stat: str
    window: TimeWindow
    direction: Direction
    levels: tuple[tuple[Level, float], ...]
    additive: bool
    where: Tags = ()
    by: tuple[str, ...] = ()
    over_s: int = 0
    scale: float = 100.0
    min_denominator: float = 0.0
    description: str = ""

    @property
    def kind(self) -> str:
        return "ratio" if len(self.inputs) == 2 else "rolling" if self.over_s else "threshold"

    @property
    def span(self) -> int:
        """Windows one evaluation looks at: 1, or ``over`` ÷ ``window``."""
        return self.over_s // self.window.seconds if self.over_s else 1

    @property
    def metric(self) -> str:
        """``AnomalyEvent.metric`` of this rule's alerts."""
        return RULE_PREFIX + self.name

    def level_of(self, value: float) -> Level | None:
        """The most severe level the value reaches (levels are inclusive), or None."""
        reached = None
        for level, threshold in self.levels:
            if value >= threshold if self.direction is Direction.ABOVE else value <= threshold:
                reached = level
        return reached

    def threshold(self, level: Level) -> float:
        return dict(self.levels)[level]


def rule_name(alert: Alert) -> str | None:
    """The rule that raised an alert (for the ``hub.rule`` header), None for learned alerts."""
    metric = alert.event.metric
    return metric[len(RULE_PREFIX) :] if metric.startswith(RULE_PREFIX) else None


# --- loading ---------------------------------------------------------------------------------

_RULE_KEYS = (
    "name",
    "description",
    "metric",
    "ratio",
    "stat",
    "window",
    "over",
    "where",
    "by",
    "above",
    "below",
    "min_denominator",
)
_RATIO_KEYS = ("numerator", "denominator", "scale")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class _StrictLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a rules file must not lose a threshold so."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.Node) -> dict[Any, Any]:
    assert isinstance(node, yaml.MappingNode)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, str | int | float | bool):
            continue  # unhashable keys: construct_mapping says what is wrong with them
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def load_rules(path: Path | str = DEFAULT_RULES_FILE) -> list[Rule]:
    """Read and check a rules file; :class:`RuleError` lists every problem in it."""
    with open(path, encoding="utf-8") as handle:
        return parse_rules(handle.read(), source=str(path))


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    """Check a rules document (YAML with a ``rules:`` list); see docs/RULES.md."""
    try:
        doc = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise RuleError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or "rules" not in doc:
        raise RuleError(f"{source}: expected a mapping with a 'rules:' list at the top")
    unknown = [str(k) for k in doc if k != "rules"]
    problems = [f"top level: {k}: unknown key; only 'rules' is allowed" for k in unknown]
    raw_rules = doc["rules"]
    if raw_rules is None:
        raw_rules = []
    if not isinstance(raw_rules, list):
        raise RuleError(f"{source}: 'rules' must be a list of rules (each starting with '- ')")
    rules: list[Rule] = []
    first_seen: dict[str, int] = {}
    for position, raw in enumerate(raw_rules, start=1):
        rule = _parse_rule(raw, position, problems)
        if rule is None:
            continue
        if rule.name in first_seen:
            problems.append(
                f"rule {rule.name!r} (#{position}): name: also the name of rule "
                f"#{first_seen[rule.name]}; names must be unique"
            )
            continue
        first_seen[rule.name] = position
        rules.append(rule)
    if problems:
        raise RuleError(f"{source}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return rules


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _duration(text: str) -> int | None:
    match = re.fullmatch(r"([1-9][0-9]*)([mhdw])", text)
    return int(match[1]) * _UNIT_SECONDS[match[2]] if match else None


def _parse_rule(raw: Any, position: int, problems: list[str]) -> Rule | None:
    """One rule, or None with its problems appended (each naming the rule and field)."""
    if not isinstance(raw, dict):
        problems.append(f"rule #{position}: must be a mapping (name: ..., metric: ..., ...)")
        return None
    name = raw.get("name")
    named = isinstance(name, str) and _NAME.fullmatch(name) is not None
    label = f"rule {name!r} (#{position})" if named else f"rule #{position}"
    before = len(problems)

    def bad(key: str, message: str) -> None:
        problems.append(f"{label}: {key}: {message}")

    for key in raw:
        if key not in _RULE_KEYS:
            bad(
                str(key),
                f"unknown field{_suggest(str(key), _RULE_KEYS)}; "
                f"known fields: {', '.join(_RULE_KEYS)}",
            )
    if name is None:
        bad("name", "missing; every rule needs a unique name (it names its alerts)")
    elif not named:
        bad("name", f"{name!r} must be letters, digits, '_', '.' or '-' (it becomes rule:<name>)")
    description = raw.get("description", "")
    if not isinstance(description, str):
        bad("description", "must be text")

    inputs = _parse_inputs(raw, bad)
    scale = 100.0
    if isinstance(raw.get("ratio"), dict):
        scale = raw["ratio"].get("scale", 100.0)
        if not _is_number(scale) or scale <= 0:
            bad("ratio.scale", f"{scale!r} must be a positive number (100 for percent)")

    window = None
    window_label = raw.get("window")
    if window_label is None:
        bad("window", f"missing; the window of the input results, one of {_WINDOW_LABELS}")
    elif not isinstance(window_label, str) or window_label not in _WINDOWS:
        bad("window", f"{window_label!r} is not a window; use one of {_WINDOW_LABELS}")
    else:
        window = _WINDOWS[window_label]

    stat = raw.get("stat")
    additive = False
    if stat is None:
        bad("stat", f"missing; one of {', '.join(STATS)}")
    elif stat not in STATS:
        bad(
            "stat",
            f"{stat!r} is not a stat{_suggest(str(stat), STATS)}; use one of {', '.join(STATS)}",
        )
    else:
        shapes = [(metric, metric_shape(metric)) for metric in inputs]
        for metric, shape in shapes:
            if shape is not None and stat not in _SHAPE_STATS[shape]:
                bad(
                    "stat",
                    f"{stat!r} does not apply to {metric}, published as {shape} "
                    f"({', '.join(_SHAPE_STATS[shape])})",
                )
        additive = all((shape, stat) in _ADDITIVE for _, shape in shapes)
        if len(inputs) == 2 and not additive and all(s is not None for _, s in shapes):
            bad(
                "stat",
                f"{stat!r} does not add up across series; a ratio needs sum, count, "
                "or a counter's value or rate",
            )

    over_s = 0
    over = raw.get("over")
    if over is not None:
        seconds = _duration(over) if isinstance(over, str) else None
        if seconds is None:
            bad("over", f"{over!r} must be a duration such as 30m, 1h, 6h or 1d")
        elif window is not None:
            windows = seconds / window.seconds
            if windows != int(windows) or windows < 2:
                bad(
                    "over",
                    f"{over} must be a multiple of the window ({window_label}) and at "
                    "least two windows (for one window, leave 'over' out)",
                )
            elif windows > MAX_ROLLING_WINDOWS:
                bad(
                    "over",
                    f"{over} spans {int(windows)} {window_label} windows; at most "
                    f"{MAX_ROLLING_WINDOWS}: use a larger window",
                )
            else:
                over_s = seconds
        if stat == "rate" or (stat in STATS and not additive and inputs):
            bad(
                "over",
                f"a rolling sum needs a stat that adds up over windows (sum, count or "
                f"a counter's value), not {stat!r}",
            )

    where = _parse_where(raw.get("where"), bad)
    by = _parse_by(raw.get("by"), bad)
    direction, levels = _parse_levels(raw, bad)

    min_denominator = raw.get("min_denominator", 0.0)
    if "min_denominator" in raw and "ratio" not in raw:
        bad("min_denominator", "only applies to a ratio rule")
    elif not _is_number(min_denominator) or min_denominator < 0:
        bad("min_denominator", f"{min_denominator!r} must be a number ≥ 0")

    if len(problems) > before or window is None or direction is None:
        return None
    return Rule(
        name=str(name),
        inputs=inputs,
        stat=str(stat),
        window=window,
        direction=direction,
        levels=levels,
        additive=additive,
        where=where,
        by=by,
        over_s=over_s,
        scale=float(scale),
        min_denominator=float(min_denominator),
        description=description,
    )


_Bad = Callable[[str, str], None]
"""Records one problem: (field, message)."""


def _check_metric(key: str, value: Any, bad: _Bad) -> str | None:
    if not isinstance(value, str):
        bad(key, f"{value!r} must be a metric name such as llm_errors.failed_requests")
        return None
    if metric_shape(value) is None:
        bad(
            key,
            f"unknown metric {value!r}{_suggest(value, KNOWN_METRICS)}; names are "
            "<measurement>.<field> as listed in docs/MEASUREMENTS.md",
        )
        return None
    return value


def _parse_inputs(raw: dict[str, Any], bad: _Bad) -> tuple[str, ...]:
    """The metric, or the ratio's numerator and denominator (empty when invalid)."""
    has_metric, has_ratio = "metric" in raw, "ratio" in raw
    if has_metric == has_ratio:
        which = "both given" if has_metric else "missing"
        bad(
            "metric",
            f"{which}: give either metric (one metric) or ratio "
            "(numerator and denominator), not both",
        )
        return ()
    if has_metric:
        metric = _check_metric("metric", raw["metric"], bad)
        return (metric,) if metric else ()
    ratio = raw["ratio"]
    if not isinstance(ratio, dict):
        bad("ratio", "must be a mapping with numerator and denominator metrics")
        return ()
    for key in ratio:
        if key not in _RATIO_KEYS:
            bad(
                f"ratio.{key}",
                f"unknown field{_suggest(str(key), _RATIO_KEYS)}; known: {', '.join(_RATIO_KEYS)}",
            )
    parts = []
    for key in ("numerator", "denominator"):
        if key not in ratio:
            bad(f"ratio.{key}", "missing; a metric name")
        else:
            parts.append(_check_metric(f"ratio.{key}", ratio[key], bad))
    if len(parts) == 2 and parts[0] and parts[0] == parts[1]:
        bad("ratio", "numerator and denominator are the same metric")
        return ()
    return tuple(p for p in parts if p) if all(parts) and len(parts) == 2 else ()


def _parse_where(where: Any, bad: _Bad) -> Tags:
    if where is None:
        return ()
    if not isinstance(where, dict):
        bad("where", "must be a mapping of tag: value, e.g. {environment: production}")
        return ()
    out = []
    for key, value in where.items():
        if not isinstance(key, str) or not key:
            bad("where", f"tag name {key!r} must be text")
        elif not isinstance(value, str):
            bad(
                f"where.{key}",
                f'{value!r} is not text; tag values are strings: quote it ({key}: "{value}")',
            )
        else:
            out.append((key, value))
    return tuple(sorted(out))


def _parse_by(by: Any, bad: _Bad) -> tuple[str, ...]:
    if by is None:
        return ()
    if not isinstance(by, list) or not all(isinstance(k, str) and k for k in by):
        bad("by", f"{by!r} must be a list of tag names, e.g. [model_id]")
        return ()
    if len(set(by)) != len(by):
        bad("by", "names a tag twice")
    return tuple(sorted(set(by)))


def _parse_levels(
    raw: dict[str, Any], bad: _Bad
) -> tuple[Direction | None, tuple[tuple[Level, float], ...]]:
    given = [d for d in Direction if d.value in raw]
    if len(given) != 1:
        which = "both given" if given else "missing"
        bad(
            "above",
            f"{which}: give exactly one of above or below, e.g. "
            "above: {warning: 80, critical: 100}",
        )
        return None, ()
    direction = given[0]
    key = direction.value
    spec = raw[key]
    if not isinstance(spec, dict) or not spec:
        bad(key, f"{spec!r} must map levels to thresholds, e.g. {{warning: 80, critical: 100}}")
        return None, ()
    levels = []
    for name, threshold in spec.items():
        try:
            level = Level(name)
        except ValueError:
            bad(
                f"{key}.{name}",
                f"unknown level{_suggest(str(name), [lv.value for lv in Level])}"
                "; use warning and/or critical",
            )
            continue
        if not _is_number(threshold):
            bad(f"{key}.{name}", f"{threshold!r} must be a number (no unit, no %)")
            continue
        levels.append((level, float(threshold)))
    if len(levels) != len(spec):
        return None, ()
    levels.sort(key=lambda pair: _RANK[pair[0]])
    if len(levels) == 2:
        (_, warning), (_, critical) = levels
        if direction is Direction.ABOVE and not warning < critical:
            bad(key, f"warning ({warning:g}) must be below critical ({critical:g})")
        if direction is Direction.BELOW and not warning > critical:
            bad(key, f"warning ({warning:g}) must be above critical ({critical:g}) for 'below'")
    return direction, tuple(levels)


# --- the engine ------------------------------------------------------------------------------

SlotKey = tuple[int, Tags]
"""(input index, the series' full tags): one window result's place in a group's window."""
_OVERFLOW: Tags = (("__other__", "__other__"),)


@dataclass(frozen=True, slots=True)
class EngineLimits:
    """Bounds on the engine's memory (per rule)."""

    idle_windows: int = 60
    """A group with no result for this many windows (or its ``over``, if longer) is
    dropped; an open episode ends then."""
    max_groups: int = 10_000
    """Groups kept per rule; beyond it the least recently seen is dropped."""
    max_series: int = 1_000
    """Series kept apart per group and window; beyond it they are summed into one
    (a duplicate of such a result is then counted twice)."""


@dataclass(slots=True)
class _Episode:
    event: AnomalyEvent
    peak: Level


@dataclass(slots=True)
class _Group:
    tags: Tags
    slots: dict[float, dict[SlotKey, float]] = field(default_factory=dict)
    newest: float = -math.inf
    expected: frozenset[SlotKey] = frozenset()
    """Slot keys of the group's previous window: the current one is complete once it has them."""
    episode: _Episode | None = None
    last_value: float = 0.0


def _stat_of(values: MetricValues, stat: str) -> float | None:
    """The rule's stat of one window result, None when the result has another shape."""
    if isinstance(values, CounterValues):
        return float(values.value) if stat == "value" else values.rate if stat == "rate" else None
    if isinstance(values, GaugeValues):
        return values.value if stat == "value" else None
    if isinstance(values, StatisticalMeasures) and stat in _SHAPE_STATS["statistics"]:
        return float(getattr(values, stat))
    return None


def _moment(start: float) -> datetime:
    return datetime.fromtimestamp(start, UTC)


class _RuleState:
    """One rule's groups: buffered window values and the open episode of each."""

    def __init__(self, rule: Rule, limits: EngineLimits, skipped: Counter[str]) -> None:
        self.rule = rule
        self.limits = limits
        self.skipped = skipped
        self.size = rule.window.seconds
        self.idle_s = max(limits.idle_windows, rule.span) * self.size
        self.groups: OrderedDict[Tags, _Group] = OrderedDict()
        self.latest = -math.inf
        self.swept = -math.inf
        self.series_name = f"{rule.metric}@{rule.window.value}"

    def observe(self, metric: AggregatedMetric, index: int) -> list[Alert]:
        rule, tags = self.rule, metric.tags
        if any(tags.get(key) != value for key, value in rule.where):
            return []
        value = _stat_of(metric.values, rule.stat)
        if value is None or not math.isfinite(value):
            self.skipped[f"{rule.name}: no {rule.stat} in the result"] += 1
            return []
        if any(key not in tags for key in rule.by):
            self.skipped[f"{rule.name}: missing a 'by' tag"] += 1
            return []
        start = metric.window_start.timestamp()
        if start < self.latest - self.idle_s:
            self.skipped[f"{rule.name}: too late"] += 1
            return []
        alerts = self._advance(start)
        group_tags = tuple((key, tags[key]) for key in rule.by)
        group = self.groups.get(group_tags)
        if group is None:
            group = self.groups[group_tags] = _Group(group_tags)
            if len(self.groups) > self.limits.max_groups:
                _, oldest = self.groups.popitem(last=False)
                alerts += self._end(oldest, start)
        else:
            self.groups.move_to_end(group_tags)
        if start <= group.newest - rule.span * self.size:
            self.skipped[f"{rule.name}: too late"] += 1
            return alerts
        if start > group.newest:
            if group.newest > -math.inf:  # a later window closes the previous one: judge it
                alerts += self._evaluate(group, group.newest)
                group.expected = frozenset(group.slots.get(group.newest, ()))
            group.newest = start
            horizon = start - rule.span * self.size
            for old in [s for s in group.slots if s <= horizon]:
                del group.slots[old]
        slot = group.slots.setdefault(start, {})
        key: SlotKey = (index, tuple(sorted(tags.items())))
        if key in slot or len(slot) < self.limits.max_series:
            slot[key] = value  # a repeat of a result replaces it
        else:
            key = (index, _OVERFLOW)
            slot[key] = slot.get(key, 0.0) + value
        if start == group.newest and self._complete(group, slot):
            alerts += self._evaluate(group, start)
        return alerts

    def _complete(self, group: _Group, slot: dict[SlotKey, float]) -> bool:
        """Every series the previous window had is there, each with all its inputs."""
        if not group.expected <= slot.keys():
            return False
        if len(self.rule.inputs) == 1:
            return bool(slot)
        numerators = {series for index, series in slot if index == 0}
        return bool(numerators) and numerators == {series for index, series in slot if index}

    def _advance(self, start: float) -> list[Alert]:
        """Drop groups idle for ``idle_s`` (once per window of progress)."""
        if start <= self.latest:
            return []
        self.latest = start
        if start - self.swept < self.size:
            return []
        self.swept = start
        cutoff = start - self.idle_s
        alerts = []
        for tags in [t for t, g in self.groups.items() if g.newest < cutoff]:
            alerts += self._end(self.groups.pop(tags), start)
        return alerts

    def _measure(self, group: _Group, at: float) -> tuple[float, bool] | None:
        """(value, judged) of the window starting at ``at``; None if it has no usable result.

        A ratio counts only series with both halves in a window (a half whose other
        half is late is left out). Not judged: a ratio whose denominator is 0 or
        below ``min_denominator``.
        """
        rule = self.rule
        slot = group.slots.get(at, {})
        ratio = len(rule.inputs) == 2
        if ratio:
            usable = any(index == 0 and (1, series) in slot for index, series in slot)
        else:
            usable = bool(slot)
        if not usable:
            return None
        if not rule.additive:
            worst = max if rule.direction is Direction.ABOVE else min
            return worst(slot.values()), True
        totals = [0.0, 0.0]
        horizon = at - rule.span * self.size
        for start, values in group.slots.items():
            if horizon < start <= at:  # missing windows add nothing
                for (index, series), value in values.items():
                    if not ratio or (1 - index, series) in values:
                        totals[index] += value
        if not ratio:
            return totals[0], True
        numerator, denominator = totals
        value = rule.scale * numerator / denominator if denominator > 0 else 0.0
        return value, denominator > 0 and denominator >= rule.min_denominator

    def _source(self, group: _Group, at: float) -> SourceModule:
        """The source module shared by the window's series, else the hub itself."""
        modules = {dict(series).get("source_module", "") for _, series in group.slots.get(at, {})}
        modules.discard("")
        return _module({"source_module": modules.pop()}) if len(modules) == 1 else _module({})

    def _evaluate(self, group: _Group, at: float) -> list[Alert]:
        """Judge one window of a group: an episode starts, escalates or ends."""
        measured = self._measure(group, at)
        if measured is None:
            return []
        value, judged = measured
        group.last_value = value
        rule = self.rule
        level = rule.level_of(value) if judged else None
        episode = group.episode
        moment = _moment(at)
        key: SeriesKey = (self.series_name, group.tags)
        if episode is None:
            if level is None:
                return []
            threshold = rule.threshold(level)
            event = AnomalyEvent(
                event_id=uuid.uuid5(
                    _ID_NAMESPACE, f"rule|{rule.name}|{group.tags!r}|{moment.isoformat()}"
                ),
                source_module=self._source(group, at),
                anomaly_type=(
                    AnomalyType.SPIKE if rule.direction is Direction.ABOVE else AnomalyType.DROP
                ),
                anomaly_score=LEVEL_SCORES[level],
                baseline=threshold,
                observed=value,
                deviation=value - threshold,
                timestamp=moment,
                metric=rule.metric,
            )
            group.episode = _Episode(event, level)
            return [Alert(event, Phase.STARTED, key, self.size, raised_at=moment)]
        if level is None:
            group.episode = None
            ended = self._at_peak(episode, value)
            return [Alert(ended, Phase.ENDED, key, self.size, ended_at=moment, raised_at=moment)]
        if _RANK[level] > _RANK[episode.peak]:
            episode.peak = level
            update = self._at_peak(episode, value)
            return [Alert(update, Phase.ESCALATED, key, self.size, raised_at=moment)]
        return []

    def _at_peak(self, episode: _Episode, value: float) -> AnomalyEvent:
        threshold = self.rule.threshold(episode.peak)
        return episode.event.model_copy(
            update={
                "anomaly_score": LEVEL_SCORES[episode.peak],
                "baseline": threshold,
                "observed": value,
                "deviation": value - threshold,
            }
        )

    def _end(self, group: _Group, at: float) -> list[Alert]:
        """A dropped group's open episode ends (observed: the last value judged)."""
        if group.episode is None:
            return []
        ended = self._at_peak(group.episode, group.last_value)
        key: SeriesKey = (self.series_name, group.tags)
        moment = _moment(at)
        return [Alert(ended, Phase.ENDED, key, self.size, ended_at=moment, raised_at=moment)]

    def flush(self) -> list[Alert]:
        alerts = []
        for group in self.groups.values():
            if group.newest > -math.inf:
                alerts += self._evaluate(group, group.newest)
        return alerts


class RuleEngine:
    """Judges closed-window results against rules; returns episode alerts.

    Feed it every result of the metric topics (any window; results no rule names
    are ignored cheaply), roughly in event-time order per series.
    """

    def __init__(self, rules: Iterable[Rule], limits: EngineLimits | None = None) -> None:
        self.rules = tuple(rules)
        self.limits = limits or EngineLimits()
        self.skipped: Counter[str] = Counter()
        """Results a rule matched by name but could not use, by rule and reason."""
        self._states = [_RuleState(rule, self.limits, self.skipped) for rule in self.rules]
        self._index: dict[tuple[str, TimeWindow], list[tuple[_RuleState, int]]] = {}
        for state in self._states:
            for index, name in enumerate(state.rule.inputs):
                self._index.setdefault((name, state.rule.window), []).append((state, index))

    @property
    def groups(self) -> int:
        """Groups held over all rules (the engine's memory is proportional to it)."""
        return sum(len(state.groups) for state in self._states)

    def observe(self, metric: AggregatedMetric) -> list[Alert]:
        """One closed-window result: the alerts of the episodes it starts, escalates or ends."""
        alerts: list[Alert] = []
        for state, index in self._index.get((metric.name, metric.window), ()):
            alerts += state.observe(metric, index)
        return alerts

    def flush(self) -> list[Alert]:
        """Judge every group's latest window as it is (the end of a replay or backtest)."""
        alerts: list[Alert] = []
        for state in self._states:
            alerts += state.flush()
        return alerts
