"""Reference points for `hub bench`: a raw read ceiling, a plain Faust agent, Quix Streams.

Each peer reads the topic the hub just read and reports events/s from its first record
to its last, so consumer start-up (group join, topic metadata) is excluded; wall time
including start-up is kept in ``extra``. Absolute figures on a shared 2-core machine are
noisy, so only ratios to the raw ceiling measured in the same run mean much.

    python -m agents.bench.peers --n 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPO = Path(__file__).resolve().parents[2]
WINDOW_MS = 60_000
QUIX_GRACE_MS = 300_000
"""Quix closes a window once its key's newest event is past end + grace. Re-keying an
unkeyed backlog interleaves the input partitions a fetch (~1 MB, ~1,600 events) at a
time, so an event can trail its model's newest by many seconds of event time, and by
minutes on a small backlog; grace past the data's span makes drops impossible (they
are counted), costs nothing per event, and the closing markers close every window."""
FAUST_TAKE = 1000

PeerJob = Callable[[str, str, int, float], Awaitable["PeerResult"]]


@dataclass(slots=True)
class PeerResult:
    """One peer's run: ``events`` counted in ``seconds`` from first record to last."""

    name: str
    events: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else math.nan


def _events_in(doc: Any) -> int:
    """A message value is one event (a JSON object) or a batch of them (a JSON array)."""
    return len(doc) if type(doc) is list else 1


def _run_id() -> str:
    return uuid.uuid4().hex[:10]


# ------------------------------------------------------------------ topics and input


async def create_topic(bootstrap: str, topic: str, partitions: int = 4) -> None:
    """Create a fresh topic; an existing one is an error, since old data would skew counts."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic in await admin.list_topics():
            raise RuntimeError(f"topic {topic!r} already exists; peers need a fresh one")
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: list[str], containing: str = "") -> list[str]:
    """Delete ``names`` plus every topic whose name contains ``containing`` (if given)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = {n for n in names if n in existing}
        if containing:
            doomed |= {n for n in existing if containing in n}
        if doomed:
            await admin.delete_topics(sorted(doomed))
        return sorted(doomed)
    finally:
        await admin.close()


async def produce_latency_events(
    bootstrap: str, topic: str, n: int, batch: int = 1, partitions: int = 4, seed: int = 0
) -> None:
    """Create ``topic`` and fill it with ``n`` realistic ~650-byte latency events.

    Event times are sorted and cover the 4 whole minutes that ended 10 minutes ago, so
    every 1-minute window is historical and is closed by the data, not by the clock.
    Models and latencies follow the simulator's profiles (traffic share, lognormal).
    With ``batch > 1`` each message is a JSON array of ``batch`` events.
    """
    from pipeline.sim.simulate import MODELS, EventSimulator

    await create_topic(bootstrap, topic, partitions)
    sim = EventSimulator(seed)
    rng = np.random.default_rng(seed)
    start = (int(time.time()) // 60 - 14) * 60
    stamps = np.sort(rng.uniform(start, start + 240, n)).tolist()
    shares = np.array([m.traffic_share for m in MODELS])
    picks = rng.choice(len(MODELS), size=n, p=shares / shares.sum())
    medians = np.array([m.median_latency_ms for m in MODELS])[picks]
    sigmas = np.array([m.latency_sigma for m in MODELS])[picks]
    latencies = np.round(rng.lognormal(np.log(medians), sigmas), 2).tolist()
    names = [MODELS[i].model_id for i in picks.tolist()]

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=8 << 20,
        acks=1,
    )
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        for i in range(0, n, batch):
            chunk = [
                sim.latency_event(
                    datetime.fromtimestamp(stamps[j], UTC), names[j], latencies[j]
                ).to_wire_bytes()
                for j in range(i, min(i + batch, n))
            ]
            value = chunk[0] if batch == 1 else b"[" + b",".join(chunk) + b"]"
            pending.append(await producer.send(topic, value=value))
        await producer.flush()
        await asyncio.gather(*pending)  # surfaces any delivery error
    finally:
        await producer.stop()


# ------------------------------------------------------------------ raw ceiling


async def raw_ceiling(bootstrap: str, topic: str, expected: int, timeout_s: float) -> PeerResult:
    """aiokafka plus orjson and nothing else: the least any Python consumer pays per event."""
    wall0 = time.perf_counter()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{_run_id()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=16 << 20,
    )
    await consumer.start()
    loads = orjson.loads
    events = messages = 0
    first = last = cpu0 = cpu1 = math.nan
    deadline = wall0 + timeout_s
    try:
        while events < expected and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            if not batches:
                continue
            if math.isnan(first):
                first, cpu0 = time.perf_counter(), time.process_time()
            for records in batches.values():
                messages += len(records)
                for record in records:
                    doc = loads(record.value)
                    events += len(doc) if type(doc) is list else 1
            last, cpu1 = time.perf_counter(), time.process_time()
    finally:
        await consumer.stop()
    if events < expected:
        raise TimeoutError(f"raw ceiling saw {events}/{expected} events in {timeout_s:.0f} s")
    return PeerResult(
        "raw aiokafka + orjson (ceiling)",
        events,
        last - first,
        {
            "messages": messages,
            "wall_s": last - wall0,
            "cpu_s": cpu1 - cpu0,
            "max_partition_fetch_bytes": 4 << 20,
        },
    )


# ------------------------------------------------------------------ faust-streaming


class _Tally:
    """Counts seen by an agent, and the clocks at its first and last record."""

    def __init__(self) -> None:
        self.events = self.messages = 0
        self.first = self.last = self.cpu_s = math.nan
        self._cpu0 = math.nan
        self.done = asyncio.Event()

    def begin(self) -> None:
        self.first, self._cpu0 = time.perf_counter(), time.process_time()

    def end(self) -> None:
        if self.done.is_set():  # a topic holding more than ``expected`` keeps flowing
            return
        self.last, self.cpu_s = time.perf_counter(), time.process_time() - self._cpu0
        self.done.set()


async def _faust_pass(
    bootstrap: str, topic: str, expected: int, timeout_s: float, take: int
) -> PeerResult:
    """One in-process Faust app whose only agent decodes and counts (``take``: batch size)."""
    import faust

    run_id = _run_id()
    loads = orjson.loads
    tally = _Tally()

    async def per_event(stream: Any) -> None:
        async for value in stream:
            if tally.events == 0:
                tally.begin()
            tally.events += _events_in(loads(value))
            tally.messages += 1
            if tally.events >= expected:
                tally.end()

    async def batched(stream: Any) -> None:
        async for values in stream.take(take, within=0.2):
            if tally.events == 0:
                tally.begin()
            for value in values:
                tally.events += _events_in(loads(value))
            tally.messages += len(values)
            if tally.events >= expected:
                tally.end()

    with tempfile.TemporaryDirectory(prefix="faust-bench-") as datadir:
        app = faust.App(
            f"bench-faust-{run_id}",
            broker=f"kafka://{bootstrap}",
            store="memory://",
            datadir=datadir,
            web_enabled=False,
            autodiscover=False,
            consumer_auto_offset_reset="earliest",
            topic_allow_declare=False,
            topic_disable_leader=True,
        )
        source = app.topic(topic, key_type=bytes, value_type=bytes, value_serializer="raw")
        app.agent(source, name=f"decode-{run_id}")(batched if take else per_event)
        wall0 = time.perf_counter()
        await app.start()
        try:
            await asyncio.wait_for(tally.done.wait(), timeout_s)
        except TimeoutError:
            raise TimeoutError(
                f"faust saw {tally.events}/{expected} events in {timeout_s:.0f} s"
            ) from None
        finally:
            await app.stop()
    name = f"faust agent, stream.take({take})" if take else "faust agent, per event"
    return PeerResult(
        name,
        tally.events,
        tally.last - tally.first,
        {"messages": tally.messages, "wall_s": tally.last - wall0, "cpu_s": tally.cpu_s},
    )


async def faust_decode_only(
    bootstrap: str, topic: str, expected: int, timeout_s: float
) -> PeerResult:
    """Plain faust-streaming: one Faust event per message, decoded with orjson, counted.

    The headline is per-event iteration (what a Faust agent normally does); a second
    app reading with ``stream.take(FAUST_TAKE)`` is reported in ``extra["take"]``.
    """
    result = await _faust_pass(bootstrap, topic, expected, timeout_s, take=0)
    try:
        batched = await _faust_pass(bootstrap, topic, expected, timeout_s, take=FAUST_TAKE)
        result.extra["take"] = {
            "batch": FAUST_TAKE,
            "events_per_s": batched.events_per_s,
            "seconds": batched.seconds,
            "wall_s": batched.extra["wall_s"],
            "cpu_s": batched.extra["cpu_s"],
        }
    except Exception as exc:  # the variant is a bonus; the headline figure stands alone
        result.extra["take"] = {"error": repr(exc)}
    return result


# ------------------------------------------------------------------ Quix Streams


def _quix_child(
    bootstrap: str,
    topic: str,
    expected: int,
    timeout_s: float,
    state_dir: str,
    group: str,
    grace_ms: int,
) -> dict[str, Any]:
    """The Quix job as a Quix user would write it; runs in its own process (run() blocks).

    Pipeline: JSON topic with an event-time extractor -> project to {model_id, v} ->
    group_by(model_id) (re-keys through a repartition topic: the hub's input is not
    keyed by model) -> 1-minute tumbling window with Count/Sum/Min/Max and Collect of
    the values -> .final() -> numpy percentiles per closed window. Exact percentiles
    from Collect are what Quix's docs suggest for custom statistics; a digest kept in
    a custom aggregator would be re-serialized on every event.

    Closing the last minute needs a later event per model; a live stream has them, a
    backlog does not. So when the projection step has seen the ``expected``-th event it
    emits one marker per model, timed past the last window's end + grace, through the
    same producer (so behind every real event of that model); markers only open
    windows of their own, which never close. The job stops once the closed windows
    hold every expected event (or late drops account for the rest).
    """
    from quixstreams import Application
    from quixstreams.dataframe.windows import Collect, Count, Max, Min, Sum

    wall0 = time.perf_counter()
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )

    def event_time(value: Any, _headers: Any, _timestamp: int, _kind: Any) -> int:
        """RFC 3339 ``timestamp`` field -> epoch ms (Quix's extractor signature)."""
        return int(datetime.fromisoformat(value["timestamp"]).timestamp() * 1000)

    source = app.topic(topic, value_deserializer="json", timestamp_extractor=event_time)
    progress: dict[str, Any] = {
        "seen": 0,
        "max_ts": 0,
        "first": math.nan,
        "cpu0": math.nan,
        "input_done": math.nan,
    }
    models: set[str] = set()

    def project(event: dict[str, Any], _key: Any, ts: int, _headers: Any) -> list[dict[str, Any]]:
        data = event["payload"]["data"]
        model = data["model_id"]
        rows = [{"model_id": model, "v": data["total_latency_ms"]}]
        seen = progress["seen"] = progress["seen"] + 1
        if seen == 1:
            progress["first"], progress["cpu0"] = time.perf_counter(), time.process_time()
        if ts > progress["max_ts"]:
            progress["max_ts"] = ts
        models.add(model)
        if seen == expected:
            progress["input_done"] = time.perf_counter()
            flush_ts = (progress["max_ts"] // WINDOW_MS + 3) * WINDOW_MS + grace_ms
            rows += [{"model_id": m, "v": 0.0, "flush_ts": flush_ts} for m in sorted(models)]
        return rows

    late = {"events": 0}

    def on_late(*_args: Any) -> bool:
        late["events"] += 1
        return False  # counted here; do not log each one

    results: list[dict[str, Any]] = []
    closed = {"events": 0, "done": math.nan, "cpu": math.nan}

    def summarize(window: dict[str, Any]) -> dict[str, Any]:
        values = np.asarray(window.pop("values"), dtype=np.float64)
        p50, p95, p99 = np.percentile(values, [50, 95, 99]).tolist()
        return {**window, "p50": p50, "p95": p95, "p99": p99}

    def collect(window: dict[str, Any], key: Any, _ts: int, _headers: Any) -> None:
        results.append({"model_id": key, **window})
        closed["events"] += window["count"]
        if closed["events"] + late["events"] >= expected:
            closed["done"], closed["cpu"] = time.perf_counter(), time.process_time()
            app.stop()

    sdf = app.dataframe(source)
    sdf = sdf.apply(project, metadata=True, expand=True)
    sdf = sdf.set_timestamp(lambda value, _key, ts, _headers: value.get("flush_ts", ts))
    sdf = sdf.group_by("model_id")
    sdf = (
        sdf.tumbling_window(duration_ms=WINDOW_MS, grace_ms=grace_ms, on_late=on_late)
        .agg(count=Count(), sum=Sum("v"), min=Min("v"), max=Max("v"), values=Collect("v"))
        .final()
    )
    sdf = sdf.apply(summarize)
    sdf.update(collect, metadata=True)

    watchdog = threading.Timer(timeout_s, app.stop)
    watchdog.daemon = True
    watchdog.start()
    try:
        app.run()
    finally:
        watchdog.cancel()
    return {
        "events": closed["events"],
        "late": late["events"],
        "seen": progress["seen"],
        "seconds": closed["done"] - progress["first"],
        "input_seconds": progress["input_done"] - progress["first"],
        "wall_s": closed["done"] - wall0,
        "cpu_s": closed["cpu"] - progress["cpu0"],
        "windows": results,
    }


async def _window_truth(bootstrap: str, topic: str, expected: int) -> dict[tuple[str, int], Any]:
    """Exact per (model, window start) values, read back with aiokafka, to check Quix."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-truth-{_run_id()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    cells: dict[tuple[str, int], list[float]] = {}
    seen = 0
    deadline = time.monotonic() + 300
    try:
        while seen < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    doc = orjson.loads(record.value)
                    for event in doc if type(doc) is list else [doc]:
                        ms = int(datetime.fromisoformat(event["timestamp"]).timestamp() * 1000)
                        data = event["payload"]["data"]
                        key = (data["model_id"], ms // WINDOW_MS * WINDOW_MS)
                        cells.setdefault(key, []).append(data["total_latency_ms"])
                        seen += 1
    finally:
        await consumer.stop()
    return {key: np.asarray(values) for key, values in cells.items()}


def _compare_windows(windows: list[dict[str, Any]], truth: dict[tuple[str, int], Any]) -> dict:
    """Counts/min/max must match exactly, sums to 1e-9; percentiles as relative error."""
    worst = {"p50": 0.0, "p95": 0.0, "p99": 0.0, "sum": 0.0}
    exact = len(windows) == len(truth)
    for window in windows:
        values = truth.get((window["model_id"], window["start"]))
        if values is None or values.size != window["count"]:
            exact = False
            continue
        exact &= bool(window["min"] == values.min() and window["max"] == values.max())
        worst["sum"] = max(worst["sum"], float(abs(window["sum"] / values.sum() - 1)))
        for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
            want = float(np.percentile(values, q))
            worst[name] = max(worst[name], abs(window[name] - want) / want)
    return {"windows_match": bool(exact and worst["sum"] < 1e-9), "worst_rel_err": worst}


async def quix_window_job(
    bootstrap: str,
    topic: str,
    expected: int,
    timeout_s: float,
    grace_ms: int = QUIX_GRACE_MS,
    verify: bool = True,
) -> PeerResult:
    """Quix Streams doing the hub's job: 1-minute event-time windows per model, p50/p95/p99.

    Runs ``_quix_child`` in a subprocess (``Application.run()`` blocks and installs
    signal handlers), state under a temp dir; deletes the repartition and changelog
    topics it created. One event per Kafka message. With ``verify`` the window results
    are checked afterwards against an exact recomputation (outside the timing).
    """
    if importlib.util.find_spec("quixstreams") is None:
        raise RuntimeError("quixstreams is not installed (pip install -e '.[bench]')")
    group = f"bench-quix-{_run_id()}"
    with tempfile.TemporaryDirectory(prefix="quix-bench-") as tmp:
        out, log_path = Path(tmp) / "result.json", Path(tmp) / "quix.log"
        args = {
            "bootstrap": bootstrap,
            "topic": topic,
            "expected": expected,
            "timeout_s": timeout_s,
            "state_dir": str(Path(tmp) / "state"),
            "group": group,
            "grace_ms": grace_ms,
        }
        spawn0 = time.perf_counter()
        try:
            with open(log_path, "wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "agents.bench.peers",
                    "_quix-child",
                    json.dumps(args),
                    str(out),
                    cwd=REPO,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                )
                try:
                    code = await asyncio.wait_for(proc.wait(), timeout_s + 60)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
                    raise
            spawn_s = time.perf_counter() - spawn0
            if code != 0 or not out.exists():
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"quix job exited {code}:\n{tail}")
            child = json.loads(out.read_text())
        finally:
            await delete_topics(bootstrap, [], containing=group)
    windows: list[dict[str, Any]] = child["windows"]
    per_model: dict[str, int] = {}
    for window in windows:
        per_model[window["model_id"]] = per_model.get(window["model_id"], 0) + window["count"]
    extra: dict[str, Any] = {
        "wall_s": child["wall_s"],
        "cpu_s": child["cpu_s"],
        "process_s": spawn_s,
        "input_events_per_s": child["seen"] / child["input_seconds"],
        "late_dropped": child["late"],
        "windows": len(windows),
        "per_model": per_model,
        "counts_sum_to_expected": sum(per_model.values()) == expected,
        "grace_ms": grace_ms,
        "percentiles": "exact: Collect('v') + numpy.percentile per closed window",
    }
    if verify:
        extra.update(_compare_windows(windows, await _window_truth(bootstrap, topic, expected)))
    if child["events"] + child["late"] < expected:
        raise TimeoutError(f"quix closed windows hold {child['events']}/{expected} events")
    name = "Quix Streams 1m window p50/p95/p99"
    return PeerResult(name, child["events"], child["seconds"], extra)


# ------------------------------------------------------------------ script entry


def _quix_child_main(argv: list[str]) -> int:
    args, out = json.loads(argv[0]), Path(argv[1])
    out.write_text(json.dumps(_quix_child(**args)))
    return 0


def format_results(results: list[PeerResult]) -> str:
    """events/s and ratio to the raw ceiling of the same run, plus CPU µs per event.

    CPU per event is the steadier figure when other jobs share the machine: wall-clock
    rates fall with contention, process CPU time much less.
    """
    ceiling = next((r.events_per_s for r in results if "ceiling" in r.name), math.nan)
    lines = [
        f"{'peer':40} {'events':>9} {'seconds':>8} {'events/s':>10} {'÷ ceiling':>10}"
        f" {'CPU µs/ev':>10}"
    ]

    def line(name: str, events: int, seconds: float, cpu_s: float) -> str:
        rate = events / seconds if seconds > 0 else math.nan
        return (
            f"{name:40} {events:>9} {seconds:>8.2f} {rate:>10.0f} {rate / ceiling:>10.3f}"
            f" {cpu_s / events * 1e6:>10.1f}"
        )

    for r in results:
        lines.append(line(r.name, r.events, r.seconds, r.extra.get("cpu_s", math.nan)))
        take = r.extra.get("take", {})
        if "events_per_s" in take:
            name = f"  same, stream.take({take['batch']})"
            lines.append(line(name, r.events, take["seconds"], take.get("cpu_s", math.nan)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_quix-child"]:
        return _quix_child_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m agents.bench.peers", description=__doc__)
    parser.add_argument("--n", type=int, default=200_000, help="events to produce")
    parser.add_argument("--batch", type=int, default=1, help="events per message")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0, help="per peer, seconds")
    parser.add_argument(
        "--bootstrap", default=os.environ.get("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument(
        "--peers", default="raw,faust,quix", help="comma-separated subset of raw,faust,quix"
    )
    opts = parser.parse_args(argv)
    jobs: dict[str, PeerJob] = {
        "raw": raw_ceiling,
        "faust": faust_decode_only,
        "quix": quix_window_job,
    }
    chosen = [p.strip() for p in opts.peers.split(",") if p.strip()]
    if opts.batch > 1 and "quix" in chosen:
        print("peers: the Quix job reads one event per message; skipped with --batch > 1")
        chosen.remove("quix")
    topic = f"bench-peers-{_run_id()}"
    results: list[PeerResult] = []
    try:
        t0 = time.perf_counter()
        print(f"peers: producing {opts.n} events (batch {opts.batch}) to {topic} ...", flush=True)
        asyncio.run(
            produce_latency_events(opts.bootstrap, topic, opts.n, batch=opts.batch, seed=opts.seed)
        )
        print(f"peers: produced in {time.perf_counter() - t0:.1f} s", flush=True)
        for name in chosen:
            result = asyncio.run(jobs[name](opts.bootstrap, topic, opts.n, opts.timeout))
            results.append(result)
            extra = {k: v for k, v in result.extra.items() if k != "per_model"}
            print(f"peers: {result.name}: {result.events_per_s:.0f} events/s {extra}", flush=True)
    finally:
        deleted = asyncio.run(delete_topics(opts.bootstrap, [topic]))
        print(f"peers: deleted topics {deleted}", flush=True)
    print(format_results(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
