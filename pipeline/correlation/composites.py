"""Composite (cross-module) metrics of each closed window (SEED_DATA_MODELS "Composite Metrics").

The hub's own window results are the input: :class:`CompositeBuilder` reads the
``AggregatedMetric`` messages of the metric topics one at a time, groups them by
window size, window start and ``environment`` tag, and when a group is complete
derives cost per request, error-adjusted throughput, security-adjusted cost
efficiency, compliance-weighted performance and a system health score. Each
comes out twice (:class:`CompositeResult`): as the spec's ``CompositeMetric``
(for ``hub.composites``) and as a ``hub_composite.<name>`` gauge
``AggregatedMetric`` (for ``hub.metrics.<window>``), so the anomaly detector and
any other consumer of the metric topics can use it unchanged.

Completeness: a close publishes every result of a window together, so a group is
complete once a result of a later window of the same size arrives
(``close_after_windows`` later windows, 1 by default), or, on a quiet stream, when
:meth:`CompositeBuilder.flush` finds it settled. A composite whose inputs are
missing is not emitted; nothing is made up as zero. Definitions, weights and
their reasons: ``docs/COMPOSITES.md``. State lives in memory, like the detectors'.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from pipeline.models.events import SourceModule
from pipeline.models.metrics import (
    AggregatedMetric,
    ComponentMetric,
    CompositeMetric,
    CounterValues,
    GaugeValues,
    MetricValues,
    StatisticalMeasures,
    TimeWindow,
)
from pipeline.wire.scalars import format_timestamp

__all__ = [
    "COMPLIANCE_WEIGHTED_PERFORMANCE",
    "COMPOSITE_INPUTS",
    "COMPOSITE_NAMES",
    "COMPOSITE_PREFIX",
    "COST_PER_REQUEST",
    "ERROR_ADJUSTED_THROUGHPUT",
    "HEALTH_WEIGHTS",
    "SECURITY_ADJUSTED_COST_EFFICIENCY",
    "SYSTEM_HEALTH_SCORE",
    "CompositeBuilder",
    "CompositeConfig",
    "CompositeResult",
    "CompositeStats",
    "composite_id",
    "window_composites",
]

COMPOSITE_PREFIX = "hub_composite."
"""Name prefix of the gauges this module publishes; inputs carrying it are ignored."""

COST_PER_REQUEST = "cost_per_request"
ERROR_ADJUSTED_THROUGHPUT = "error_adjusted_throughput"
SECURITY_ADJUSTED_COST_EFFICIENCY = "security_adjusted_cost_efficiency"
COMPLIANCE_WEIGHTED_PERFORMANCE = "compliance_weighted_performance"
SYSTEM_HEALTH_SCORE = "system_health_score"
COMPOSITE_NAMES: tuple[str, ...] = (
    COST_PER_REQUEST,
    ERROR_ADJUSTED_THROUGHPUT,
    SECURITY_ADJUSTED_COST_EFFICIENCY,
    COMPLIANCE_WEIGHTED_PERFORMANCE,
    SYSTEM_HEALTH_SCORE,
)
"""Also the field names of :class:`CrossModuleMetrics`."""

HEALTH_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"latency": 0.25, "errors": 0.30, "security": 0.20, "compliance": 0.15, "budget": 0.10}
)
"""Health score weights (sum 1): what users feel first (errors, latency), then risk."""

_HUB = SourceModule.LLM_ANALYTICS_HUB.value
_OBSERVATORY = SourceModule.LLM_OBSERVATORY.value
_SENTINEL = SourceModule.LLM_SENTINEL.value
_COST = SourceModule.LLM_COST_OPS.value
_GOVERNANCE = SourceModule.LLM_GOVERNANCE_DASHBOARD.value

# Input metrics (docs/MEASUREMENTS.md).
_LATENCY = "llm_latency.total_latency_ms"
_ERR_TOTAL = "llm_errors.total_requests"
_ERR_FAILED = "llm_errors.failed_requests"
_THROUGHPUT = "llm_throughput.requests_per_second"
_COST_TOKENS = "cost_tokens.total_cost_usd"
_COST_API = "cost_api.total_cost_usd"
_COST_RESOURCES = "cost_resources.cost_usd"
_API_REQUESTS = "cost_api.request_count"
_THREATS = "security_threats.count"
_BUDGET = "cost_budget.spend_percent"
_COMPLIANCE = "governance_compliance.score"
_STATE_GAUGES = frozenset({_BUDGET, _COMPLIANCE})
"""Gauges that report a lasting state, held per series between reports."""
_REPORTED = "hub_module.reported"
"""Held like a state gauge, one per module: the module reported something lately. The
security module sends threat events only when it sees threats; while it reports at all
(auth, privacy...), a window without threat events had none, whether or not one of its
other events happened to fall in that window (the health score would jump with them)."""
COMPOSITE_INPUTS = _INPUTS = frozenset(
    {
        _LATENCY,
        _ERR_TOTAL,
        _ERR_FAILED,
        _THROUGHPUT,
        _COST_TOKENS,
        _COST_API,
        _COST_RESOURCES,
        _API_REQUESTS,
        _THREATS,
        _BUDGET,
        _COMPLIANCE,
    }
)

_ID_NAMESPACE = uuid.UUID("3c8e5a4d-1f7b-4e2a-9c6d-8b0a7e5f2d13")

_DESCRIPTIONS = {
    COST_PER_REQUEST: "Spend in USD per request it paid for, in the window.",
    ERROR_ADJUSTED_THROUGHPUT: "Successful requests per second in the window.",
    SECURITY_ADJUSTED_COST_EFFICIENCY: (
        "Requests per USD, counting only requests not hit by a security threat."
    ),
    COMPLIANCE_WEIGHTED_PERFORMANCE: (
        "Successful requests per second, scaled by the mean compliance score."
    ),
    SYSTEM_HEALTH_SCORE: (
        "0-100 weighted mean of the latency, error, security, compliance and budget "
        "scores available in the window (weights renormalised over those present)."
    ),
}


@dataclass(frozen=True, slots=True)
class CompositeConfig:
    """Thresholds of the health score and the completeness rules (docs/COMPOSITES.md)."""

    settle_s: float = 30.0
    """``flush`` emits a window once its end and its latest input are this old."""
    close_after_windows: int | None = 1
    """A group is complete when a result this many windows later arrives; raise it when
    the metric topic's partitions are read far apart (a backlog). ``None``: only
    ``flush`` completes windows, once no input has arrived for ``settle_s`` (what the
    worker uses: results of one window come from several partitions, in any order)."""
    latency_slo_ms: float = 2_000.0
    """p95 at or under it scores 1; the score falls linearly to 0 at twice it."""
    max_error_ratio: float = 0.05
    """Error ratio at which the error score reaches 0 (linear from 1 at no errors)."""
    max_threat_ratio: float = 0.01
    """Threats per request at which the security score reaches 0."""
    compliance_scale: float = 100.0
    """Full marks of ``governance_compliance.score`` (the producers report 0-100)."""
    include_resource_cost: bool = False
    """Add ``cost_resources.cost_usd`` to spend (metering cadence, not per request)."""
    health_weights: Mapping[str, float] = field(default_factory=lambda: dict(HEALTH_WEIGHTS))
    max_open_groups: int = 4_096
    """Beyond this, the oldest open window is emitted early (counted as forced)."""
    gauge_staleness_s: float = 3_600.0
    """A compliance score or budget spend reported within this much event time still
    holds in a window without a report."""
    max_tracked_deltas: int = 16_384
    """Previous values kept for ``delta`` (composite × window size × environment)."""

    def __post_init__(self) -> None:
        weights = dict(self.health_weights)
        unknown = set(weights) - set(HEALTH_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown health components {sorted(unknown)}")
        if any(w < 0 for w in weights.values()) or not math.isclose(sum(weights.values()), 1.0):
            raise ValueError("health weights must be non-negative and sum to 1")
        if self.close_after_windows is not None and self.close_after_windows < 1:
            raise ValueError("close_after_windows must be at least 1")
        if min(self.latency_slo_ms, self.max_error_ratio, self.max_threat_ratio) <= 0:
            raise ValueError("thresholds must be positive")
        if self.compliance_scale <= 0 or self.max_open_groups < 1:
            raise ValueError("compliance_scale and max_open_groups must be positive")


@dataclass(frozen=True, slots=True)
class CompositeResult:
    """One composite of one window: the spec's object and its metric-topic gauge."""

    environment: str
    composite: CompositeMetric
    """For ``hub.composites``."""
    metric: AggregatedMetric
    """``hub_composite.<name>`` gauge for ``hub.metrics.<window>``."""

    @property
    def name(self) -> str:
        return self.composite.name


@dataclass(slots=True)
class CompositeStats:
    """What the builder left out, so nothing disappears silently."""

    groups_closed: int = 0
    composites_emitted: int = 0
    late_inputs: int = 0
    """Inputs for a window already emitted: ignored."""
    duplicate_inputs: int = 0
    """The same series twice in one window (an at-least-once republish): counted once."""
    own_outputs: int = 0
    untagged_inputs: int = 0
    """Inputs without an ``environment`` tag: no group to put them in."""
    forced_closes: int = 0


def composite_id(name: str, window: TimeWindow, environment: str, window_start: datetime) -> str:
    """Deterministic id: a republished window gets the same one (uuid5, no escaping issues)."""
    key = f"{COMPOSITE_PREFIX}{name}:{window.value}:{environment}:{format_timestamp(window_start)}"
    return str(uuid.uuid5(_ID_NAMESPACE, key))


SeriesId = tuple[str, tuple[tuple[str, str], ...]]


def _series_id(metric: AggregatedMetric) -> SeriesId:
    return metric.name, tuple(sorted(metric.tags.items()))


def _clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


# --- one window's totals ---------------------------------------------------------------------


@dataclass(slots=True)
class _Totals:
    """A window's inputs summed over series (model, region, ...) of one environment."""

    latency_count: int = 0
    latency_p95_weighted: float = 0.0
    latency_p95_max: float = 0.0
    errors_total: float | None = None
    errors_failed: float | None = None
    throughput_rps: float | None = None
    spend: dict[str, float] = field(default_factory=dict)
    token_requests: int = 0
    api_requests: int | None = None
    threats: int | None = None
    budget_percent_max: float | None = None
    compliance: list[float] = field(default_factory=list)

    def add(self, name: str, values: MetricValues) -> None:
        if isinstance(values, StatisticalMeasures):
            if name == _LATENCY and values.count > 0:
                self.latency_count += values.count
                self.latency_p95_weighted += values.count * values.p95
                self.latency_p95_max = max(self.latency_p95_max, values.p95)
            elif name == _ERR_TOTAL:
                self.errors_total = (self.errors_total or 0.0) + values.sum
            elif name == _ERR_FAILED:
                self.errors_failed = (self.errors_failed or 0.0) + values.sum
            elif name == _THROUGHPUT:
                self.throughput_rps = (self.throughput_rps or 0.0) + values.avg
            elif name in (_COST_TOKENS, _COST_API, _COST_RESOURCES):
                self.spend[name] = self.spend.get(name, 0.0) + values.sum
                if name == _COST_TOKENS:
                    self.token_requests += values.count
        elif isinstance(values, CounterValues):
            if name == _API_REQUESTS:
                self.api_requests = (self.api_requests or 0) + values.value
            elif name == _THREATS:
                self.threats = (self.threats or 0) + values.value
        elif isinstance(values, GaugeValues):
            self.add_state(name, values.value)

    def add_state(self, name: str, value: float) -> None:
        """One state gauge's value (a budget's spend, a framework's compliance)."""
        if name == _BUDGET:
            previous = self.budget_percent_max
            self.budget_percent_max = value if previous is None else max(previous, value)
        elif name == _COMPLIANCE:
            self.compliance.append(value)


def _component(
    name: str, module: str, value: float, weight: float | None = None
) -> ComponentMetric:
    return ComponentMetric(name=name, source_module=module, value=float(value), weight=weight)


@dataclass(frozen=True, slots=True)
class _Quantity:
    """A derived input: its value, how the formula names it, the components behind it."""

    value: float
    term: str
    parts: tuple[ComponentMetric, ...]


def _served(t: _Totals) -> _Quantity | None:
    """Requests served in the window: one latency event per request, else the billed ones."""
    if t.latency_count > 0:
        name = f"{_LATENCY}.count"
        return _Quantity(
            t.latency_count, f"sum({name})", (_component(name, _OBSERVATORY, t.latency_count),)
        )
    return _billed(t)


def _billed(t: _Totals) -> _Quantity | None:
    """Requests the window's spend paid for, from the same cost events as the spend.

    A token-cost event is one request; an API-cost event states its request count.
    """
    terms: list[str] = []
    parts: list[ComponentMetric] = []
    if t.token_requests > 0:
        name = f"{_COST_TOKENS}.count"
        terms.append(f"sum({name})")
        parts.append(_component(name, _COST, t.token_requests))
    if t.api_requests:
        name = f"{_API_REQUESTS}.value"
        terms.append(f"sum({name})")
        parts.append(_component(name, _COST, t.api_requests))
    if not parts:
        return None
    total = t.token_requests + (t.api_requests or 0)
    term = terms[0] if len(terms) == 1 else "(" + " + ".join(terms) + ")"
    return _Quantity(total, term, tuple(parts))


def _spend(t: _Totals, cfg: CompositeConfig) -> _Quantity | None:
    sources = [_COST_TOKENS, _COST_API] + ([_COST_RESOURCES] if cfg.include_resource_cost else [])
    present = [s for s in sources if s in t.spend]
    if not present:
        return None
    parts = tuple(_component(f"{s}.sum", _COST, t.spend[s]) for s in present)
    term = " + ".join(f"sum({s}.sum)" for s in present)
    return _Quantity(sum(t.spend[s] for s in present), f"({term})", parts)


def _throughput(t: _Totals, window: TimeWindow) -> _Quantity | None:
    """Requests per second: latency events over the window, else the reported rates."""
    if t.latency_count > 0:
        name = f"{_LATENCY}.count"
        return _Quantity(
            t.latency_count / window.seconds,
            f"sum({name}) / {window.seconds}",
            (_component(name, _OBSERVATORY, t.latency_count),),
        )
    if t.throughput_rps is not None:
        name = f"{_THROUGHPUT}.avg"
        return _Quantity(
            t.throughput_rps, f"sum({name})", (_component(name, _OBSERVATORY, t.throughput_rps),)
        )
    return None


def _error_ratio(t: _Totals) -> _Quantity | None:
    if t.errors_total is None or t.errors_failed is None or t.errors_total <= 0:
        return None
    failed, total = f"{_ERR_FAILED}.sum", f"{_ERR_TOTAL}.sum"
    return _Quantity(
        _clamp01(t.errors_failed / t.errors_total),
        f"sum({failed}) / sum({total})",
        (
            _component(failed, _OBSERVATORY, t.errors_failed),
            _component(total, _OBSERVATORY, t.errors_total),
        ),
    )


def _threats(t: _Totals, modules: set[str]) -> _Quantity | None:
    """Threat count; 0 only when the security module reported something in the window or,
    with held state, within ``gauge_staleness_s`` of it."""
    if t.threats is None and _SENTINEL not in modules:
        return None
    count = t.threats or 0
    name = f"{_THREATS}.value"
    return _Quantity(count, f"sum({name})", (_component(name, _SENTINEL, count),))


def _compliance(t: _Totals, cfg: CompositeConfig) -> _Quantity | None:
    if not t.compliance:
        return None
    mean = sum(t.compliance) / len(t.compliance)
    name = f"{_COMPLIANCE}.mean"
    return _Quantity(
        _clamp01(mean / cfg.compliance_scale),
        f"mean({_COMPLIANCE}.value) / {cfg.compliance_scale:g}",
        (_component(name, _GOVERNANCE, mean),),
    )


@dataclass(frozen=True, slots=True)
class _Derived:
    name: str
    value: float
    formula: str
    components: tuple[ComponentMetric, ...]


def _derive(
    t: _Totals, modules: set[str], window: TimeWindow, cfg: CompositeConfig
) -> list[_Derived]:
    served = _served(t)
    billed = _billed(t)
    spend = _spend(t, cfg)
    rps = _throughput(t, window)
    errors = _error_ratio(t)
    threats = _threats(t, modules)
    compliance = _compliance(t, cfg)
    out: list[_Derived] = []

    if spend is not None and billed is not None:
        out.append(
            _Derived(
                COST_PER_REQUEST,
                spend.value / billed.value,
                f"{spend.term} / {billed.term}",
                spend.parts + billed.parts,
            )
        )
    adjusted: _Derived | None = None
    if rps is not None and errors is not None:
        adjusted = _Derived(
            ERROR_ADJUSTED_THROUGHPUT,
            rps.value * (1.0 - errors.value),
            f"{rps.term} * (1 - {errors.term})",
            rps.parts + errors.parts,
        )
        out.append(adjusted)
    if (
        spend is not None
        and spend.value > 0
        and billed is not None
        and served is not None
        and threats is not None
    ):
        share = min(1.0, threats.value / served.value)
        b, s, th, r = billed.term, spend.term, threats.term, served.term
        parts = billed.parts + spend.parts + threats.parts
        out.append(
            _Derived(
                SECURITY_ADJUSTED_COST_EFFICIENCY,
                billed.value / spend.value * (1.0 - share),
                f"{b} / {s} * (1 - min(1, {th} / {r}))",
                parts + tuple(c for c in served.parts if c not in parts),
            )
        )
    if adjusted is not None and compliance is not None:
        out.append(
            _Derived(
                COMPLIANCE_WEIGHTED_PERFORMANCE,
                adjusted.value * compliance.value,
                f"{adjusted.formula} * {compliance.term}",
                adjusted.components + compliance.parts,
            )
        )
    health = _health(t, served, errors, threats, compliance, cfg)
    if health is not None:
        out.append(health)
    return [d for d in out if math.isfinite(d.value)]


def _health(
    t: _Totals,
    served: _Quantity | None,
    errors: _Quantity | None,
    threats: _Quantity | None,
    compliance: _Quantity | None,
    cfg: CompositeConfig,
) -> _Derived | None:
    """Weighted mean of the component scores present, on 0-100."""
    scores: dict[str, tuple[float, str, tuple[ComponentMetric, ...]]] = {}
    if t.latency_count > 0:
        p95 = t.latency_p95_weighted / t.latency_count
        scores["latency"] = (
            _clamp01(2.0 - p95 / cfg.latency_slo_ms),
            _OBSERVATORY,
            (
                _component(f"{_LATENCY}.p95", _OBSERVATORY, p95),
                _component(f"{_LATENCY}.p95_max", _OBSERVATORY, t.latency_p95_max),
            ),
        )
    if errors is not None:
        scores["errors"] = (
            _clamp01(1.0 - errors.value / cfg.max_error_ratio),
            _OBSERVATORY,
            errors.parts,
        )
    if threats is not None and served is not None:
        share = min(1.0, threats.value / served.value)
        scores["security"] = (
            _clamp01(1.0 - share / cfg.max_threat_ratio),
            _SENTINEL,
            threats.parts + served.parts,
        )
    if compliance is not None:
        scores["compliance"] = (compliance.value, _GOVERNANCE, compliance.parts)
    if t.budget_percent_max is not None:
        scores["budget"] = (
            _clamp01(1.0 - t.budget_percent_max / 100.0),
            _COST,
            (_component(f"{_BUDGET}.max", _COST, t.budget_percent_max),),
        )
    used = [k for k in HEALTH_WEIGHTS if k in scores and cfg.health_weights.get(k, 0.0) > 0]
    total_weight = sum(cfg.health_weights[k] for k in used)
    if not used or total_weight <= 0:
        return None
    components: list[ComponentMetric] = []
    value = 0.0
    for key in used:
        score, module, parts = scores[key]
        weight = cfg.health_weights[key] / total_weight
        value += weight * score
        components.extend(parts)
        components.append(_component(f"score.{key}", module, score, weight))
    formula = "100 * (" + " + ".join(f"w.{k} * score.{k}" for k in used) + ")"
    return _Derived(SYSTEM_HEALTH_SCORE, 100.0 * value, formula, tuple(components))


def _composite(
    d: _Derived, window: TimeWindow, start: datetime, end: datetime, environment: str
) -> CompositeMetric:
    return CompositeMetric(
        metric_id=composite_id(d.name, window, environment, start),
        name=d.name,
        description=_DESCRIPTIONS[d.name],
        source_modules=sorted({c.source_module for c in d.components}),
        components=list(d.components),
        value=d.value,
        formula=d.formula,
        window=window,
        timestamp=end,
    )


def window_composites(
    metrics: Iterable[AggregatedMetric], config: CompositeConfig | None = None
) -> list[CompositeMetric]:
    """The composites of one complete window group (for replays and backfills).

    Every metric must share window, window start and ``environment`` tag; a series
    repeated is counted once.
    """
    cfg = config or CompositeConfig()
    group: _Group | None = None
    for metric in metrics:
        if metric.name.startswith(COMPOSITE_PREFIX):
            continue
        env = metric.tags.get("environment")
        if env is None:
            raise ValueError(f"{metric.name} has no environment tag")
        if group is None:
            group = _Group(metric.window, metric.window_start, metric.window_end, env)
        elif (metric.window, metric.window_start, env) != (
            group.window,
            group.start,
            group.environment,
        ):
            raise ValueError("metrics of more than one window group")
        group.add(metric)
    if group is None:
        return []
    return [
        _composite(d, group.window, group.start, group.end, group.environment)
        for d in group.derive(cfg)
    ]


# --- streaming -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    """Inputs of one (window size, window start, environment), by series."""

    window: TimeWindow
    start: datetime
    end: datetime
    environment: str
    series: dict[SeriesId, MetricValues] = field(default_factory=dict)
    modules: set[str] = field(default_factory=set)

    def add(self, metric: AggregatedMetric) -> bool:
        """Record an input; False when its series was already there (a republish)."""
        module = metric.tags.get("source_module")
        if module is not None:
            self.modules.add(module)
        if metric.name not in _INPUTS:
            return True
        key = _series_id(metric)
        fresh = key not in self.series
        self.series[key] = metric.values
        return fresh

    def derive(
        self, cfg: CompositeConfig, held: dict[SeriesId, tuple[float, float]] | None = None
    ) -> list[_Derived]:
        """``held``: state gauge series (one budget's spend, one framework's compliance
        score) -> (window start, value) as last reported in the environment. A gauge means
        "still so": each series counts with its last report while that is fresh
        (``gauge_staleness_s``), so the budget use is the highest over every budget's
        latest spend and the compliance the mean over every framework's latest score,
        not over whichever sparse reports happen to fall in this window (the health
        score would jump with them)."""
        totals = _Totals()
        for (name, _), values in self.series.items():
            if held is None or name not in _STATE_GAUGES:
                totals.add(name, values)
        if held is not None and self.series:  # a window without inputs stays without
            start = self.start.timestamp()
            for key, values in self.series.items():
                if key[0] in _STATE_GAUGES and isinstance(values, GaugeValues):
                    held[key] = (start, values.value)
            for module in self.modules:
                held[(_REPORTED, (("source_module", module),))] = (start, 1.0)
            fresh = start - cfg.gauge_staleness_s
            # stale reports go; so do the per-component entries snapshots held before
            for key in [k for k, v in held.items() if not isinstance(k, tuple) or v[0] < fresh]:
                del held[key]
            modules = set(self.modules)
            for (name, tags), (seen, value) in sorted(held.items()):
                if seen > start:  # a window republished late must not see later reports
                    continue
                if name == _REPORTED:
                    modules.add(dict(tags)["source_module"])
                else:
                    totals.add_state(name, value)
            return _derive(totals, modules, self.window, cfg)
        return _derive(totals, self.modules, self.window, cfg)


@dataclass(slots=True)
class _Window:
    """Open groups of one window (size and start), one per environment."""

    start_s: float
    end_s: float
    groups: dict[str, _Group] = field(default_factory=dict)
    last_input_at: float | None = None


class CompositeBuilder:
    """Closed-window metrics in, composites out, each window group exactly once.

    ``observe`` every message of the metric topics (any windows, any order);
    call ``flush`` on a timer so that quiet streams and long windows are emitted
    too. Publish ``result.composite`` to ``hub.composites`` and ``result.metric``
    to the metric topic of its window.
    """

    def __init__(self, config: CompositeConfig | None = None) -> None:
        self.config = config or CompositeConfig()
        self.stats = CompositeStats()
        self._open: dict[int, dict[float, _Window]] = {}
        """Window size → window start → open window."""
        self._closed_below: dict[int, float] = {}
        """Window size → every window starting before it is emitted."""
        self._group_count = 0
        self._held: dict[tuple[int, str], dict[SeriesId, tuple[float, float]]] = {}
        """(window size, environment) -> the state gauges last reported (``derive``)."""
        self._previous: dict[tuple[str, int, str], tuple[float, float]] = {}
        """(composite, window size, environment) → (window start, value) last emitted."""

    @property
    def open_groups(self) -> int:
        return self._group_count

    def observe(
        self, metric: AggregatedMetric, now_epoch_s: float | None = None
    ) -> list[CompositeResult]:
        """Take one window result; return the composites of the groups it completes.

        ``now_epoch_s`` (the arrival time) lets ``flush`` wait until a window has
        been quiet for the settle delay, not only old: a backlog being read is never
        cut short.
        """
        if metric.name.startswith(COMPOSITE_PREFIX):
            self.stats.own_outputs += 1
            return []
        size = metric.window.seconds
        start = metric.window_start.timestamp()
        out: list[CompositeResult] = []
        if self.config.close_after_windows is not None:
            horizon = start - (self.config.close_after_windows - 1) * size
            if horizon > self._closed_below.get(size, -math.inf):
                out = self._close_before(size, horizon)
        if start < self._closed_below.get(size, -math.inf):
            self.stats.late_inputs += 1
            return out
        env = metric.tags.get("environment")
        if env is None:
            self.stats.untagged_inputs += 1
            return out
        windows = self._open.setdefault(size, {})
        window = windows.get(start)
        if window is None:
            window = windows[start] = _Window(start, metric.window_end.timestamp())
        group = window.groups.get(env)
        if group is None:
            group = window.groups[env] = _Group(
                metric.window, metric.window_start, metric.window_end, env
            )
            self._group_count += 1
        if not group.add(metric):
            self.stats.duplicate_inputs += 1
        if now_epoch_s is not None:
            window.last_input_at = max(window.last_input_at or now_epoch_s, now_epoch_s)
        while self._group_count > self.config.max_open_groups:
            out.extend(self._force_close_oldest())
        return out

    def flush(self, now_epoch_s: float) -> list[CompositeResult]:
        """Emit windows that ended (and last got input) at least ``settle_s`` ago.

        Per window size, in start order, stopping at the first window not yet settled,
        so that windows are always emitted in order.
        """
        settle = self.config.settle_s
        out: list[CompositeResult] = []
        for size in sorted(self._open):
            windows = self._open[size]
            for start in sorted(windows):
                window = windows[start]
                last = window.last_input_at
                if window.end_s + settle > now_epoch_s or (
                    last is not None and last + settle > now_epoch_s
                ):
                    break
                out.extend(self._close_before(size, window.end_s))
        return out

    def close_through(self, moment: float) -> list[CompositeResult]:
        """Emit every window that ended at or before ``moment``: the event-time way to
        complete them, once every partition that could add an input has closed it."""
        out: list[CompositeResult] = []
        for size in sorted(self._open):
            out.extend(self._close_before(size, moment - size + 1))
        return out

    def _force_close_oldest(self) -> list[CompositeResult]:
        size, window = min(
            ((size, w) for size, ws in self._open.items() for w in ws.values()),
            key=lambda item: (item[1].end_s, item[0]),
        )
        self.stats.forced_closes += 1
        return self._close_before(size, window.end_s)

    def _close_before(self, size: int, horizon: float) -> list[CompositeResult]:
        """Emit every open window of this size starting before ``horizon``."""
        self._closed_below[size] = max(self._closed_below.get(size, -math.inf), horizon)
        windows = self._open.get(size, {})
        out: list[CompositeResult] = []
        for start in sorted(s for s in windows if s < horizon):
            window = windows.pop(start)
            for env in sorted(window.groups):
                out.extend(self._emit(window.groups[env], size, start))
                self._group_count -= 1
        if not windows:
            self._open.pop(size, None)
        return out

    def _emit(self, group: _Group, size: int, start: float) -> list[CompositeResult]:
        self.stats.groups_closed += 1
        results = []
        held = self._held.setdefault((size, group.environment), {})
        for derived in group.derive(self.config, held):
            composite = _composite(derived, group.window, group.start, group.end, group.environment)
            key = (derived.name, size, group.environment)
            previous = self._previous.pop(key, None)
            delta = None
            if previous is not None and previous[0] == start - size:
                delta = derived.value - previous[1]
            self._previous[key] = (start, derived.value)
            if len(self._previous) > self.config.max_tracked_deltas:
                self._previous.pop(next(iter(self._previous)))
            metric = AggregatedMetric(
                name=COMPOSITE_PREFIX + derived.name,
                window=group.window,
                window_start=group.start,
                window_end=group.end,
                values=GaugeValues(value=derived.value, delta=delta),
                tags={"environment": group.environment, "source_module": _HUB},
            )
            results.append(CompositeResult(group.environment, composite, metric))
        self.stats.composites_emitted += len(results)
        return results
