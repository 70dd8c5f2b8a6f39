"""`hub bench` on realistic mixed traffic: every payload type, an hour of event time.

The latency runs of :mod:`agents.bench.hub_bench` measure one payload type and few
series. Users send every payload type of every module, with tags and models that
make thousands of series, a little out of order. This run produces such a backlog
(the simulator's traffic mix, :meth:`pipeline.sim.simulate.EventSimulator.random_event`)
to every module's topic, starts one worker with the default windows, detection and
correlation, and times three things from its first input record:

* **ingest**: until the ingest group has committed every input offset (each poll is
  committed only once its points are on the broker);
* **windows**: until the last 1-minute result of the backlog is published, and the
  rate at which window results of every size were published meanwhile;
* **end to end**: until correlation published the composite of the backlog's last
  minute, which it does only after detection scored that minute.

It also counts the worker's warnings that tell a backlog is held too long (a full
producer buffer, overlapping commits, uncommitted partitions).
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from agents.bench.hub_bench import (
    ARTIFACTS,
    REPO,
    _first_input_time,
    _isolated_run,
    _peak_rss_mb,
    _process_tree,
    _stop,
    _wait_ready,
    delete_prefixed,
)
from pipeline.sim.simulate import EventSimulator

SPAN_S = 3600.0
"""Event time the backlog covers: one hour, ending a quarter of an hour ago."""
LATE_FRACTION = 0.01
"""Events sent after later ones, by up to ``MAX_DISORDER_S`` of event time."""
MAX_DISORDER_S = 1.5
"""Within the default allowed lateness (2 s): late, but every one counted."""
WARNINGS = {
    "producer buffer full": "producer buffer full",
    "timer commit overlapping": "Timer commit is overlapping",
    "partition not committed": "Has not committed",
}
INPUT_MODULES = (
    "llm-observatory",
    "llm-sentinel",
    "llm-cost-ops",
    "llm-governance-dashboard",
    "llm-registry",
    "llm-policy-engine",
)


@dataclass
class MixedTraffic:
    """The backlog in production order: each event's module, bytes, time and variant."""

    modules: list[str]
    values: list[bytes]
    times: np.ndarray
    variants: list[str]
    latencies: np.ndarray
    """Latency events' ``total_latency_ms`` (NaN for other events): a sum to check."""

    @property
    def last_minute(self) -> int:
        return int(self.times.max() // 60 * 60)


def make_mixed(n: int, seed: int, only: str | None = None) -> MixedTraffic:
    """``n`` events of the simulator's traffic mix over ``SPAN_S`` seconds of event time;
    ``only``: events of that one payload variant instead (the same models, tags and
    timing), the comparison the mixed figures are divided by."""
    sim = EventSimulator(seed=seed)
    rng = np.random.default_rng(seed)
    start = math.floor((time.time() - SPAN_S - 900) / 60) * 60
    times = np.sort(rng.uniform(start, start + SPAN_S, n))
    late = rng.random(n) < LATE_FRACTION  # they arrive up to 1.5 s after their time
    arrival = times + np.where(late, rng.uniform(0, MAX_DISORDER_S, n), 0.0)
    sent = np.argsort(arrival, kind="stable")
    modules, values, variants = [], [], []
    latencies = np.full(n, math.nan)
    for i, moment in enumerate(times[sent].tolist()):
        when = datetime.fromtimestamp(moment, UTC)
        event = sim.random_event(when) if only is None else sim.make(only, when)
        modules.append(event.source_module.value)
        values.append(event.to_wire_bytes())
        variants.append(event.payload_variant)
        if event.payload_variant == "telemetry.latency":
            latencies[i] = event.payload.data.total_latency_ms  # type: ignore[union-attr]
    return MixedTraffic(modules, values, times[sent], variants, latencies)


async def produce_mixed(bootstrap: str, prefix: str, traffic: MixedTraffic, batch: int) -> int:
    """Each event to its module's topic, one per message or JSON arrays of ``batch``."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20,
        max_request_size=4 << 20, acks=1,
    )  # fmt: skip
    await producer.start()
    sent = 0
    pending: dict[str, list[bytes]] = {}
    try:
        for module, value in zip(traffic.modules, traffic.values, strict=True):
            topic = f"{prefix}{module}.events"
            if batch == 1:
                await producer.send(topic, value=value)
                sent += 1
                continue
            chunk = pending.setdefault(topic, [])
            chunk.append(value)
            if len(chunk) == batch:
                await producer.send(topic, value=b"[" + b",".join(chunk) + b"]")
                sent += 1
                chunk.clear()
        for topic, chunk in pending.items():
            if chunk:
                await producer.send(topic, value=b"[" + b",".join(chunk) + b"]")
                sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


@dataclass
class MixedRun:
    mode: str
    events: int
    messages: int
    ingest_s: float
    windows_s: float
    end_to_end_s: float
    results: int
    results_per_s: float
    counts_exact: bool
    sums_exact: bool
    peak_rss_mb: float
    warnings: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def rate(self, seconds: float) -> float:
        return self.events / seconds if seconds > 0 and math.isfinite(seconds) else math.nan


@dataclass
class _Seen:
    counts: Counter[int] = field(default_factory=Counter)
    latency_sum: dict[int, float] = field(default_factory=dict)
    results: int = 0
    first_result: float = math.nan
    last_result: float = math.nan
    last_count: float = math.nan
    composite_at: float = math.nan
    ingest_done: float = math.nan


async def _ingest_done(bootstrap: str, group: str, ends: dict[TopicPartition, int]) -> float:
    """Wall time at which ``group`` had committed every input partition to its end."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        while True:
            committed = await admin.list_consumer_group_offsets(group)
            if all(
                (meta := committed.get(tp)) is not None and meta.offset >= end
                for tp, end in ends.items()
                if end > 0  # a partition nothing was sent to has nothing to commit
            ):
                return time.time()
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def _observe(
    bootstrap: str, prefix: str, group: str, traffic: MixedTraffic, timeout: float
) -> _Seen:
    """Read every metrics topic until the backlog's counts and last composite are out."""
    seen = _Seen()
    topics = [f"{prefix}hub.metrics.{w}" for w in ("1m", "5m", "15m", "1h", "6h", "1d")]
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, max_partition_fetch_bytes=8 << 20,
    )  # fmt: skip
    await consumer.start()
    ends = await consumer.end_offsets(
        [TopicPartition(f"{prefix}{m}.events", p) for m in INPUT_MODULES for p in range(4)]
    )
    ingest = asyncio.create_task(_ingest_done(bootstrap, group, ends))
    deadline = time.monotonic() + timeout
    quiet_since = math.inf
    total = len(traffic.values)
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            if (
                not batch
                and sum(seen.counts.values()) >= total
                and not math.isnan(seen.composite_at)
            ):
                quiet_since = min(quiet_since, time.monotonic())
                if time.monotonic() - quiet_since > 3.0:
                    break  # everything counted, the last composite out, nothing new for 3 s
                continue
            quiet_since = math.inf
            for records in batch.values():
                for record in records:
                    _note(seen, json.loads(record.value), record.timestamp / 1000.0, traffic)
    finally:
        await consumer.stop()
        if ingest.done():
            seen.ingest_done = ingest.result()
        else:
            ingest.cancel()
    return seen


def _note(seen: _Seen, doc: dict[str, Any], published: float, traffic: MixedTraffic) -> None:
    name = doc["name"]
    seen.results += 1
    seen.first_result = published if math.isnan(seen.first_result) else seen.first_result
    seen.last_result = _later(seen.last_result, published)
    if doc["window"] != "one_minute":
        return
    start = int(datetime.fromisoformat(doc["window_start"].replace("Z", "+00:00")).timestamp())
    if name == "hub_events.count":
        seen.counts[start] += int(doc["values"]["value"])
        seen.last_count = _later(seen.last_count, published)
    elif name == "llm_latency.total_latency_ms":
        seen.latency_sum[start] = seen.latency_sum.get(start, 0.0) + doc["values"]["sum"]
    elif name.startswith("hub_composite.") and start == traffic.last_minute:
        seen.composite_at = min(seen.composite_at, published, key=_known_first)


def _known_first(moment: float) -> float:
    return math.inf if math.isnan(moment) else moment


def _later(known: float, moment: float) -> float:
    return moment if math.isnan(known) else max(known, moment)


def _exact(seen: _Seen, traffic: MixedTraffic) -> tuple[bool, bool]:
    """Every minute's event count, and its latency sum, against numpy."""
    minutes = (traffic.times // 60 * 60).astype(np.int64)
    starts, counts = np.unique(minutes, return_counts=True)
    truth = dict(zip(starts.tolist(), counts.tolist(), strict=True))
    counts_exact = dict(seen.counts) == truth
    given = ~np.isnan(traffic.latencies)
    sums_exact = bool(given.any())
    for start in np.unique(minutes[given]).tolist():
        want = math.fsum(traffic.latencies[given & (minutes == start)].tolist())
        got = seen.latency_sum.get(start, math.nan)
        sums_exact &= abs(got - want) <= 1e-9 * max(abs(want), 1e-12)
    return counts_exact, sums_exact


def run_mixed_worker(
    bootstrap: str,
    traffic: MixedTraffic,
    batch: int,
    label: str = "mixed traffic",
    timeout: float = 900.0,
) -> MixedRun:
    """Produce the backlog, then time one `hub worker` (every stage) through it."""
    run_id, prefix, app_id, env = _isolated_run(bootstrap, HUB_WINDOWS="1m,5m,15m,1h,6h,1d")
    messages = asyncio.run(produce_mixed(bootstrap, prefix, traffic, batch))
    log_path = ARTIFACTS / f"bench-mixed-{run_id}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agents.cli.main", "worker", "--loglevel", "info"],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_ready(log_path, proc, 120)
            seen = asyncio.run(_observe(bootstrap, prefix, f"{app_id}-ingest", traffic, timeout))
            rss = sum(_peak_rss_mb(pid) for pid in _process_tree(proc.pid))
        finally:
            _stop(proc)
    asyncio.run(delete_prefixed(bootstrap, prefix, app_id))
    first = _first_input_time(log_path)
    text = log_path.read_text(errors="replace")
    counts_exact, sums_exact = _exact(seen, traffic)
    span = seen.last_result - seen.first_result
    return MixedRun(
        mode=f"{label}, {'1 event' if batch == 1 else f'{batch} events'} per message",
        events=len(traffic.values),
        messages=messages,
        ingest_s=seen.ingest_done - first,
        windows_s=seen.last_count - first,
        end_to_end_s=seen.composite_at - first,
        results=seen.results,
        results_per_s=seen.results / span if span > 0 else math.nan,
        counts_exact=counts_exact,
        sums_exact=sums_exact,
        peak_rss_mb=rss,
        warnings={label: text.count(marker) for label, marker in WARNINGS.items()},
        extra={"worker_log": str(log_path), "variants": dict(Counter(traffic.variants))},
    )


def run_mixed_suite(bootstrap: str, events: int, batch: int, seed: int) -> dict[str, Any]:
    """The mixed backlog and the same backlog of latency events only, each one event per
    message and ``batch`` per message: four workers, one after another, in one run."""
    print(f"bench: generating {events} mixed events over an hour (every payload type)", flush=True)
    mixed = make_mixed(events, seed)
    latency = make_mixed(events, seed, only="telemetry.latency")
    runs: dict[str, Any] = {}
    for shape in (1, batch):
        for label, traffic in (("mixed traffic", mixed), ("latency only", latency)):
            per = "1 event" if shape == 1 else f"{shape} events"
            print(f"bench: hub worker, {label}, {per} per message ...", flush=True)
            run = run_mixed_worker(bootstrap, traffic, shape, label=label)
            print(
                f"bench: ingest {run.rate(run.ingest_s):.0f} events/s, windows "
                f"{run.rate(run.windows_s):.0f} events/s, end to end "
                f"{run.rate(run.end_to_end_s):.0f} events/s, {run.results_per_s:.0f} results/s",
                flush=True,
            )
            runs[f"{'mixed' if traffic is mixed else 'latency'}_{shape}"] = run
    from agents.bench.stages import variant_costs

    print("bench: decode cost of each payload type (no Kafka) ...", flush=True)
    return {"events": events, "batch": batch, "runs": runs, "variants": variant_costs(seed=seed)}


def format_mixed(suite: dict[str, Any]) -> str:
    """The mixed-traffic table: each run's rates, and mixed ÷ latency per message shape."""
    runs: dict[str, MixedRun] = suite["runs"]
    lines = [
        "",
        f"mixed traffic: {suite['events']} events over one hour of event time, every payload "
        "type; latency only: the same models, tags and times",
        f"{'run':46} {'ingest ev/s':>12} {'windows ev/s':>13} {'end-to-end ev/s':>16} "
        f"{'results':>8} {'results/s':>10} {'exact':>6}",
    ]
    for run in runs.values():
        lines.append(
            f"{run.mode:46} {run.rate(run.ingest_s):>12.0f} {run.rate(run.windows_s):>13.0f} "
            f"{run.rate(run.end_to_end_s):>16.0f} {run.results:>8} {run.results_per_s:>10.0f} "
            f"{'yes' if run.counts_exact and run.sums_exact else 'NO':>6}"
        )
    for shape in (1, suite["batch"]):
        mixed, latency = runs[f"mixed_{shape}"], runs[f"latency_{shape}"]
        ratio = mixed.rate(mixed.ingest_s) / latency.rate(latency.ingest_s)
        lines.append(f"ingest, mixed ÷ latency only, {shape} per message: {ratio:.2f}")
    for run in runs.values():
        warned = ", ".join(f"{k} {v}" for k, v in run.warnings.items() if v) or "none"
        lines.append(
            f"{run.mode}: {run.results / run.events:.2f} window results an event; warnings: "
            f"{warned}; peak RSS {run.peak_rss_mb:.0f} MB"
        )
    variants = suite.get("variants")
    if variants:
        lines.append(
            "decode + validate + normalise, one event per message, µs an event "
            "(a poll of 3,000 of one payload type / the pydantic models):"
        )
        lines += [
            f"  {name:32} {cost['poll_us']:6.1f} / {cost['models_us']:5.1f}"
            f"  ({cost['models_us'] / cost['poll_us']:.1f}x)"
            for name, cost in variants.items()
        ]
    return "\n".join(lines)
