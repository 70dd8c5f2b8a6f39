"""Orchestrates `hub bench`: the hub, the raw ceiling and the peers, one run, one table."""

from __future__ import annotations

import asyncio
import math
import platform
import time
from typing import Any

from agents.bench import hub_bench


def _ratio(value: float, ceiling: float) -> str:
    return f"{value / ceiling:.3f}" if ceiling and math.isfinite(value) else "-"


def _peer_rows(bootstrap: str, topic: str, expected: int) -> list[dict[str, Any]]:
    """Raw ceiling, plain Faust and Quix Streams over the very topic the hub just read."""
    rows: list[dict[str, Any]] = []
    try:
        from agents.bench import peers
    except ImportError as exc:
        print(f"bench: peers unavailable ({exc}); run with --no-peers", flush=True)
        return rows
    jobs = [
        ("raw aiokafka read + orjson decode (ceiling)", peers.raw_ceiling),
        ("faust-streaming agent, decode only", peers.faust_decode_only),
        ("Quix Streams, 1m event-time window p50/p95/p99", peers.quix_window_job),
    ]
    for label, job in jobs:
        try:
            result = asyncio.run(job(bootstrap, topic, expected, 600.0))
            rows.append(
                {
                    "name": label,
                    "events_per_s": result.events / result.seconds,
                    "extra": result.extra,
                }
            )
        except Exception as exc:  # a peer that cannot run is reported, not fatal
            rows.append({"name": label, "events_per_s": math.nan, "extra": {"error": repr(exc)}})
        print(f"bench: {rows[-1]['name']}: {rows[-1]['events_per_s']:.0f} events/s", flush=True)
    return rows


def run_bench(
    bootstrap: str,
    events: int,
    batch: int,
    live_seconds: float,
    peers: bool,
    seed: int,
    batched_events: int = 400_000,
    mixed_events: int = 0,
) -> dict[str, Any]:
    print(f"bench: generating {events} latency events (~600 bytes each)", flush=True)
    raw, ts, values, models = hub_bench.make_events(events, seed)
    results: dict[str, Any] = {
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "events": events,
        "batch": batch,
        "batched_events": batched_events,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print("bench: hub worker, one event per message ...", flush=True)
    single, topic = hub_bench.run_hub_worker(bootstrap, raw, ts, values, models, batch=1, keep=True)
    print(f"bench: {single.events_per_s:.0f} events/s", flush=True)
    results["hub_single"] = single
    results["peers"] = _peer_rows(bootstrap, topic, events) if peers else []
    asyncio.run(hub_bench.delete_prefixed(bootstrap, topic.rsplit("llm-", 1)[0]))
    print(f"bench: generating {batched_events} events for the batched runs", flush=True)
    raw, ts, values, models = hub_bench.make_events(batched_events, seed + 1)
    print(f"bench: hub worker, {batch} events per message ...", flush=True)
    batched, batched_topic = hub_bench.run_hub_worker(
        bootstrap, raw, ts, values, models, batch=batch, keep=True
    )
    print(f"bench: {batched.events_per_s:.0f} events/s", flush=True)
    results["hub_batched"] = batched
    if peers:
        results["batched_ceiling"] = _batched_ceiling(bootstrap, batched_topic, batched_events)
    asyncio.run(hub_bench.delete_prefixed(bootstrap, batched_topic.rsplit("llm-", 1)[0]))
    print("bench: the same, compiled scanner off (HUB_COMPILED_SCAN=0) ...", flush=True)
    msgspec_only, _ = hub_bench.run_hub_worker(
        bootstrap, raw, ts, values, models, batch=batch, compiled_scan=False
    )
    print(f"bench: {msgspec_only.events_per_s:.0f} events/s", flush=True)
    results["hub_batched_msgspec"] = msgspec_only
    cores = __import__("os").cpu_count() or 1
    if cores > 1:
        print(f"bench: hub worker, {batch} events per message, {cores} processes ...", flush=True)
        multi, _ = hub_bench.run_hub_worker(
            bootstrap, raw, ts, values, models, batch=batch, processes=cores
        )
        print(f"bench: {multi.events_per_s:.0f} events/s", flush=True)
        results["hub_batched_multi"] = multi
    if live_seconds > 0:
        print(
            f"bench: live traffic for {live_seconds:.0f} s to time window closing ...", flush=True
        )
        results["close_delay"] = hub_bench.run_live_delay(bootstrap, live_seconds, 300.0, seed)
    if mixed_events > 0:
        from agents.bench.mixed_bench import run_mixed_suite

        results["mixed"] = run_mixed_suite(bootstrap, mixed_events, batch, seed)
    results["sketches"] = _sketch_rows(seed)
    from agents.bench.stages import batched_stage_costs, stage_costs

    results["stages"] = stage_costs(raw[: min(len(raw), 20_000)])
    results["batched_stages"] = batched_stage_costs(raw[: min(len(raw), 50_000)], batch)
    print(format_report(results), flush=True)
    if "mixed" in results:
        from agents.bench.mixed_bench import format_mixed

        print(format_mixed(results["mixed"]), flush=True)
    print(f"bench: figures saved to {hub_bench.save(results)}", flush=True)
    return results


def _batched_ceiling(bootstrap: str, topic: str, expected: int) -> float:
    """The raw ceiling over the batched messages themselves: each message shape is
    compared with what a bare consumer gets out of that shape."""
    from agents.bench import peers

    try:
        result = asyncio.run(peers.raw_ceiling(bootstrap, topic, expected, 600.0))
    except Exception as exc:  # reported, not fatal
        print(f"bench: batched ceiling failed: {exc!r}", flush=True)
        return math.nan
    rate = result.events / result.seconds
    print(f"bench: raw read + orjson of the batched messages: {rate:.0f} events/s", flush=True)
    return rate


def _sketch_rows(seed: int) -> list[dict[str, Any]]:
    try:
        from pipeline.windows.sketch_bench import run_sketch_bench
    except ImportError as exc:
        return [{"error": repr(exc)}]
    return run_sketch_bench(n_values=100_000, seed=seed)


def format_report(results: dict[str, Any]) -> str:
    single, batched = results["hub_single"], results["hub_batched"]
    peers = results.get("peers", [])
    ceiling = next((p["events_per_s"] for p in peers if "ceiling" in p["name"]), math.nan)
    batched_ceiling = results.get("batched_ceiling", math.nan)
    lines = [
        "",
        f"{'pipeline':60} {'events/s':>10} {'÷ its ceiling':>14}",
    ]
    rows = [(p["name"], p["events_per_s"], ceiling) for p in peers]
    rows.append((single.mode, single.events_per_s, ceiling))
    if math.isfinite(batched_ceiling):
        shape = f"raw aiokafka read + orjson decode, {results['batch']} per message (ceiling)"
        rows.append((shape, batched_ceiling, batched_ceiling))
    rows.append((batched.mode, batched.events_per_s, batched_ceiling))
    msgspec_only = results.get("hub_batched_msgspec")
    multi = results.get("hub_batched_multi")
    for extra in (msgspec_only, multi):
        if extra is not None:
            rows.append((extra.mode, extra.events_per_s, batched_ceiling))
    for name, rate, its_ceiling in rows:
        lines.append(f"{name:60} {rate:>10.0f} {_ratio(rate, its_ceiling):>14}")
    if multi is not None:
        lines.append(
            f"{results['batch']} per message, {multi.mode.rsplit(', ', 1)[-1]} ÷ one process: "
            f"{multi.events_per_s / batched.events_per_s:.2f}"
        )
    quix = next((p["events_per_s"] for p in peers if "Quix" in p["name"]), math.nan)
    if math.isfinite(quix):
        lines.append(
            f"hub ÷ Quix Streams (one event per message): {single.events_per_s / quix:.2f}"
        )
    if msgspec_only is not None:
        lines.append(
            f"compiled scanner on ÷ off ({results['batch']} per message, one process): "
            f"{batched.events_per_s / msgspec_only.events_per_s:.2f}"
        )
    for run in (single, batched, *(r for r in (msgspec_only, multi) if r is not None)):
        lines.append(
            f"{run.mode}: p50/p95/p99 worst relative error vs numpy "
            f"{run.p50_err:.4%} / {run.p95_err:.4%} / {run.p99_err:.4%}; counts exact "
            f"{run.counts_exact}, sums exact {run.sums_exact}; peak RSS {run.peak_rss_mb:.0f} MB"
        )
    stages = results.get("stages")
    if stages:
        stages = dict(stages)
        pydantic = stages.pop("pydantic_path_us", None)
        alone = stages.pop("message_by_message_us", None)
        total = sum(stages.values())
        lines.append(
            "per-event cost by stage (µs): "
            + ", ".join(f"{k.removesuffix('_us')} {v:.1f}" for k, v in stages.items())
            + f"; total {total:.1f} µs = {1e6 / total:.0f} events/s on one core before Kafka"
        )
        if pydantic and alone:
            fast = stages["decode_validate_normalize_us"]
            lines.append(
                f"decode+validate+normalize, one event per message: a poll scanned as one "
                f"batch {fast:.1f} µs, message by message {alone:.1f} µs ({alone / fast:.1f}x), "
                f"pydantic path {pydantic:.1f} µs ({pydantic / fast:.1f}x)"
            )
    batched_stages = results.get("batched_stages")
    if batched_stages:
        batched_stages = dict(batched_stages)
        msgspec_decode = batched_stages.pop("msgspec_columnar_decode_validate_us", None)
        total = sum(batched_stages.values())
        lines.append(
            f"per-event cost by stage, {results['batch']} events per message (µs): "
            + ", ".join(f"{k.removesuffix('_us')} {v:.1f}" for k, v in batched_stages.items())
            + f"; total {total:.1f} µs = {1e6 / total:.0f} events/s on one core before Kafka"
        )
        if msgspec_decode:
            fast = batched_stages["columnar_decode_validate_us"]
            lines.append(
                f"batched decode+validate: compiled scanner {fast:.1f} µs, msgspec columns "
                f"{msgspec_decode:.1f} µs ({msgspec_decode / fast:.1f}x)"
            )
    delay = results.get("close_delay")
    if delay:
        lines.append(
            f"window close delay beyond end + lateness: p50 {delay['p50_s']:.2f} s, "
            f"p99 {delay['p99_s']:.2f} s over {delay['windows']} results"
        )
    return "\n".join(lines)
