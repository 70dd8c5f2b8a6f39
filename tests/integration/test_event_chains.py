"""`hub chains` on the real broker: traced events in, one correlation and graph per trace."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta

import orjson

from pipeline.models.correlation import EventCorrelation, EventGraph
from pipeline.simulate import EventSimulator
from tests.integration.harness import Worker, collect, hub, produce_raw, run


def _traces(count: int) -> tuple[list[tuple[str, bytes]], dict[str, list[str]]]:
    """``count`` threat -> latency -> token-cost traces across three modules, sent as
    batched arrays mixed with untraced events; returns messages and trace -> event ids."""
    sim = EventSimulator(seed=11, environment="it-chains")
    now = datetime.now(UTC) - timedelta(minutes=5)
    traces: dict[str, list[str]] = {}
    by_topic: dict[str, list[bytes]] = {}
    for i in range(count):
        moment = now + timedelta(seconds=i)
        threat = sim.make("security.threat", moment)
        latency = sim.make("telemetry.latency", moment + timedelta(milliseconds=300))
        cost = sim.make("cost.token_cost", moment + timedelta(milliseconds=900))
        cid = threat.event_id
        chain = [
            threat.model_copy(update={"correlation_id": cid, "parent_event_id": None}),
            latency.model_copy(update={"correlation_id": cid, "parent_event_id": threat.event_id}),
            cost.model_copy(update={"correlation_id": cid, "parent_event_id": latency.event_id}),
        ]
        traces[str(cid)] = [str(e.event_id) for e in chain]
        untraced = sim.make("telemetry.throughput", moment).model_copy(
            update={"correlation_id": None, "parent_event_id": None}
        )
        for event in [*chain, untraced]:
            topic = f"{event.source_module.value}.events"
            by_topic.setdefault(topic, []).append(event.to_wire_bytes())
    messages = []
    for topic, values in by_topic.items():
        for start in range(0, len(values), 4):  # JSON arrays of 4, like hub produce --batch
            messages.append((topic, b"[" + b",".join(values[start : start + 4]) + b"]"))
    return messages, traces


def test_chains_are_assembled_across_modules_and_published(
    hub_env: dict[str, str], kafka_bootstrap: str
) -> None:
    env = {**hub_env, "HUB_CHAIN_SETTLE_S": "2"}
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    messages, traces = _traces(12)
    run(produce_raw(kafka_bootstrap, [(prefix + t, v) for t, v in messages]))
    worker = Worker(env, "chains", command=("chains",))
    try:
        correlations = run(collect(kafka_bootstrap, prefix + "hub.event-correlations",
                                   lambda r: len(r) >= len(traces), timeout=60))  # fmt: skip
        graphs = run(collect(kafka_bootstrap, prefix + "hub.event-graphs",
                             lambda r: len(r) >= len(traces), timeout=30))  # fmt: skip
    finally:
        worker.stop(signal.SIGTERM)
    assert len(correlations) == len(traces), worker.log_tail()
    for record in correlations:
        correlation = EventCorrelation.from_wire(record.value)
        cid = str(correlation.correlation_id)
        assert record.key.decode() == cid
        ids = [str(e.event_id) for e in correlation.events]
        assert sorted(ids) == sorted(traces[cid])
        roles = {str(e.event_id): e.role.value for e in correlation.events}
        threat, latency, cost = traces[cid]
        assert (roles[threat], roles[latency], roles[cost]) == (
            "root_cause", "contributor", "effect",
        )  # fmt: skip
        assert correlation.correlation_type.value == "causal_chain"
        assert correlation.strength == 1.0
    for record in graphs:
        graph = EventGraph.from_wire(record.value)
        assert (graph.metadata.node_count, graph.metadata.edge_count) == (3, 2)
        edges = {(e.from_node, e.to_node, e.relationship_type.value) for e in graph.edges}
        node_of = {str(n.event_id): n.node_id for n in graph.nodes}
        threat, latency, cost = traces[graph.graph_id]
        assert edges == {
            (node_of[threat], node_of[latency], "causes"),
            (node_of[latency], node_of[cost], "causes"),
        }


def test_open_chains_hold_the_committed_offset(
    hub_env: dict[str, str], kafka_bootstrap: str
) -> None:
    """A chain still open when the process dies is rebuilt after the restart."""
    env = {**hub_env, "HUB_CHAIN_SETTLE_S": "600"}  # nothing settles in the first run
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    messages, traces = _traces(3)
    run(produce_raw(kafka_bootstrap, [(prefix + t, v) for t, v in messages]))
    first = Worker(env, "chains-1", command=("chains",))
    deadline = time.monotonic() + 40
    while "chains: 9 traced events" not in first.log_path.read_text():  # reported every 10 s
        assert time.monotonic() < deadline, first.log_tail()
        time.sleep(0.5)
    first.stop(signal.SIGKILL)
    second = Worker({**env, "HUB_CHAIN_SETTLE_S": "2"}, "chains-2", command=("chains",))
    try:
        correlations = run(collect(kafka_bootstrap, prefix + "hub.event-correlations",
                                   lambda r: len(r) >= len(traces), timeout=60))  # fmt: skip
    finally:
        second.stop(signal.SIGTERM)
    got = {orjson.loads(r.value)["correlation_id"]: r for r in correlations}
    assert set(got) == set(traces), second.log_tail()
    for cid, record in got.items():
        assert len(orjson.loads(record.value)["events"]) == len(traces[cid])
