"""Causal chains: events sharing a ``correlation_id`` become one EventCorrelation and EventGraph.

Pure and streaming, like :mod:`pipeline.correlation.incidents`. The caller feeds every event
that carries a ``correlation_id`` (:meth:`EventChainAssembler.add`, with its own clock
``now_s``) and asks regularly for the chains that are complete
(:meth:`EventChainAssembler.due`). Each :class:`ChainResult` holds the §7.1
:class:`EventCorrelation` and the §7.4 :class:`EventGraph` of one chain; both are
deterministic functions of the chain's events, its segment and the closing time, so
a replayed input gives the same messages. The rules, in short (docs/EVENT_CHAINS.md
has the reasons):

* **Chain**: the distinct events (by ``event_id``; a repeat is ignored and counted)
  of one ``correlation_id``, in any arrival order. It closes when it was quiet for
  ``settle_s`` of the caller's clock (``settled``), has been open ``window_s``
  (``max_age``), an event would stretch its event-time span beyond ``window_s``
  (``window``), it holds ``max_events_per_chain`` events (``full``), or it is the
  least recently active chain when ``max_open_chains`` is reached (``evicted``). In
  the last three cases the new event opens the next *segment* of the same id.
* **Emitted** only with at least ``min_events`` events (and, unless
  ``include_single_module``, at least two modules).
* **Roles**: the root cause is the earliest event without a ``parent_event_id``;
  failing that the earliest whose parent is missing; failing that (all in parent
  cycles) the earliest event. Every other event whose parent is not in the chain is
  ``related``; a linked event with children in the chain is a ``contributor``, a
  linked leaf an ``effect``.
* **Strength** = 0.5 + 0.5 x (non-root events linked to a parent in the chain) / (N - 1):
  a shared id alone is half the evidence, explicit parent links the other half.
* **Confidence** = completeness x root clarity x acyclicity: the share of events
  whose declared parent is present; 1 / (root candidates), halved when the root is
  not a parentless event; the share of events reachable from a parentless event.
* **Graph**: one node per event (root first, then by time). ``causes`` from each
  event's parent when the parent is in the chain (weight 1); ``precedes`` between
  consecutive events without a parent in the chain (weight 0.5, fading to 0 over
  ``window_s``). Edges point forward, cause to effect, earlier to later; without
  parent cycles the graph is a tree (N - 1 edges). Cycles cannot make anything
  loop: their events simply have no parentless ancestor.
"""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pipeline.models.correlation import (
    CorrelatedEvent,
    CorrelationType,
    EdgeRelationship,
    EventCorrelation,
    EventEdge,
    EventGraph,
    EventNode,
    EventRole,
    GraphMetadata,
)
from pipeline.models.events import (
    AnalyticsEvent,
    ApiCostEvent,
    AuditTrailEvent,
    AuthEvent,
    BudgetAlertEvent,
    ComplianceCheckEvent,
    ComplianceViolationEvent,
    CustomData,
    DataLineageEvent,
    ErrorRateMetrics,
    LatencyMetrics,
    ModelPerformanceMetrics,
    OtherVariant,
    PolicyViolationEvent,
    PrivacyEvent,
    ResourceConsumptionEvent,
    ThreatEvent,
    ThroughputMetrics,
    TokenCostEvent,
    TokenUsageMetrics,
    VulnerabilityEvent,
)
from pipeline.models.metrics import TimeRange

__all__ = [
    "CORRELATION_KEY",
    "ChainConfig",
    "ChainResult",
    "ChainStats",
    "EventChainAssembler",
    "build_chain",
    "chain_kind",
    "describe_event",
    "may_have_correlation_id",
]

CORRELATION_KEY = b'"correlation_id"'


def may_have_correlation_id(raw: bytes | bytearray) -> bool:
    """False only when no event in ``raw`` (one event or a JSON array) can carry the key.

    A cheap pre-filter before parsing: a JSON key equal to ``correlation_id`` is
    either written literally or uses a ``\\u`` escape (no other escape spells its
    letters), so this has no false negatives. ``"correlation_id":null`` passes too;
    :meth:`EventChainAssembler.add` ignores such events.
    """
    return CORRELATION_KEY in raw or b"\\u" in raw


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class ChainConfig:
    settle_s: float = 30.0
    """A chain closes after this long without a new event, on the caller's clock."""
    window_s: float = 900.0
    """Max event-time span of one chain segment, and max time a chain stays open."""
    min_events: int = 2
    """Chains with fewer distinct events are dropped (CorrelationConfig.min_events)."""
    max_open_chains: int = 10_000
    max_events_per_chain: int = 500
    include_single_module: bool = True
    """Emit chains whose events all come from one module (typed by their content)."""
    dedupe_capacity: int = 100_000
    """Event ids (and segment counters) remembered after their chain closed."""

    def __post_init__(self) -> None:
        if not self.settle_s >= 0 or not self.window_s > 0:
            raise ValueError("settle_s must be >= 0 and window_s > 0")
        if self.min_events < 1 or self.max_open_chains < 1:
            raise ValueError("min_events and max_open_chains must be >= 1")
        if self.dedupe_capacity < 0:
            raise ValueError("dedupe_capacity must be >= 0")
        if self.max_events_per_chain < max(2, self.min_events):
            raise ValueError("max_events_per_chain must be >= max(2, min_events)")


@dataclass(slots=True)
class ChainStats:
    """Counters for the worker's progress line: what was ignored or cut, and why."""

    events: int = 0
    duplicates: int = 0
    uncorrelated: int = 0
    emitted: int = 0
    too_small: int = 0
    single_module_skipped: int = 0
    evicted: int = 0
    window_splits: int = 0
    full_splits: int = 0


@dataclass(frozen=True, slots=True)
class ChainResult:
    correlation: EventCorrelation
    graph: EventGraph
    closed_by: str
    """``settled``, ``max_age``, ``window``, ``full``, ``evicted`` or ``flush``."""

    @property
    def key(self) -> bytes:
        """The Kafka key of both topics: the correlation id."""
        return str(self.correlation.correlation_id).encode("ascii")


# --------------------------------------------------------------------------- describing events


def _num(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _open_value(value: Any) -> str:
    """A value of an open enum (ThreatType, ResourceType) or its ``{"other": ...}``."""
    return value.other if isinstance(value, OtherVariant) else str(value.value)


def describe_event(event: AnalyticsEvent) -> tuple[str, dict[str, float]]:
    """A short human line and a few numeric payload fields, for CorrelatedEvent."""
    d = event.payload.data
    m: dict[str, float] = {}
    match d:
        case LatencyMetrics():
            m = {"total_latency_ms": d.total_latency_ms}
            if d.ttft_ms is not None:
                m["ttft_ms"] = d.ttft_ms
            if d.tokens_per_second is not None:
                m["tokens_per_second"] = d.tokens_per_second
            text = f"latency {_num(d.total_latency_ms)} ms on {d.model_id}"
        case ThroughputMetrics():
            m = {
                "requests_per_second": d.requests_per_second,
                "tokens_per_second": d.tokens_per_second,
                "concurrent_requests": float(d.concurrent_requests),
            }
            text = f"throughput {_num(d.requests_per_second)} req/s on {d.model_id}"
        case ErrorRateMetrics():
            m = {
                "error_rate_percent": d.error_rate_percent,
                "failed_requests": float(d.failed_requests),
                "total_requests": float(d.total_requests),
            }
            text = f"error rate {_num(d.error_rate_percent)}% on {d.model_id}"
        case TokenUsageMetrics():
            m = {
                "prompt_tokens": float(d.prompt_tokens),
                "completion_tokens": float(d.completion_tokens),
                "total_tokens": float(d.total_tokens),
            }
            text = f"{d.total_tokens} tokens on {d.model_id}"
        case ModelPerformanceMetrics():
            for name in ("accuracy", "quality_score", "user_satisfaction"):
                value = getattr(d, name)
                if value is not None:
                    m[name] = value
            text = f"model performance of {d.model_id}"
        case ThreatEvent():
            m = {
                "threat_level": float(d.threat_level.rank),
                "indicators": float(len(d.indicators_of_compromise)),
            }
            text = f"threat {_open_value(d.threat_type)} ({d.threat_level.value})"
        case VulnerabilityEvent():
            m = {"severity_score": d.severity_score}
            text = f"vulnerability {d.cve_id or d.vulnerability_id} in {d.affected_component}"
        case ComplianceViolationEvent():
            text = f"compliance violation {d.regulation}: {d.requirement}"
        case AuthEvent():
            outcome = "ok" if d.success else "failed"
            text = f"auth {d.action.value} {outcome} for {d.user_id}"
        case PrivacyEvent():
            consent = "with" if d.user_consent else "without"
            text = f"privacy {d.operation.value} of {d.data_type} {consent} consent"
        case TokenCostEvent():
            m = {"total_cost_usd": d.total_cost_usd, "total_tokens": float(d.total_tokens)}
            text = f"token cost {_num(d.total_cost_usd)} USD on {d.model_id}"
        case ApiCostEvent():
            m = {"total_cost_usd": d.total_cost_usd, "request_count": float(d.request_count)}
            text = f"api cost {_num(d.total_cost_usd)} USD at {d.provider}"
        case ResourceConsumptionEvent():
            m = {
                "cost_usd": d.cost_usd,
                "quantity": d.quantity,
                "utilization_percent": d.utilization_percent,
            }
            resource = _open_value(d.resource_type)
            text = f"{resource} {_num(d.quantity)} {d.unit}, {_num(d.cost_usd)} USD"
        case BudgetAlertEvent():
            m = {
                "current_spend_usd": d.current_spend_usd,
                "budget_limit_usd": d.budget_limit_usd,
                "threshold_percent": d.threshold_percent,
            }
            text = (
                f"budget {d.alert_type.value}: {d.budget_name} at "
                f"{_num(d.current_spend_usd)} of {_num(d.budget_limit_usd)} USD"
            )
        case PolicyViolationEvent():
            m = {"violated_rules": float(len(d.violated_rules))}
            text = f"policy violation {d.policy_name} ({d.severity.value})"
        case AuditTrailEvent():
            text = f"audit {d.action} on {d.resource_type} {d.resource_id} by {d.actor}"
        case ComplianceCheckEvent():
            m = {"score": d.score}
            outcome = "passed" if d.passed else "failed"
            text = f"compliance check {d.framework} {outcome} (score {_num(d.score)})"
        case DataLineageEvent():
            text = f"data lineage {d.operation.value} of {d.data_asset_id}"
        case CustomData():
            text = f"custom {d.custom_type}"
        case _:  # pragma: no cover - every payload variant is listed above
            text = event.payload_variant
    return text, m


_KINDS: dict[str, CorrelationType] = {
    "security.threat": CorrelationType.SECURITY_INCIDENT,
    "security.vulnerability": CorrelationType.SECURITY_INCIDENT,
    "security.auth": CorrelationType.SECURITY_INCIDENT,
    "security.privacy": CorrelationType.SECURITY_INCIDENT,
    "security.compliance_violation": CorrelationType.COMPLIANCE_CASCADE,
    "governance.policy_violation": CorrelationType.COMPLIANCE_CASCADE,
    "governance.compliance_check": CorrelationType.COMPLIANCE_CASCADE,
    "cost.token_cost": CorrelationType.COST_IMPACT,
    "cost.api_cost": CorrelationType.COST_IMPACT,
    "cost.resource_consumption": CorrelationType.COST_IMPACT,
    "cost.budget_alert": CorrelationType.COST_IMPACT,
    "telemetry.latency": CorrelationType.PERFORMANCE_DEGRADATION,
    "telemetry.throughput": CorrelationType.PERFORMANCE_DEGRADATION,
    "telemetry.error_rate": CorrelationType.PERFORMANCE_DEGRADATION,
    "telemetry.model_performance": CorrelationType.PERFORMANCE_DEGRADATION,
}
"""What a chain is about, by payload variant. Token usage, audit trail, lineage and
custom events say nothing about an incident's nature, so they have no kind."""


def chain_kind(ordered: list[AnalyticsEvent]) -> CorrelationType | None:
    """The kind of the first event (root first) whose payload has one."""
    for event in ordered:
        kind = _KINDS.get(event.payload_variant)
        if kind is not None:
            return kind
    return None


# --------------------------------------------------------------------------- one chain


def _sort_key(event: AnalyticsEvent) -> tuple[datetime, str]:
    return event.timestamp, str(event.event_id)


def _components(n: int, pairs: Iterable[tuple[int, int]]) -> int:
    """Weakly connected components by union-find (path halving)."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    count = n
    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            count -= 1
    return count


def _delta_ms(earlier: AnalyticsEvent, later: AnalyticsEvent) -> int:
    return round((later.timestamp - earlier.timestamp).total_seconds() * 1000)


def build_chain(
    events: Iterable[AnalyticsEvent],
    *,
    detected_at: datetime,
    window_s: float = 900.0,
    segment: int = 0,
    closed_by: str = "flush",
    duplicates: int = 0,
) -> ChainResult:
    """The correlation and graph of one chain's events (any order, repeats ignored).

    All events must share one ``correlation_id``. ``window_s`` only scales the
    ``precedes`` weights; ``segment`` numbers the chains cut from one id.
    """
    by_id: dict[UUID, AnalyticsEvent] = {}
    for event in events:
        by_id.setdefault(event.event_id, event)
    if not by_id:
        raise ValueError("a chain needs at least one event")
    timeline = sorted(by_id.values(), key=_sort_key)
    ids = {event.correlation_id for event in timeline}
    if len(ids) != 1 or None in ids:
        raise ValueError("all events of a chain must share one correlation_id")
    correlation_id = timeline[0].correlation_id
    assert correlation_id is not None
    n = len(timeline)

    # Parent links inside the chain; a self-reference is a cycle of one, never an edge.
    linked = {e.event_id for e in timeline if e.parent_event_id in by_id}
    children: dict[UUID, list[UUID]] = defaultdict(list)
    for e in timeline:
        if e.event_id in linked and e.parent_event_id != e.event_id:
            assert e.parent_event_id is not None
            children[e.parent_event_id].append(e.event_id)
    missing = [e for e in timeline if e.parent_event_id is not None and e.event_id not in linked]

    # Depth from the parentless events (BFS); whatever it never reaches hangs on a cycle.
    depth: dict[UUID, int] = {e.event_id: 0 for e in timeline if e.event_id not in linked}
    queue = deque(depth)
    while queue:
        current = queue.popleft()
        for child in children.get(current, ()):
            if child not in depth:
                depth[child] = depth[current] + 1
                queue.append(child)
    cyclic = n - len(depth)

    declared_roots = [e for e in timeline if e.parent_event_id is None]
    candidates = declared_roots or missing or timeline
    root = candidates[0]
    clarity = (1.0 if declared_roots else 0.5) / len(candidates)

    roles: dict[UUID, EventRole] = {}
    for e in timeline:
        if e is root:
            roles[e.event_id] = EventRole.ROOT_CAUSE
        elif e.event_id not in linked:
            roles[e.event_id] = EventRole.RELATED
        elif children.get(e.event_id):
            roles[e.event_id] = EventRole.CONTRIBUTOR
        else:
            roles[e.event_id] = EventRole.EFFECT
    ordered = [root] + [e for e in timeline if e is not root]

    linked_links = sum(
        1
        for e in timeline
        if e is not root and e.event_id in linked and e.parent_event_id != e.event_id
    )
    strength = 0.5 + 0.5 * linked_links / (n - 1) if n > 1 else 0.5
    confidence = (1.0 - len(missing) / n) * clarity * (1.0 - cyclic / n)

    modules: list[str] = []
    for e in timeline:
        if e.source_module.value not in modules:
            modules.append(e.source_module.value)
    kind = chain_kind(ordered)
    if len(modules) >= 2:
        correlation_type = CorrelationType.CAUSAL_CHAIN
    elif kind is not None:
        correlation_type = kind
    else:
        correlation_type = (
            CorrelationType.CAUSAL_CHAIN if linked_links else CorrelationType.TEMPORAL
        )

    graph_id = str(correlation_id) if segment == 0 else f"{correlation_id}/{segment}"
    window = TimeRange(start=timeline[0].timestamp, end=timeline[-1].timestamp)

    correlated: list[CorrelatedEvent] = []
    nodes: list[EventNode] = []
    node_of: dict[UUID, str] = {}
    for index, e in enumerate(ordered):
        summary, metrics = describe_event(e)
        role = roles[e.event_id]
        correlated.append(
            CorrelatedEvent(
                event_id=e.event_id,
                source_module=e.source_module,
                event_type=e.event_type,
                severity=e.severity,
                timestamp=e.timestamp,
                role=role,
                summary=summary,
                metrics=metrics,
            )
        )
        attributes = {
            "severity": e.severity.value,
            "role": role.value,
            "payload": e.payload_variant,
            "environment": e.environment,
            "summary": summary,
        }
        model_id = e.model_key()
        if model_id is not None:
            attributes["model_id"] = model_id
        if e.event_id in depth:
            attributes["depth"] = str(depth[e.event_id])
        attributes.update({name: _num(value) for name, value in metrics.items()})
        node_of[e.event_id] = f"n{index}"
        nodes.append(
            EventNode(
                node_id=f"n{index}",
                event_id=e.event_id,
                source_module=e.source_module,
                event_type=e.event_type,
                timestamp=e.timestamp,
                attributes=attributes,
            )
        )

    # One edge into each event but the first unlinked one: from its parent when that is
    # in the chain, else from the previous unlinked event in time. So the unlinked events
    # (the tops of the parent trees) form one time line and, without cycles, the graph is
    # a tree whatever the clocks say.
    raw_edges: list[tuple[AnalyticsEvent, AnalyticsEvent, EdgeRelationship, float, str]] = []
    previous_top: AnalyticsEvent | None = None
    for e in timeline:
        if e.event_id in linked:
            if e.parent_event_id is not None and e.parent_event_id != e.event_id:
                parent = by_id[e.parent_event_id]
                raw_edges.append((parent, e, EdgeRelationship.CAUSES, 1.0, "parent_event_id"))
            continue
        if previous_top is not None:
            gap_s = (e.timestamp - previous_top.timestamp).total_seconds()
            weight = round(0.5 * max(0.0, 1.0 - gap_s / window_s), 6)
            raw_edges.append((previous_top, e, EdgeRelationship.PRECEDES, weight, "time_order"))
        previous_top = e
    edges = [
        EventEdge(
            edge_id=f"e{index}",
            from_node=node_of[src.event_id],
            to_node=node_of[dst.event_id],
            relationship_type=relationship,
            weight=weight,
            properties={
                "link": link,
                "time_delta_ms": str(_delta_ms(src, dst)),
                "cross_module": "true" if src.source_module != dst.source_module else "false",
            },
        )
        for index, (src, dst, relationship, weight, link) in enumerate(raw_edges)
    ]
    position = {node.node_id: i for i, node in enumerate(nodes)}
    edge_count = len(edges)
    graph_metadata = GraphMetadata(
        node_count=n,
        edge_count=edge_count,
        connected_components=_components(
            n, ((position[edge.from_node], position[edge.to_node]) for edge in edges)
        ),
        avg_degree=round(2.0 * edge_count / n, 6),
        density=round(edge_count / (n * (n - 1)), 6) if n > 1 else 0.0,
    )

    metadata = {
        "closed_by": closed_by,
        "segment": str(segment),
        "graph_id": graph_id,
        "root_event_id": str(root.event_id),
        "modules": ",".join(modules),
        "module_count": str(len(modules)),
        "depth": str(max(depth.values(), default=0)),
        "linked": str(linked_links),
        "missing_parents": str(len(missing)),
        "cyclic_events": str(cyclic),
        "duplicates": str(duplicates),
        "environments": ",".join(sorted({e.environment for e in timeline})),
    }
    if kind is not None:
        metadata["kind"] = kind.value
    correlation = EventCorrelation(
        correlation_id=correlation_id,
        correlation_type=correlation_type,
        events=correlated,
        strength=round(strength, 6),
        confidence=round(confidence, 6),
        time_window=window,
        detected_at=detected_at,
        metadata=metadata,
    )
    graph = EventGraph(
        graph_id=graph_id, time_range=window, nodes=nodes, edges=edges, metadata=graph_metadata
    )
    return ChainResult(correlation=correlation, graph=graph, closed_by=closed_by)


# --------------------------------------------------------------------------- streaming


@dataclass(slots=True)
class _Chain:
    correlation_id: UUID
    segment: int
    first_arrival_s: float
    last_arrival_s: float
    min_ts: float
    max_ts: float
    events: dict[UUID, AnalyticsEvent] = field(default_factory=dict)
    duplicates: int = 0


class EventChainAssembler:
    """Open chains per correlation id, closed into ChainResults (see the module doc).

    ``now_s`` is the caller's clock in seconds: the wall clock in a live worker, the
    stream's event time when replaying a file. It must not go backwards by much;
    settling and the open-time limit use it, the window span uses event timestamps.
    """

    def __init__(self, config: ChainConfig | None = None, event_time: bool = False) -> None:
        self.config = config or ChainConfig()
        self.event_time = event_time
        """``now_s`` is the stream's event time (a watermark): a chain closed by ``due``
        is dated at the moment it settled or aged, not at the call, so the output does
        not depend on how often ``due`` is called."""
        self.stats = ChainStats()
        self._open: OrderedDict[UUID, _Chain] = OrderedDict()  # least recently active first
        self._seen: OrderedDict[UUID, None] = OrderedDict()
        self._segments: OrderedDict[UUID, int] = OrderedDict()

    @property
    def open_chains(self) -> int:
        return len(self._open)

    @property
    def open_events(self) -> int:
        return sum(len(chain.events) for chain in self._open.values())

    def is_open(self, correlation_id: UUID) -> bool:
        """Whether events of this id are still held (not yet emitted or dropped)."""
        return correlation_id in self._open

    def add(self, event: AnalyticsEvent, now_s: float) -> list[ChainResult]:
        """Take one event; returns the chains it forced closed (usually none).

        Chains close early when this event would overflow their window or size, or
        evict the least recently active chain; those results are returned here so
        that state stays bounded whatever the caller's ``due`` cadence.
        """
        cid = event.correlation_id
        if cid is None:
            self.stats.uncorrelated += 1
            return []
        eid = event.event_id
        chain = self._open.get(cid)
        if eid in self._seen or (chain is not None and eid in chain.events):
            self.stats.duplicates += 1
            if chain is not None:
                chain.duplicates += 1
            return []
        self._remember(self._seen, eid, None)
        self.stats.events += 1
        ts = event.timestamp.timestamp()
        out: list[ChainResult] = []
        cfg = self.config
        if chain is not None:
            if len(chain.events) >= cfg.max_events_per_chain:
                self.stats.full_splits += 1
                out += self._close(chain, "full", now_s)
                chain = None
            elif max(chain.max_ts, ts) - min(chain.min_ts, ts) > cfg.window_s:
                self.stats.window_splits += 1
                out += self._close(chain, "window", now_s)
                chain = None
        if chain is None:
            if len(self._open) >= cfg.max_open_chains:
                oldest = next(iter(self._open.values()))
                self.stats.evicted += 1
                out += self._close(oldest, "evicted", now_s)
            chain = _Chain(
                correlation_id=cid,
                segment=self._segments.get(cid, 0),
                first_arrival_s=now_s,
                last_arrival_s=now_s,
                min_ts=ts,
                max_ts=ts,
            )
            self._open[cid] = chain
        else:
            chain.last_arrival_s = max(chain.last_arrival_s, now_s)
            chain.min_ts = min(chain.min_ts, ts)
            chain.max_ts = max(chain.max_ts, ts)
            self._open.move_to_end(cid)
        chain.events[eid] = event
        return out

    def due(self, now_s: float) -> list[ChainResult]:
        """Close the chains quiet for ``settle_s`` or open for ``window_s``; oldest first."""
        cfg = self.config
        ready: list[tuple[_Chain, str]] = []
        for chain in self._open.values():
            if now_s - chain.last_arrival_s >= cfg.settle_s:
                ready.append((chain, "settled"))
            elif now_s - chain.first_arrival_s >= cfg.window_s:
                ready.append((chain, "max_age"))
        ready.sort(key=lambda item: (item[0].min_ts, str(item[0].correlation_id)))
        out: list[ChainResult] = []
        for chain, reason in ready:
            moment = now_s
            if self.event_time:
                moment = (
                    chain.last_arrival_s + cfg.settle_s
                    if reason == "settled"
                    else chain.first_arrival_s + cfg.window_s
                )
            out += self._close(chain, reason, moment)
        return out

    def flush(self, now_s: float) -> list[ChainResult]:
        """Close every open chain (end of a replay, shutdown)."""
        chains = sorted(self._open.values(), key=lambda c: (c.min_ts, str(c.correlation_id)))
        out: list[ChainResult] = []
        for chain in chains:
            out += self._close(chain, "flush", now_s)
        return out

    def _remember(self, memory: OrderedDict[UUID, Any], key: UUID, value: Any) -> None:
        memory[key] = value
        memory.move_to_end(key)
        while len(memory) > self.config.dedupe_capacity:
            memory.popitem(last=False)

    def _close(self, chain: _Chain, reason: str, now_s: float) -> list[ChainResult]:
        del self._open[chain.correlation_id]
        self._remember(self._segments, chain.correlation_id, chain.segment + 1)
        cfg = self.config
        if len(chain.events) < cfg.min_events:
            self.stats.too_small += 1
            return []
        if not cfg.include_single_module:
            modules = {e.source_module for e in chain.events.values()}
            if len(modules) < 2:
                self.stats.single_module_skipped += 1
                return []
        self.stats.emitted += 1
        return [
            build_chain(
                chain.events.values(),
                detected_at=datetime.fromtimestamp(now_s, UTC),
                window_s=cfg.window_s,
                segment=chain.segment,
                closed_by=reason,
                duplicates=chain.duplicates,
            )
        ]
