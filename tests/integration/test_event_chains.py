"""`hub chains` on the real broker: traced events in, one correlation and graph per trace."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from pipeline.models.correlation import EventCorrelation, EventGraph
from pipeline.sim.simulate import EventSimulator
from tests.integration.harness import (
    Worker,
    collect,
    delete_topics_with_prefix,
    hub,
    isolated_env,
    produce_raw,
    run,
)


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


def _snapshot_past_start(records: list) -> bool:
    return any(r.key == b"manifest" and orjson.loads(r.value)["applied"] > 0 for r in records)


def test_an_open_chain_is_completed_by_a_process_on_an_empty_disk(
    hub_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A chain still open when the process dies (SIGKILL) is completed by the next one,
    started on an empty data directory: its state comes back from the broker."""
    env = {**hub_env, "HUB_CHAIN_SETTLE_S": "600", "HUB_SNAPSHOT_EVERY_S": "1"}
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    messages, traces = _traces(3)
    run(produce_raw(kafka_bootstrap, [(prefix + t, v) for t, v in messages]))
    first = Worker(env, "chains-1", command=("chains",))
    try:
        saved = run(collect(kafka_bootstrap, f"{env['HUB_APP_ID']}-chains-state",
                            _snapshot_past_start, 40))  # fmt: skip
        assert _snapshot_past_start(saved), first.log_tail()
    finally:
        first.stop(signal.SIGKILL)
    empty = {**env, "HUB_CHAIN_SETTLE_S": "2", "HUB_DATA_DIR": str(tmp_path / "empty")}
    second = Worker(empty, "chains-2", command=("chains",))
    try:
        correlations = run(collect(kafka_bootstrap, prefix + "hub.event-correlations",
                                   lambda r: len(r) >= len(traces), timeout=60))  # fmt: skip
    finally:
        second.stop(signal.SIGTERM)
    got = {orjson.loads(r.value)["correlation_id"]: r for r in correlations}
    assert set(got) == set(traces), second.log_tail()
    for cid, record in got.items():
        assert len(orjson.loads(record.value)["events"]) == len(traces[cid])


def _chains_of(env: dict[str, str], bootstrap: str, messages: list, expected: int,
               processes: int) -> set[bytes]:  # fmt: skip
    prefix = env["HUB_TOPIC_PREFIX"]
    hub(env, "topics", "apply")
    run(produce_raw(bootstrap, [(prefix + t, v) for t, v in messages]))
    workers = [Worker(env, f"chains-{processes}p-{i}", command=("chains",))
               for i in range(processes)]  # fmt: skip
    try:
        topic = prefix + "hub.event-correlations"
        records = run(
            collect(bootstrap, topic, lambda r: len({x.value for x in r}) >= expected, 90)
        )
        time.sleep(3)  # a chain published twice (by two processes) would show now
        records = run(collect(bootstrap, topic, lambda r: False, 3))
    finally:
        for worker in workers:
            worker.stop(signal.SIGTERM)
    return {r.value for r in records}


def test_two_chain_processes_give_the_same_chains_as_one(
    hub_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Each chain's events are re-keyed to one partition, so two processes (each reading
    half of the inputs and half of the chain partitions) publish exactly one's chains."""
    messages, traces = _traces(24)
    one = _chains_of({**hub_env, "HUB_CHAIN_SETTLE_S": "2"}, kafka_bootstrap, messages,
                     len(traces), processes=1)  # fmt: skip
    two_env = isolated_env(tmp_path / "two", HUB_CHAIN_SETTLE_S="2")
    try:
        two = _chains_of(two_env, kafka_bootstrap, messages, len(traces), processes=2)
    finally:
        run(delete_topics_with_prefix(kafka_bootstrap, two_env["HUB_TOPIC_PREFIX"],
                                      two_env["HUB_APP_ID"]))  # fmt: skip
    assert len(one) == len(traces)
    assert two == one
