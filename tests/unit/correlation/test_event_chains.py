"""Causal chains from correlation_id / parent_event_id: roles, graph, timing, bounds."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from pipeline.correlation.chains import (
    ChainConfig,
    ChainResult,
    EventChainAssembler,
    build_chain,
    describe_event,
    may_have_correlation_id,
)
from pipeline.models.correlation import (
    CorrelationType,
    EdgeRelationship,
    EventCorrelation,
    EventGraph,
    EventRole,
)
from pipeline.models.events import (
    AnalyticsEvent,
    CostPayload,
    EventType,
    LatencyMetrics,
    MitigationStatus,
    PolicyViolationEvent,
    PolicyViolationSeverity,
    SecurityPayload,
    Severity,
    SourceModule,
    TelemetryPayload,
    ThreatEvent,
    ThreatLevel,
    ThreatType,
    TokenCostEvent,
)
from pipeline.models.events import GovernancePayload as GovPayload
from pipeline.sim.simulate import VARIANTS, EventSimulator

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
S0 = T0.timestamp()
CID = UUID("9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f")


def _id(n: int) -> UUID:
    return UUID(int=n, version=4)


def _threat(
    seconds: float, *, eid: UUID, parent: UUID | None = None, cid: UUID = CID
) -> AnalyticsEvent:
    return AnalyticsEvent(
        event_id=eid,
        timestamp=T0 + timedelta(seconds=seconds),
        source_module=SourceModule.LLM_SENTINEL,
        event_type=EventType.SECURITY,
        correlation_id=cid,
        parent_event_id=parent,
        severity=Severity.ERROR,
        environment="production",
        payload=SecurityPayload(
            data=ThreatEvent(
                threat_id="t-1",
                threat_type=ThreatType.PROMPT_INJECTION,
                threat_level=ThreatLevel.HIGH,
                target_resource="gpt-4",
                attack_vector="prompt",
                mitigation_status=MitigationStatus.DETECTED,
                indicators_of_compromise=["ignore previous", "system prompt"],
            )
        ),
    )


def _latency(
    seconds: float, *, eid: UUID, parent: UUID | None = None, cid: UUID = CID, ms: float = 2300.0
) -> AnalyticsEvent:
    return AnalyticsEvent(
        event_id=eid,
        timestamp=T0 + timedelta(seconds=seconds),
        source_module=SourceModule.LLM_OBSERVATORY,
        event_type=EventType.TELEMETRY,
        correlation_id=cid,
        parent_event_id=parent,
        severity=Severity.WARNING,
        environment="production",
        payload=TelemetryPayload(
            data=LatencyMetrics(
                model_id="gpt-4", request_id="r-1", total_latency_ms=ms, ttft_ms=310.5
            )
        ),
    )


def _cost(
    seconds: float, *, eid: UUID, parent: UUID | None = None, cid: UUID = CID
) -> AnalyticsEvent:
    return AnalyticsEvent(
        event_id=eid,
        timestamp=T0 + timedelta(seconds=seconds),
        source_module=SourceModule.LLM_COST_OPS,
        event_type=EventType.COST,
        correlation_id=cid,
        parent_event_id=parent,
        severity=Severity.INFO,
        environment="production",
        payload=CostPayload(
            data=TokenCostEvent(
                model_id="gpt-4",
                request_id="r-1",
                prompt_tokens=1500,
                completion_tokens=400,
                total_tokens=1900,
                cost_per_prompt_token=0.00003,
                cost_per_completion_token=0.00006,
                total_cost_usd=0.069,
                currency="USD",
            )
        ),
    )


def _policy(
    seconds: float, *, eid: UUID, parent: UUID | None = None, cid: UUID = CID
) -> AnalyticsEvent:
    return AnalyticsEvent(
        event_id=eid,
        timestamp=T0 + timedelta(seconds=seconds),
        source_module=SourceModule.LLM_POLICY_ENGINE,
        event_type=EventType.GOVERNANCE,
        correlation_id=cid,
        parent_event_id=parent,
        severity=Severity.WARNING,
        environment="production",
        payload=GovPayload(
            data=PolicyViolationEvent(
                policy_id="p-1",
                policy_name="pii-out",
                violation_description="pii in output",
                violated_rules=["r1", "r2"],
                resource_id="gpt-4",
                severity=PolicyViolationSeverity.HIGH,
                auto_remediated=False,
            )
        ),
    )


THREAT, LATENCY, COST = _id(1), _id(2), _id(3)


def _incident() -> list[AnalyticsEvent]:
    """Sentinel threat -> observatory latency (+1.5 s) -> cost-ops token cost (+0.75 s)."""
    return [
        _threat(0.0, eid=THREAT),
        _latency(1.5, eid=LATENCY, parent=THREAT),
        _cost(2.25, eid=COST, parent=LATENCY),
    ]


def _feed(assembler: EventChainAssembler, events: list[AnalyticsEvent], now_s: float) -> None:
    for event in events:
        assert assembler.add(event, now_s) == []


def _components(n: int, pairs: list[tuple[int, int]]) -> int:
    """Weakly connected components by BFS (independent of the module's union-find)."""
    neighbours: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    seen: set[int] = set()
    count = 0
    for start in range(n):
        if start in seen:
            continue
        count += 1
        queue = deque([start])
        seen.add(start)
        while queue:
            for nxt in neighbours[queue.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
    return count


def _check_graph_metadata(graph: EventGraph) -> None:
    n, e = len(graph.nodes), len(graph.edges)
    index = {node.node_id: i for i, node in enumerate(graph.nodes)}
    pairs = [(index[edge.from_node], index[edge.to_node]) for edge in graph.edges]
    meta = graph.metadata
    assert meta.node_count == n
    assert meta.edge_count == e
    assert meta.connected_components == _components(n, pairs)
    assert meta.avg_degree == pytest.approx(2 * e / n, abs=1e-6)
    assert meta.density == pytest.approx(e / (n * (n - 1)) if n > 1 else 0.0, abs=1e-6)


def _edges(result: ChainResult) -> list[tuple[UUID, UUID, EdgeRelationship]]:
    """Edges as (from event, to event, relationship), independent of node naming."""
    event_of = {node.node_id: node.event_id for node in result.graph.nodes}
    return [
        (event_of[e.from_node], event_of[e.to_node], e.relationship_type)
        for e in result.graph.edges
    ]


def _roles(result: ChainResult) -> dict[UUID, EventRole]:
    return {e.event_id: e.role for e in result.correlation.events}


# --------------------------------------------------------------------------- the main chain


def test_three_module_chain_gives_roles_edges_and_metadata() -> None:
    assembler = EventChainAssembler()
    _feed(assembler, _incident(), now_s=S0 + 5)
    assert assembler.due(S0 + 34.9) == []  # 30 s settle, counted from the last arrival
    [result] = assembler.due(S0 + 35)
    corr = result.correlation

    assert result.closed_by == "settled"
    assert result.key == str(CID).encode()
    assert corr.correlation_id == CID
    assert corr.correlation_type is CorrelationType.CAUSAL_CHAIN  # three modules
    assert [e.event_id for e in corr.events] == [THREAT, LATENCY, COST]
    assert _roles(result) == {
        THREAT: EventRole.ROOT_CAUSE,
        LATENCY: EventRole.CONTRIBUTOR,
        COST: EventRole.EFFECT,
    }
    assert [e.summary for e in corr.events] == [
        "threat prompt_injection (high)",
        "latency 2300 ms on gpt-4",
        "token cost 0.069 USD on gpt-4",
    ]
    assert corr.events[0].metrics == {"threat_level": 2.0, "indicators": 2.0}
    assert corr.events[1].metrics == {"total_latency_ms": 2300.0, "ttft_ms": 310.5}
    assert corr.events[2].metrics == {"total_cost_usd": 0.069, "total_tokens": 1900.0}
    assert corr.strength == 1.0  # both non-root events linked by parent_event_id
    assert corr.confidence == 1.0  # one declared root, no missing parent, no cycle
    assert corr.time_window.start == T0
    assert corr.time_window.end == T0 + timedelta(seconds=2.25)
    assert corr.detected_at == datetime.fromtimestamp(S0 + 35, UTC)
    assert corr.metadata["modules"] == "llm-sentinel,llm-observatory,llm-cost-ops"
    assert corr.metadata["module_count"] == "3"
    assert corr.metadata["depth"] == "2"
    assert corr.metadata["missing_parents"] == "0"
    assert corr.metadata["cyclic_events"] == "0"
    assert corr.metadata["root_event_id"] == str(THREAT)
    assert corr.metadata["kind"] == "security_incident"
    assert corr.pattern is None

    graph = result.graph
    assert graph.graph_id == str(CID)
    assert graph.time_range == corr.time_window
    assert [n.event_id for n in graph.nodes] == [THREAT, LATENCY, COST]
    assert graph.nodes[1].attributes["model_id"] == "gpt-4"
    assert graph.nodes[1].attributes["total_latency_ms"] == "2300"
    assert graph.nodes[1].attributes["role"] == "contributor"
    assert graph.nodes[2].attributes["depth"] == "2"
    assert _edges(result) == [
        (THREAT, LATENCY, EdgeRelationship.CAUSES),
        (LATENCY, COST, EdgeRelationship.CAUSES),
    ]
    assert [e.properties["time_delta_ms"] for e in graph.edges] == ["1500", "750"]
    assert all(e.properties["cross_module"] == "true" for e in graph.edges)
    assert all(e.weight == 1.0 for e in graph.edges)
    _check_graph_metadata(graph)
    assert graph.metadata.connected_components == 1
    assert graph.metadata.edge_count == 2
    assert assembler.open_chains == 0
    assert assembler.stats.emitted == 1


def test_wire_round_trip() -> None:
    result = build_chain(_incident(), detected_at=T0 + timedelta(seconds=40.123456))
    corr_bytes = result.correlation.to_wire_bytes()
    graph_bytes = result.graph.to_wire_bytes()
    assert EventCorrelation.from_wire(corr_bytes) == result.correlation
    assert EventGraph.from_wire(graph_bytes) == result.graph
    assert EventCorrelation.from_wire(corr_bytes).to_wire_bytes() == corr_bytes
    assert EventGraph.from_wire(graph_bytes).to_wire_bytes() == graph_bytes


def test_duplicates_are_ignored_and_arrival_order_does_not_matter() -> None:
    in_order = EventChainAssembler()
    _feed(in_order, _incident(), now_s=S0 + 5)
    [expected] = in_order.due(S0 + 60)

    shuffled = EventChainAssembler()
    a, b, c = _incident()
    _feed(shuffled, [c, a, c, b], now_s=S0 + 5)
    _feed(shuffled, [a], now_s=S0 + 34)  # a late repeat does not keep the chain open
    [got] = shuffled.due(S0 + 35)
    assert shuffled.stats.duplicates == 2
    assert shuffled.stats.events == 3
    assert got.correlation.metadata["duplicates"] == "2"
    assert got.graph.to_wire_bytes() == expected.graph.to_wire_bytes()
    assert got.correlation.events == expected.correlation.events
    assert (got.correlation.strength, got.correlation.confidence) == (1.0, 1.0)

    # a repeat after the chain was emitted is still recognised
    assert shuffled.add(a, S0 + 40) == []
    assert shuffled.stats.duplicates == 3
    assert shuffled.open_chains == 0


def test_missing_parent_is_related_and_lowers_confidence() -> None:
    orphan = _id(9)
    events = [
        _threat(0.0, eid=THREAT),
        _latency(1.0, eid=LATENCY, parent=THREAT),
        _cost(91.0, eid=orphan, parent=_id(999)),  # its parent never arrives
    ]
    result = build_chain(events, detected_at=T0, window_s=900.0)
    corr = result.correlation
    assert _roles(result) == {
        THREAT: EventRole.ROOT_CAUSE,
        LATENCY: EventRole.EFFECT,
        orphan: EventRole.RELATED,
    }
    assert corr.strength == pytest.approx(0.5 + 0.5 * 1 / 2)  # one of two non-roots linked
    assert corr.confidence == pytest.approx(2 / 3, abs=1e-6)  # one of three parents missing
    assert corr.confidence < build_chain(_incident(), detected_at=T0).correlation.confidence
    assert corr.metadata["missing_parents"] == "1"
    assert _edges(result) == [
        (THREAT, LATENCY, EdgeRelationship.CAUSES),
        (THREAT, orphan, EdgeRelationship.PRECEDES),  # after the previous unlinked event
    ]
    precedes = result.graph.edges[1]
    assert precedes.properties["time_delta_ms"] == "91000"
    assert precedes.properties["link"] == "time_order"
    assert precedes.weight == pytest.approx(0.5 * (1 - 91 / 900))
    _check_graph_metadata(result.graph)


def test_without_a_declared_root_the_earliest_orphan_is_root_with_less_confidence() -> None:
    first, second = _id(20), _id(21)
    events = [
        _latency(0.0, eid=first, parent=_id(998)),
        _cost(1.0, eid=second, parent=first),
    ]
    corr = build_chain(events, detected_at=T0).correlation
    assert [(e.event_id, e.role) for e in corr.events] == [
        (first, EventRole.ROOT_CAUSE),
        (second, EventRole.EFFECT),
    ]
    # completeness 1/2 x clarity (0.5: no declared root) / 1 candidate x acyclic 1
    assert corr.confidence == pytest.approx(0.25)


def test_unlinked_events_sharing_an_id_are_related_with_half_strength() -> None:
    a, b, c = _id(30), _id(31), _id(32)
    events = [_latency(0.0, eid=a), _latency(10.0, eid=b), _latency(20.0, eid=c)]
    result = build_chain(events, detected_at=T0)
    corr = result.correlation
    assert [e.role for e in corr.events] == [
        EventRole.ROOT_CAUSE,
        EventRole.RELATED,
        EventRole.RELATED,
    ]
    assert corr.strength == 0.5
    assert corr.confidence == pytest.approx(1 / 3)  # three equally likely roots
    # single module, typed by content
    assert corr.correlation_type is CorrelationType.PERFORMANCE_DEGRADATION
    assert [r for _, _, r in _edges(result)] == [EdgeRelationship.PRECEDES] * 2
    assert all(e.properties["cross_module"] == "false" for e in result.graph.edges)
    _check_graph_metadata(result.graph)


def test_two_parent_trees_and_a_skewed_clock_still_give_one_tree() -> None:
    r1, c1, r2, c2 = _id(33), _id(34), _id(35), _id(36)
    events = [
        _threat(10.0, eid=r1),
        _latency(8.0, eid=c1, parent=r1),  # its clock is 2 s behind its parent's
        _threat(20.0, eid=r2),
        _cost(21.0, eid=c2, parent=r2),
    ]
    result = build_chain(events, detected_at=T0)
    assert _roles(result) == {
        r1: EventRole.ROOT_CAUSE,
        c1: EventRole.EFFECT,
        r2: EventRole.RELATED,  # a second declared root: shares only the id
        c2: EventRole.EFFECT,
    }
    assert sorted(_edges(result)) == sorted(
        [
            (r1, c1, EdgeRelationship.CAUSES),
            (r1, r2, EdgeRelationship.PRECEDES),
            (r2, c2, EdgeRelationship.CAUSES),
        ]
    )
    delta = {(e.from_node, e.to_node): e.properties["time_delta_ms"] for e in result.graph.edges}
    assert delta[("n0", "n1")] == "-2000"
    assert result.correlation.strength == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert result.correlation.confidence == pytest.approx(0.5)  # two declared roots
    _check_graph_metadata(result.graph)
    assert result.graph.metadata.edge_count == 3  # N - 1: a tree
    assert result.graph.metadata.connected_components == 1


@pytest.mark.timeout(5)
def test_parent_cycles_terminate_and_show_in_the_graph() -> None:
    root, a, b = _id(40), _id(41), _id(42)
    events = [
        _threat(0.0, eid=root),
        _latency(1.0, eid=a, parent=b),
        _cost(2.0, eid=b, parent=a),
    ]
    result = build_chain(events, detected_at=T0)
    corr = result.correlation
    assert _roles(result) == {
        root: EventRole.ROOT_CAUSE,
        a: EventRole.CONTRIBUTOR,
        b: EventRole.CONTRIBUTOR,
    }
    assert corr.metadata["cyclic_events"] == "2"
    assert corr.metadata["depth"] == "0"
    assert corr.confidence == pytest.approx(1 / 3, abs=1e-6)  # two of three unrooted
    assert sorted(_edges(result)) == sorted(
        [(b, a, EdgeRelationship.CAUSES), (a, b, EdgeRelationship.CAUSES)]
    )
    _check_graph_metadata(result.graph)
    assert result.graph.metadata.connected_components == 2  # the loop hangs off nothing

    # all in a loop, plus an event that is its own parent: the earliest is root, nothing hangs
    c = _id(43)
    loop = [
        _latency(1.0, eid=a, parent=b),
        _cost(2.0, eid=b, parent=a),
        _cost(3.0, eid=c, parent=c),
    ]
    result = build_chain(loop, detected_at=T0)
    assert result.correlation.events[0].event_id == a
    assert result.correlation.events[0].role is EventRole.ROOT_CAUSE
    assert result.correlation.confidence == 0.0
    assert result.graph.metadata.edge_count == 2  # no self-loop edge
    _check_graph_metadata(result.graph)

    assembler = EventChainAssembler()
    _feed(assembler, loop, now_s=S0)
    assert len(assembler.flush(S0 + 1)) == 1


# --------------------------------------------------------------------------- timing


def test_settle_counts_from_the_last_arrival() -> None:
    assembler = EventChainAssembler(ChainConfig(settle_s=30.0))
    a, b, c = _incident()
    _feed(assembler, [a], now_s=100.0)
    _feed(assembler, [b], now_s=120.0)
    assert assembler.due(149.9) == []
    _feed(assembler, [c], now_s=149.9)
    assert assembler.due(179.8) == []
    [result] = assembler.due(179.9)
    assert result.closed_by == "settled"
    assert len(result.correlation.events) == 3


def test_a_chain_that_never_settles_closes_after_window_s() -> None:
    assembler = EventChainAssembler(ChainConfig(settle_s=30.0, window_s=300.0))
    events = [
        _latency(float(i), eid=_id(100 + i), parent=_id(99 + i) if i else None) for i in range(20)
    ]
    results: list[ChainResult] = []
    for i, event in enumerate(events):  # one arrival every 20 s: never quiet for 30 s
        results += assembler.add(event, 1000.0 + 20 * i)
        results += assembler.due(1000.0 + 20 * i)
    assert [r.closed_by for r in results] == ["max_age"]
    assert len(results[0].correlation.events) == 16  # arrivals at 0, 20, ..., 300 s
    assert assembler.open_chains == 1


def test_an_event_beyond_the_window_span_starts_the_next_segment() -> None:
    assembler = EventChainAssembler(ChainConfig(window_s=900.0))
    a, b = _threat(0.0, eid=_id(50)), _latency(100.0, eid=_id(51), parent=_id(50))
    c = _latency(900.5, eid=_id(52), parent=_id(51))
    d = _cost(905.0, eid=_id(53), parent=_id(52))
    _feed(assembler, [a, b], now_s=S0)
    [first] = assembler.add(c, S0 + 1)
    assert first.closed_by == "window"
    assert [e.event_id for e in first.correlation.events] == [_id(50), _id(51)]
    assert first.graph.graph_id == str(CID)
    _feed(assembler, [d], now_s=S0 + 2)
    [second] = assembler.flush(S0 + 3)
    assert second.correlation.correlation_id == CID
    assert second.graph.graph_id == f"{CID}/1"
    assert second.correlation.metadata["segment"] == "1"
    assert second.correlation.metadata["missing_parents"] == "1"  # its parent is in segment 0
    assert _roles(second) == {_id(52): EventRole.ROOT_CAUSE, _id(53): EventRole.EFFECT}
    assert assembler.stats.window_splits == 1


# --------------------------------------------------------------------------- filters and bounds


def test_min_events_and_single_module_filters() -> None:
    assembler = EventChainAssembler()
    _feed(assembler, [_threat(0.0, eid=_id(60))], now_s=S0)
    assert assembler.due(S0 + 60) == []
    assert assembler.stats.too_small == 1

    strict = EventChainAssembler(ChainConfig(min_events=3))
    _feed(strict, _incident()[:2], now_s=S0)
    assert strict.due(S0 + 60) == []
    other = uuid4()
    _feed(strict, [_threat(0, eid=_id(61), cid=other), _latency(1, eid=_id(62), cid=other)], S0)
    _feed(strict, [_cost(2, eid=_id(63), parent=_id(62), cid=other)], S0)
    [result] = strict.due(S0 + 60)
    assert result.correlation.correlation_id == other

    multi_only = EventChainAssembler(ChainConfig(include_single_module=False))
    lone = uuid4()
    _feed(multi_only, [_latency(0, eid=_id(70), cid=lone)], S0)
    _feed(multi_only, [_latency(1, eid=_id(71), parent=_id(70), cid=lone)], S0)
    _feed(multi_only, _incident(), S0)
    [kept] = multi_only.due(S0 + 60)
    assert kept.correlation.correlation_id == CID
    assert multi_only.stats.single_module_skipped == 1


def test_uncorrelated_events_are_ignored() -> None:
    assembler = EventChainAssembler()
    event = _latency(0.0, eid=_id(80)).model_copy(update={"correlation_id": None})
    assert assembler.add(event, S0) == []
    assert assembler.stats.uncorrelated == 1
    assert assembler.open_chains == 0


def test_open_chains_are_bounded_by_evicting_the_least_recently_active() -> None:
    assembler = EventChainAssembler(ChainConfig(max_open_chains=2))
    first, second, third = uuid4(), uuid4(), uuid4()
    _feed(assembler, [_threat(0, eid=_id(90), cid=first)], S0)
    _feed(assembler, [_threat(1, eid=_id(91), cid=second)], S0 + 1)
    _feed(assembler, [_latency(2, eid=_id(92), parent=_id(91), cid=second)], S0 + 2)
    _feed(assembler, [_latency(3, eid=_id(93), parent=_id(90), cid=first)], S0 + 3)
    # `second` is now the least recently active
    [evicted] = assembler.add(_threat(4, eid=_id(94), cid=third), S0 + 4)
    assert evicted.closed_by == "evicted"
    assert evicted.correlation.correlation_id == second
    assert assembler.open_chains == 2
    assert assembler.stats.evicted == 1


def test_events_per_chain_are_bounded_by_splitting_full_chains() -> None:
    assembler = EventChainAssembler(ChainConfig(max_events_per_chain=3))
    ids = [_id(200 + i) for i in range(5)]
    results: list[ChainResult] = []
    for i, eid in enumerate(ids):
        results += assembler.add(_latency(i, eid=eid, parent=ids[i - 1] if i else None), S0 + i)
    assert [r.closed_by for r in results] == ["full"]
    assert len(results[0].correlation.events) == 3
    assert assembler.open_events == 2
    assert assembler.stats.full_splits == 1


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        ChainConfig(window_s=0)
    with pytest.raises(ValueError):
        ChainConfig(min_events=5, max_events_per_chain=4)


# --------------------------------------------------------------------------- typing and content


def test_single_module_chains_are_typed_by_content() -> None:
    def two(make: Callable[..., AnalyticsEvent], cid: UUID) -> list[AnalyticsEvent]:
        first, second = uuid4(), uuid4()
        return [make(0.0, eid=first, cid=cid), make(1.0, eid=second, parent=first, cid=cid)]

    cases = {
        _threat: CorrelationType.SECURITY_INCIDENT,
        _cost: CorrelationType.COST_IMPACT,
        _policy: CorrelationType.COMPLIANCE_CASCADE,
        _latency: CorrelationType.PERFORMANCE_DEGRADATION,
    }
    for make, expected in cases.items():
        corr = build_chain(two(make, uuid4()), detected_at=T0).correlation
        assert corr.correlation_type is expected
        assert corr.metadata["kind"] == expected.value
    policy = build_chain(two(_policy, uuid4()), detected_at=T0).correlation
    assert policy.events[0].summary == "policy violation pii-out (high)"
    assert policy.events[0].metrics == {"violated_rules": 2.0}


def test_every_payload_variant_is_described() -> None:
    sim = EventSimulator(seed=11)
    for variant in VARIANTS:
        event = sim.make(variant, T0)
        summary, metrics = describe_event(event)
        assert summary and summary != event.payload_variant
        assert all(isinstance(v, float) for v in metrics.values())


def test_simulated_traces_are_fully_linked_chains() -> None:
    sim = EventSimulator(seed=7)
    # settle longer than the run (150 s): a trace joined late must not be cut into
    # segments, whose first event's parent would be missing from the chain
    assembler = EventChainAssembler(ChainConfig(settle_s=300.0))
    results: list[ChainResult] = []
    correlated = 0
    for i in range(600):
        event = sim.random_event(T0 + timedelta(milliseconds=250 * i))
        raw = event.to_wire_bytes()
        if event.correlation_id is not None:
            correlated += 1
            assert may_have_correlation_id(raw)  # the pre-filter never loses one
        elif not may_have_correlation_id(raw):
            continue
        results += assembler.add(AnalyticsEvent.from_wire(raw), S0 + 0.25 * i)
        results += assembler.due(S0 + 0.25 * i)
    results += assembler.flush(S0 + 1000)
    assert results
    emitted = sum(len(r.correlation.events) for r in results)
    assert emitted + assembler.stats.too_small == correlated  # too small = a lone event
    assert all(r.closed_by == "flush" for r in results)
    for result in results:
        corr = result.correlation
        # the simulator makes each joining event the child of its trace's last event
        assert (corr.strength, corr.confidence) == (1.0, 1.0)
        assert corr.metadata["depth"] == str(len(corr.events) - 1)
        assert result.graph.metadata.connected_components == 1
        _check_graph_metadata(result.graph)
        assert EventCorrelation.from_wire(corr.to_wire_bytes()) == corr


def test_correlation_id_prefilter() -> None:
    a, b, _ = _incident()
    with_id = a.to_wire_bytes()
    without = a.model_copy(update={"correlation_id": None}).to_wire_bytes()
    assert may_have_correlation_id(with_id)
    assert not may_have_correlation_id(without)
    assert may_have_correlation_id(b"[" + without + b"," + b.to_wire_bytes() + b"]")
    escaped = with_id.replace(b'"correlation_id"', b'"correlation\\u005fid"')
    assert AnalyticsEvent.from_wire(escaped).correlation_id == CID
    assert may_have_correlation_id(escaped)
