"""`hub bench`: the hub's own pipeline on the real broker, beside the peers, in one run.

Throughput is measured end to end through one worker process: from the moment the
worker reports ready to the moment the last 1-minute window holding the produced
events is published. The events are historical, so their windows close as soon
as ingest has read the backlog to its end (the next progress heartbeat, at most
``HUB_HEARTBEAT_INTERVAL_S`` later) and that wait is part of the figure. Every
figure is also printed as a ratio to the raw ceiling measured in the same run,
because absolute numbers on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from agents.runtime.log_markers import FIRST_INPUT_LOG
from pipeline.sim.simulate import EventSimulator

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
MODELS = ("gpt-4o", "claude-3-haiku", "llama-3-70b", "mistral-large")


@dataclass
class HubRun:
    mode: str
    events: int
    messages: int
    seconds: float
    events_per_s: float
    peak_rss_mb: float
    p50_err: float
    p95_err: float
    p99_err: float
    counts_exact: bool
    sums_exact: bool
    extra: dict[str, Any] = field(default_factory=dict)


def make_events(n: int, seed: int) -> tuple[list[bytes], np.ndarray, np.ndarray, list[str]]:
    """Realistic ~600-byte latency events over 4 closed minutes, in time order."""
    sim = EventSimulator(seed=seed)
    rng = np.random.default_rng(seed)
    start = math.floor((time.time() - 900) / 60) * 60
    ts = np.sort(rng.uniform(start, start + 240, n))
    values = rng.lognormal(6.5, 0.5, n)
    models = [MODELS[i] for i in rng.integers(0, len(MODELS), n).tolist()]
    raw = []
    for t, v, m in zip(ts.tolist(), values.tolist(), models, strict=True):
        event = sim.latency_event(datetime.fromtimestamp(t, UTC), m, v)
        raw.append(event.model_copy(update={"tags": {"region": "us-east-1"}}).to_wire_bytes())
    return raw, ts, values, models


async def produce(bootstrap: str, topic: str, events: list[bytes], batch: int) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=4 << 20,
        acks=1,
    )
    await producer.start()
    sent = 0
    try:
        for i in range(0, len(events), batch):
            chunk = events[i : i + batch]
            value = chunk[0] if batch == 1 else b"[" + b",".join(chunk) + b"]"
            await producer.send(topic, value=value)
            sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def create_topics(bootstrap: str, names: list[str], partitions: int = 4) -> None:
    from aiokafka.admin import NewTopic

    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        existing = set(await client.list_topics())
        new = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if new:
            await client.create_topics(new)
    finally:
        await client.close()


async def delete_prefixed(bootstrap: str, *prefixes: str) -> None:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        names = [t for t in await client.list_topics() if t.startswith(prefixes)]
        if names:
            await client.delete_topics(names)
    finally:
        await client.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _process_tree(pid: int) -> list[int]:
    """The process and its children (``hub worker --processes N`` forks N workers)."""
    pids = [pid]
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == pid:
                pids.append(int(status.parent.name))
    return pids


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def _await_metrics(
    bootstrap: str, topic: str, expected_events: int, timeout: float
) -> tuple[list[dict], float]:
    """Read 1-minute metrics until hub_events counts reach ``expected_events``; the end
    is when the hub published the last of them (its record's timestamp, set by the
    worker's producer), not when this reader happened to fetch it."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    docs: list[dict] = []
    counted = 0
    done_at = math.nan
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and counted < expected_events:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    doc = json.loads(record.value)
                    docs.append(doc)
                    if doc["name"] == "hub_events.count":
                        counted += int(doc["values"]["value"])  # a counter
                        published = record.timestamp / 1000.0
                        done_at = published if math.isnan(done_at) else max(done_at, published)
    finally:
        await consumer.stop()
    return docs, done_at


def _isolated_run(bootstrap: str, **overrides: str) -> tuple[str, str, str, dict[str, str]]:
    """A fresh topic prefix and app id with its topics applied: runs never see each other."""
    run_id = uuid.uuid4().hex[:8]
    prefix, app_id = f"bench-{run_id}-", f"hub-bench-{run_id}"
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": bootstrap,
        "HUB_TOPIC_PREFIX": prefix,
        "HUB_APP_ID": app_id,
        "HUB_DATA_DIR": str(ARTIFACTS / f"bench-{run_id}"),
        "HUB_WINDOWS": "1m",
        **overrides,
    }
    subprocess.run(
        [sys.executable, "-m", "agents.cli.main", "topics", "apply"],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    return run_id, prefix, app_id, env


def run_hub_worker(
    bootstrap: str,
    events: list[bytes],
    ts: np.ndarray,
    values: np.ndarray,
    models: list[str],
    batch: int,
    timeout: float = 600.0,
    keep: bool = False,
    processes: int = 1,
    compiled_scan: bool = True,
) -> tuple[HubRun, str]:
    """Produce, then time `hub worker` (``processes`` processes of one group) over the backlog.

    Returns the run and its input topic; with ``keep`` that topic stays for the peers.
    ``compiled_scan=False`` runs the worker with the compiled batch scanner off.
    """
    run_id, prefix, app_id, env = _isolated_run(
        bootstrap, HUB_ALLOWED_LATENESS_S="2", HUB_COMPILED_SCAN="1" if compiled_scan else "0"
    )
    messages = asyncio.run(produce(bootstrap, prefix + "llm-observatory.events", events, batch))
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"bench-worker-{run_id}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "agents.cli.main", "worker", "--loglevel", "info"),
                *("--processes", str(processes)),
            ],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            ready = _wait_ready(log_path, proc, 120, processes)
            docs, done_at = asyncio.run(
                _await_metrics(bootstrap, prefix + "hub.metrics.1m", len(events), timeout)
            )
            rss = sum(_peak_rss_mb(pid) for pid in _process_tree(proc.pid))
        finally:
            _stop(proc)
    if not keep:
        asyncio.run(delete_prefixed(bootstrap, prefix, app_id))
    else:
        asyncio.run(delete_prefixed(bootstrap, app_id))
    # From the first input record of any process, as the peers are timed; with several
    # processes this includes the rebalance when the later ones join the group.
    first_input = _first_input_time(log_path)
    seconds = max(done_at - first_input, 1e-9)
    errors, counts_exact, sums_exact = _accuracy(docs, ts, values, models)
    run = HubRun(
        mode=(
            f"hub worker, {'1 event' if batch == 1 else f'{batch} events'} per message"
            + (f", {processes} processes" if processes > 1 else "")
            + ("" if compiled_scan else ", compiled scanner off")
        ),
        events=len(events),
        messages=messages,
        seconds=seconds,
        events_per_s=len(events) / seconds,
        peak_rss_mb=rss,
        p50_err=errors[50],
        p95_err=errors[95],
        p99_err=errors[99],
        counts_exact=counts_exact,
        sums_exact=sums_exact,
        extra={"worker_log": str(log_path), "ready_to_first_input_s": first_input - ready},
    )
    return run, prefix + "llm-observatory.events"


def _first_input_time(log_path: Path) -> float:
    """When the worker's ingest got its first records (epoch seconds, from its log)."""
    prefix = FIRST_INPUT_LOG.split("%")[0]
    times = [
        float(line.split(prefix, 1)[1].split()[0])
        for line in log_path.read_text(errors="replace").splitlines()
        if prefix in line
    ]
    if not times:
        raise RuntimeError(f"no '{prefix}' line in {log_path}")
    return min(times)  # several processes: the first of them


def _wait_ready(
    log_path: Path, proc: subprocess.Popen[bytes], timeout: float, processes: int = 1
) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited; see {log_path}")
        if log_path.read_bytes().count(b"Worker]: Ready") >= processes:
            return time.time()
        time.sleep(0.05)
    raise TimeoutError(f"worker not ready after {timeout:.0f} s; see {log_path}")


def _accuracy(
    docs: list[dict], ts: np.ndarray, values: np.ndarray, models: list[str]
) -> tuple[dict[int, float], bool, bool]:
    """Worst relative percentile error vs numpy over the published latency windows."""
    model_arr = np.array(models)
    starts = (np.floor(ts / 60) * 60).astype(np.int64)
    worst = {50: 0.0, 95: 0.0, 99: 0.0}
    counts_exact = sums_exact = True
    seen = 0
    for doc in docs:
        if doc["name"] != "llm_latency.total_latency_ms":
            continue
        start = int(datetime.fromisoformat(doc["window_start"].replace("Z", "+00:00")).timestamp())
        mask = (starts == start) & (model_arr == doc["tags"]["model_id"])
        truth = values[mask]
        seen += 1
        got = doc["values"]
        counts_exact &= got["count"] == truth.size
        sums_exact &= abs(got["sum"] - math.fsum(truth.tolist())) <= 1e-9 * abs(got["sum"])
        for q in worst:
            exact = float(np.percentile(truth, q))
            worst[q] = max(worst[q], abs(got[f"p{q}"] - exact) / exact)
    if not seen:
        counts_exact = sums_exact = False
    return worst, counts_exact, sums_exact


def save(results: dict[str, Any], name: str = "bench.json") -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(json.dumps(results, indent=2, default=lambda o: asdict(o)))
    return path


async def _live_phase(
    bootstrap: str, prefix: str, seconds: float, rate: float, lateness_s: float, seed: int
) -> list[float]:
    """Produce events stamped 'now' into a running worker; return close delays in seconds.

    The delay of a 1-minute result is its arrival time minus (window end + allowed
    lateness): what the watermark rule itself requires, so the figure is the
    pipeline's own overhead on top of the configured lateness.
    """
    sim = EventSimulator(seed=seed)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    consumer = AIOKafkaConsumer(
        prefix + "hub.metrics.1m",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    delays: list[float] = []
    try:
        started = time.time()
        sent = 0
        while time.time() - started < seconds:
            target = int((time.time() - started) * rate)
            while sent < target:
                event = sim.latency_event(datetime.now(UTC), MODELS[sent % len(MODELS)], 500.0)
                await producer.send(prefix + "llm-observatory.events", event.to_wire_bytes())
                sent += 1
            batch = await consumer.getmany(timeout_ms=50)
            arrived = time.time()
            for records in batch.values():
                for record in records:
                    doc = json.loads(record.value)
                    end = datetime.fromisoformat(doc["window_end"].replace("Z", "+00:00"))
                    delays.append(arrived - end.timestamp() - lateness_s)
        await producer.flush()
        deadline = time.time() + 10
        while time.time() < deadline and not delays:
            batch = await consumer.getmany(timeout_ms=200)
            arrived = time.time()
            for records in batch.values():
                for record in records:
                    doc = json.loads(record.value)
                    end = datetime.fromisoformat(doc["window_end"].replace("Z", "+00:00"))
                    delays.append(arrived - end.timestamp() - lateness_s)
    finally:
        await producer.stop()
        await consumer.stop()
    return delays


def run_live_delay(bootstrap: str, seconds: float, rate: float, seed: int) -> dict[str, float]:
    """A worker on live traffic for ``seconds``: p50/p99 of window-close delays."""
    lateness = 2.0
    run_id, prefix, app_id, env = _isolated_run(bootstrap, HUB_ALLOWED_LATENESS_S=str(lateness))
    log_path = ARTIFACTS / f"bench-live-{run_id}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agents.cli.main", "worker", "--loglevel", "info"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(log_path, proc, 120)
            delays = asyncio.run(_live_phase(bootstrap, prefix, seconds, rate, lateness, seed))
        finally:
            _stop(proc)
    asyncio.run(delete_prefixed(bootstrap, prefix, app_id))
    if not delays:
        return {"windows": 0, "p50_s": math.nan, "p99_s": math.nan}
    return {
        "windows": len(delays),
        "p50_s": float(np.percentile(delays, 50)),
        "p99_s": float(np.percentile(delays, 99)),
    }
