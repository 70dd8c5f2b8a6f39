"""Anomaly correlation, root cause and impact: which alerts are one incident, and why.

Pure and streaming. The detection agent feeds every window value the detectors
scored (``observe``, from ``MetricDetectors.take_points``) and every alert episode
(``add_anomaly``); the correlator answers with :class:`AnomalyCorrelation` messages
for the correlations topic.

* **Grouping**: an anomaly joins the open group (first alert within
  ``window_s``, default 10 minutes, the spec's 5-15) whose members its series
  moved with most, if that mean strength is above ``min_strength``; otherwise
  it opens a group of its own. So an unrelated alert minutes earlier neither
  absorbs an incident nor becomes its root. One alert per series per group.
* **Strength**: how the member series moved together over their recent
  windows: the mean absolute Pearson correlation of each pair's last
  ``history`` values, aligned by window start (pairs with fewer than
  ``min_overlap`` shared windows count as 0). Published only above
  ``min_strength`` (the spec's 0.7), once per group and again when it grows.
* **Root cause**: the earliest anomaly; a tie within one window goes to the
  module that usually causes the others (security, then policy/governance,
  registry, observatory, cost: an attack drives latency and spend, never the
  reverse), then to a specific measurement over the module's plain event count,
  then errors before throughput before latency before tokens (``FAMILY_ORDER``).
  Confidence = strength × how clearly it led (1 when it was at least
  a window earlier than the next, 0.6 on a tie). The causal chain links the
  root to every other member, ``direct_cause`` within two windows, else
  ``indirect_cause``, with the time deltas.
* **Impact**: the members' deviations turned into the spec's impact blocks, each from
  the alerted windows of the members that measure it (0 when no member does):
  latency and error-rate increase and throughput decrease against baseline, failed
  requests above baseline (affected requests), extra spend and resource spend above
  baseline (wasted) in USD, threats, vulnerabilities and violations counted; severity
  from the top score and the modules touched.
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC

from pipeline.models.correlation import (
    AnomalyCorrelation,
    AnomalyEvent,
    CausalLink,
    CausalRelationship,
    CostImpact,
    ImpactAssessment,
    ImpactSeverity,
    PerformanceImpact,
    RootCauseAnalysis,
    SecurityImpact,
)
from pipeline.models.events import SourceModule

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
"""(metric name as alerted, sorted tags): one scored series."""

_ID_NAMESPACE = uuid.UUID("5d0c2f0e-8c1b-4a57-9a51-3f6f0f3b8e42")

CAUSE_ORDER: dict[SourceModule, int] = {
    SourceModule.LLM_SENTINEL: 0,
    SourceModule.LLM_POLICY_ENGINE: 1,
    SourceModule.LLM_GOVERNANCE_DASHBOARD: 1,
    SourceModule.LLM_REGISTRY: 2,
    SourceModule.LLM_OBSERVATORY: 3,
    SourceModule.LLM_COST_OPS: 4,
    SourceModule.LLM_ANALYTICS_HUB: 5,
}
"""Which module's anomaly is the likelier cause when two start in the same window."""

GENERIC_PREFIX = "hub_events."
"""Event counts per module: they move with every incident, so they are never its root
when a specific measurement of the same module and minute is also anomalous."""

THROUGHPUT_METRICS = ("llm_throughput.requests_per_second", "llm_errors.total_requests",
                      "cost_api.request_count")  # fmt: skip
"""Series whose fall is a fall in throughput (the impact's ``throughput_decrease_percent``)."""
FAILED_METRICS = ("llm_errors.failed_requests",)
"""Series that count failed requests (the impact's ``affected_requests``)."""

FAMILY_ORDER = ("llm_errors", "llm_throughput", "llm_latency", "llm_token_usage")
"""Within one module and window: failing requests cause retries and timeouts (latency),
and latency lowers throughput; token counts follow requests."""


def _family_rank(metric: str) -> int:
    for rank, prefix in enumerate(FAMILY_ORDER):
        if metric.startswith(prefix):
            return rank
    return len(FAMILY_ORDER)


RECOMMENDATIONS: tuple[tuple[str, str], ...] = (
    (
        "security_threats",
        "Block the attacking sources and enable prompt-injection filtering on the affected"
        " models; review the threat indicators before lifting the block.",
    ),
    ("security_auth", "Lock the accounts with repeated failures and rotate exposed keys."),
    ("security_privacy", "Stop the data flows operating without consent and notify privacy."),
    (
        "governance_policy",
        "Review the violated policies and quarantine the offending workloads until they pass.",
    ),
    (
        "llm_errors",
        "Fail over to a secondary provider or region and check the provider's status page.",
    ),
    (
        "llm_latency",
        "Scale out or shed load on the slow models; check queue time against processing time.",
    ),
    (
        "llm_throughput",
        "Check upstream rate limits and the autoscaler for the affected models.",
    ),
    (
        "llm_token_usage",
        "Cap tokens per request for the tenants driving the increase; look for prompt loops.",
    ),
    (
        "cost_",
        "Apply per-tenant budget caps and alerts; move the heaviest traffic to cheaper models.",
    ),
)


def correlation_window_s(window_s: float) -> float:
    """How far apart alerts of one window size may start and still be one incident:
    the spec's 10 minutes, or three windows of a longer size."""
    return max(600.0, 3.0 * window_s)


@dataclass(frozen=True, slots=True)
class CorrelatorConfig:
    window_s: float = 600.0
    """Anomalies within this of a group's first one join it (spec: 5-15 minutes)."""
    min_strength: float = 0.7
    history: int = 30
    """Recent windows per series used for the co-movement strength."""
    min_overlap: int = 6
    step_s: float = 60.0
    """The scored windows' size: time deltas below two of them are direct causes."""


@dataclass(slots=True)
class _Member:
    key: SeriesKey
    anomaly: AnomalyEvent


@dataclass(slots=True)
class _Group:
    first: float
    members: list[_Member] = field(default_factory=list)


def _pearson(a: list[float], b: list[float]) -> float:
    n = len(a)
    mean_a, mean_b = math.fsum(a) / n, math.fsum(b) / n
    da = [x - mean_a for x in a]
    db = [y - mean_b for y in b]
    var_a = math.fsum(x * x for x in da)
    var_b = math.fsum(y * y for y in db)
    if var_a <= 0.0 or var_b <= 0.0:
        return 0.0
    return math.fsum(x * y for x, y in zip(da, db, strict=True)) / math.sqrt(var_a * var_b)


COMPOSITE_PREFIX = "hub_composite."


def _derived(metric: str) -> bool:
    """A series computed from other series of the hub (composites, event counts)."""
    return metric.startswith((COMPOSITE_PREFIX, GENERIC_PREFIX))


def _cause_rank(member: _Member) -> tuple[int, bool, int]:
    """How likely a member is to cause the others, by what it measures (lower: likelier)."""
    anomaly = member.anomaly
    return (
        CAUSE_ORDER.get(anomaly.source_module, 9),
        anomaly.metric.startswith(GENERIC_PREFIX),  # the specific measure explains more
        _family_rank(anomaly.metric),
    )


def _recommendation(metric: str) -> str | None:
    for prefix, text in RECOMMENDATIONS:
        if metric.startswith(prefix):
            return text
    return None


def _percent(anomaly: AnomalyEvent) -> float:
    if anomaly.baseline == 0:
        return 0.0
    return 100.0 * anomaly.deviation / abs(anomaly.baseline)


@dataclass(slots=True)
class AnomalyCorrelator:
    config: CorrelatorConfig = field(default_factory=CorrelatorConfig)
    _history: dict[SeriesKey, deque[tuple[float, float]]] = field(default_factory=dict)
    _groups: list[_Group] = field(default_factory=list)

    def observe(self, key: SeriesKey, timestamp: float, value: float) -> None:
        """Remember one scored window value of a series (for co-movement)."""
        history = self._history.get(key)
        if history is None:
            history = self._history[key] = deque(maxlen=self.config.history)
        if history and history[-1][0] == timestamp:
            history[-1] = (timestamp, value)  # a repeated window: keep one value
        else:
            history.append((timestamp, value))

    def recall(self, key: SeriesKey, history: Iterable[tuple[float, float]]) -> None:
        """A series' recent values as its alert brought them (they replace what was known:
        they are the series' latest ``history`` windows)."""
        self._history[key] = deque(history, maxlen=self.config.history)

    def add_anomaly(self, key: SeriesKey, anomaly: AnomalyEvent) -> AnomalyCorrelation | None:
        """Place an alert in its incident group; a correlation when the group qualifies."""
        moment = anomaly.timestamp.timestamp()
        self._expire(moment)
        near = [g for g in self._groups if abs(moment - g.first) <= self.config.window_s]
        if any(member.key == key for g in near for member in g.members):
            return None  # one alert per series per incident
        group, joined = None, 0.0
        for candidate in near:
            fit = math.fsum(self._pair_strength(key, m.key) for m in candidate.members) / len(
                candidate.members
            )
            if fit > joined:
                group, joined = candidate, fit
        if group is None or joined <= self.config.min_strength:
            # nothing it moved with: its own incident (it may still gather others)
            self._groups.append(_Group(first=moment, members=[_Member(key, anomaly)]))
            return None
        group.members.append(_Member(key, anomaly))
        strength = self.strength([m.key for m in group.members])
        if strength <= self.config.min_strength:
            return None
        return self._correlation(group, strength)

    def _expire(self, now: float) -> None:
        horizon = now - 2 * self.config.window_s
        self._groups = [g for g in self._groups if g.first >= horizon]

    # ------------------------------------------------------------------ strength
    def strength(self, keys: list[SeriesKey]) -> float:
        """Mean |Pearson r| over pairs of the series' recent windows (aligned by time)."""
        pairs = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1 :]]
        if not pairs:
            return 0.0
        return math.fsum(self._pair_strength(a, b) for a, b in pairs) / len(pairs)

    def _pair_strength(self, a: SeriesKey, b: SeriesKey) -> float:
        left = dict(self._history.get(a, ()))
        right = dict(self._history.get(b, ()))
        shared = sorted(left.keys() & right.keys())
        if len(shared) < self.config.min_overlap:
            return 0.0
        best = abs(_pearson([left[t] for t in shared], [right[t] for t in shared]))
        # an effect often trails its cause by a window: also try a one-window lag
        for lead, trail in ((left, right), (right, left)):
            lagged = [t for t in sorted(lead) if t + self.config.step_s in trail]
            if len(lagged) >= self.config.min_overlap:
                r = _pearson(
                    [lead[t] for t in lagged], [trail[t + self.config.step_s] for t in lagged]
                )
                best = max(best, abs(r))
        return best

    # ------------------------------------------------------------------ analysis
    def _correlation(self, group: _Group, strength: float) -> AnomalyCorrelation:
        members = sorted(group.members, key=lambda m: (m.anomaly.timestamp, _cause_rank(m)))
        root = self._choose_root(members)
        members.remove(root)
        members.insert(0, root)
        founder = str(group.members[0].anomaly.event_id)  # stays the id as the group grows
        return AnomalyCorrelation(
            correlation_id=uuid.uuid5(_ID_NAMESPACE, founder),
            anomalies=[m.anomaly for m in members],
            strength=round(strength, 6),
            root_cause=self._root_cause(root, members, strength),
            impact=self._impact(members),
            detected_at=max(m.anomaly.timestamp for m in members),
        )

    def _choose_root(self, members: list[_Member]) -> _Member:
        """The root from the evidence, not the first alert of the window (derived series,
        composites and plain event counts, only when nothing measured is in the incident):

        * **strength**: the incident's onset is the first alert about as strong as its
          strongest (score ≥ 80 % of the peak); a weaker alert more than two windows
          before it is a precursor or noise that happened to precede, never the root;
        * **onset order**: the candidates are the alerts from the earliest one up to two
          windows after the onset (what started together);
        * **causal direction**: among them, the module that usually causes the others
          (sentinel, policy, registry, observatory, cost), a specific measurement over a
          module's plain event count, errors before latency before throughput, then the
          stronger alert, then the earlier."""
        step = self.config.step_s
        # derived series (composites, a module's plain event count) move with their
        # inputs: when a measured series is in the incident, they are not its evidence
        evidence = [m for m in members if not _derived(m.anomaly.metric)] or members
        peak = max(m.anomaly.anomaly_score for m in evidence)
        onset = min(
            m.anomaly.timestamp.timestamp()
            for m in evidence
            if m.anomaly.anomaly_score >= 0.8 * peak
        )
        candidates = [
            m
            for m in evidence
            if onset - 2 * step <= m.anomaly.timestamp.timestamp() <= onset + 2 * step
        ]
        return min(
            candidates,
            key=lambda m: (
                _cause_rank(m),
                -m.anomaly.anomaly_score,
                m.anomaly.timestamp,
            ),
        )

    def _root_cause(
        self, root: _Member, members: list[_Member], strength: float
    ) -> RootCauseAnalysis:
        step = self.config.step_s
        root_time = root.anomaly.timestamp
        lead = min(
            ((m.anomaly.timestamp - root_time).total_seconds() for m in members[1:]),
            default=0.0,
        )
        clarity = 1.0 if lead >= step else max(0.3, 0.6 + 0.4 * lead / step)
        links = []
        for member in members[1:]:
            delta_s = (member.anomaly.timestamp - root_time).total_seconds()
            links.append(
                CausalLink(
                    from_event_id=root.anomaly.event_id,
                    to_event_id=member.anomaly.event_id,
                    relationship=(
                        CausalRelationship.CORRELATION  # before the root: not its effect
                        if delta_s < 0
                        else CausalRelationship.DIRECT_CAUSE
                        if delta_s <= 2 * step
                        else CausalRelationship.INDIRECT_CAUSE
                    ),
                    strength=round(self._pair_strength(root.key, member.key), 6),
                    time_delta_ms=round(delta_s * 1000),
                )
            )
        factors = [_describe(m) for m in members]
        recommendations = []
        for member in members:
            text = _recommendation(member.anomaly.metric)
            if text is not None and text not in recommendations:
                recommendations.append(text)
        return RootCauseAnalysis(
            root_event_id=root.anomaly.event_id,
            confidence=round(min(1.0, strength * clarity), 6),
            causal_chain=links,
            contributing_factors=factors,
            recommendations=recommendations,
        )

    def _impact(self, members: list[_Member]) -> ImpactAssessment:
        modules = sorted({m.anomaly.source_module for m in members}, key=lambda s: s.value)
        latency = [m.anomaly for m in members if m.anomaly.metric.startswith("llm_latency")]
        errors = [m.anomaly for m in members if m.anomaly.metric.startswith("llm_errors")]
        costs = [
            m.anomaly
            for m in members
            if m.anomaly.metric.startswith("cost_") and "usd" in m.anomaly.metric
        ]
        threats = [m.anomaly for m in members if m.anomaly.metric.startswith("security_threats")]
        violations = [
            m.anomaly for m in members if m.anomaly.metric.startswith("governance_policy")
        ]
        throughput = [m.anomaly for m in members if m.anomaly.metric.startswith(THROUGHPUT_METRICS)]
        failed = [m.anomaly for m in members if m.anomaly.metric.startswith(FAILED_METRICS)]
        performance = None
        if latency or errors or throughput:
            performance = PerformanceImpact(
                latency_increase_percent=max((_percent(a) for a in latency), default=0.0),
                # a fall of the request rate or count, against its baseline
                throughput_decrease_percent=max(
                    (max(0.0, -_percent(a)) for a in throughput), default=0.0
                ),
                error_rate_increase_percent=max((_percent(a) for a in errors), default=0.0),
                # failed requests above the baseline, in the windows that raised the alerts
                affected_requests=round(math.fsum(max(a.deviation, 0.0) for a in failed)),
            )
        cost = None
        if costs:
            extra = math.fsum(max(a.deviation, 0.0) for a in costs)
            base = math.fsum(abs(a.baseline) for a in costs)
            cost = CostImpact(
                additional_cost_usd=round(extra, 6),
                cost_increase_percent=100.0 * extra / base if base else 0.0,
                # resource spend above its baseline (capacity paid for beyond the usual)
                wasted_resources_usd=round(
                    math.fsum(
                        max(a.deviation, 0.0)
                        for a in costs
                        if a.metric.startswith("cost_resources.")
                    ),
                    6,
                ),
            )
        vulnerabilities = [
            m.anomaly
            for m in members
            if m.anomaly.metric.startswith("security_vulnerabilities.count")
        ]
        security = None
        if threats or violations or vulnerabilities:
            security = SecurityImpact(
                threats_detected=round(math.fsum(a.observed for a in threats)),
                vulnerabilities_exposed=round(math.fsum(a.observed for a in vulnerabilities)),
                data_at_risk=bool(threats),
                compliance_violations=round(math.fsum(a.observed for a in violations)),
            )
        return ImpactAssessment(
            severity=_severity(members, len(modules)),
            affected_modules=modules,
            performance_impact=performance,
            cost_impact=cost,
            security_impact=security,
        )


def _severity(members: list[_Member], modules: int) -> ImpactSeverity:
    top = max(m.anomaly.anomaly_score for m in members)
    if top >= 0.8 and modules >= 3:
        return ImpactSeverity.CRITICAL
    if top >= 0.8 or modules >= 3:
        return ImpactSeverity.HIGH
    if top >= 0.6:
        return ImpactSeverity.MEDIUM
    return ImpactSeverity.LOW


def _describe(member: _Member) -> str:
    anomaly = member.anomaly
    tags = ", ".join(
        f"{k}={v}" for k, v in member.key[1] if k not in ("source_module", "environment")
    )
    where = f" ({tags})" if tags else ""
    direction = "above" if anomaly.deviation >= 0 else "below"
    change = f"{abs(_percent(anomaly)):.0f}% {direction} baseline" if anomaly.baseline else ""
    when = anomaly.timestamp.astimezone(UTC).strftime("%H:%M")
    return (
        f"{anomaly.anomaly_type.value} in {anomaly.metric}{where} at {when} UTC: "
        f"{anomaly.observed:.6g} against {anomaly.baseline:.6g}"
        + (f", {change}" if change else "")
        + f" (score {anomaly.anomaly_score:.2f})"
    )
