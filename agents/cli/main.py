"""`hub`: the one command users run (infra, topics, worker, produce, tail, validate)."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from typing import Any


def _cmd_infra(args: argparse.Namespace) -> int:
    from agents.runtime.home import SCRIPTS_DIR, hub_home

    script = SCRIPTS_DIR / "infra.sh"
    if not script.exists():
        print(f"hub infra needs {script}, which this installation lacks; reinstall the package")
        return 2
    env = {**os.environ, "HUB_HOME": str(hub_home())}
    return subprocess.call(["bash", str(script), args.action, args.service], env=env)


def _cmd_topics(args: argparse.Namespace) -> int:
    from agents.runtime.admin import apply_topics, delete_topics, list_topics
    from agents.runtime.settings import load_settings
    from pipeline.wire.topics import load_catalogue

    settings = load_settings()
    catalogue = load_catalogue(prefix=settings.topic_prefix, app_id=settings.app_id)
    if args.action == "apply":
        asyncio.run(apply_topics(settings, catalogue))
        return 0
    if args.action == "delete":
        if not args.yes:
            print("hub topics delete: this deletes every hub topic and its data for "
                  f"prefix {settings.topic_prefix!r}, app {settings.app_id!r}; add --yes",
                  file=sys.stderr)  # fmt: skip
            return 2
        deleted = asyncio.run(delete_topics(settings, catalogue))
        print(f"hub topics delete: {len(deleted)} topics deleted")
        return 0
    rows = asyncio.run(list_topics(settings, catalogue))
    print(f"{'topic':40} {'role':13} {'parts':>5} {'retention':>10} {'cleanup':8} state")
    for row in rows:
        retention = f"{row['retention_days']:g}d" if row["retention_days"] else "-"
        state = "ok" if row["in_sync_with_yaml"] else ("missing" if not row["exists"] else "drift")
        print(
            f"{row['name']:40} {row['role']:13} {row['partitions'] or '-':>5} {retention:>10} "
            f"{row['cleanup_policy'] or '-':8} {state}"
        )
    return 0 if all(r["in_sync_with_yaml"] for r in rows) else 1


def _cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.ingest.validate_lines import validate_lines

    if args.file == "-":
        lines = sys.stdin.buffer
        return validate_lines(lines, sys.stdout)
    try:
        with open(args.file, "rb") as handle:
            return validate_lines(handle, sys.stdout)
    except FileNotFoundError:
        print(f"hub validate: no such file {args.file!r}", file=sys.stderr)
        return 2


def _cmd_produce(args: argparse.Namespace) -> int:
    from agents.cli.produce import produce

    if args.count is None and args.duration is None:
        args.duration = 10.0
    asyncio.run(
        produce(
            args.rate,
            args.duration,
            args.count,
            args.batch,
            args.seed,
            args.every_variant,
            args.incident_history,
        )
    )
    return 0


def _cmd_tail(args: argparse.Namespace) -> int:
    from agents.cli.tail import tail
    from agents.runtime.settings import load_settings

    settings = load_settings()
    topic = args.topic if args.raw_name else settings.topic_prefix + args.topic
    asyncio.run(
        tail(
            settings,
            topic,
            args.from_beginning,
            args.max,
            args.timeout,
            contains=args.contains,
            summary=args.summary,
        )
    )
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from pipeline.windows.aggregates import parse_windows
    from pipeline.windows.replay import replay, write_metrics, write_summary

    try:
        windows = parse_windows(args.windows)
    except ValueError as exc:
        print(f"hub replay: {exc}", file=sys.stderr)
        return 2
    try:
        if args.input == "-":
            report = replay(sys.stdin.buffer, windows)
        else:
            with open(args.input, "rb") as src:
                report = replay(src, windows)
    except FileNotFoundError:
        print(f"hub replay: no such file {args.input!r}", file=sys.stderr)
        return 2
    with open(args.output, "w", encoding="utf-8") as dst:
        write_metrics(report.metrics, dst)
    write_summary(report, sys.stderr)
    return 1 if report.invalid else 0


def _cmd_detect(args: argparse.Namespace) -> int:
    from pipeline.detection.offline import detect_csv
    from pipeline.models.events import SourceModule

    metric = args.metric or os.path.splitext(os.path.basename(args.input))[0] or "series"
    try:
        module = SourceModule(args.module)
    except ValueError:
        known = ", ".join(m.value for m in SourceModule)
        print(f"hub detect: unknown module {args.module!r}; one of {known}", file=sys.stderr)
        return 2
    try:
        with open(args.input, encoding="utf-8", newline="") as src:
            report = detect_csv(src, metric, module, scores=args.scores)
    except FileNotFoundError:
        print(f"hub detect: no such file {args.input!r}", file=sys.stderr)
        return 2
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"hub detect: {args.input}: {exc}", file=sys.stderr)
        return 1
    with open(args.output, "w", encoding="utf-8") as dst:
        for line in report.lines:
            dst.write(line + "\n")
    for problem in report.problems[:20]:
        print(f"hub detect: {args.input}: {problem}", file=sys.stderr)
    if len(report.problems) > 20:
        print(f"hub detect: ... and {len(report.problems) - 20} more bad rows", file=sys.stderr)
    kind = "score lines" if args.scores else "alerts"
    print(
        f"hub detect: {report.rows} rows: {report.scored} scored, {report.blank} blank values "
        f"skipped, {len(report.problems)} unreadable; {len(report.lines)} {kind} -> {args.output}",
        file=sys.stderr,
    )
    return 1 if args.strict and (report.problems or report.blank) else 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    """Labelled incident traffic: labels as JSON; metrics and/or events as JSON Lines."""
    import json
    import time

    from pipeline.sim.scenarios import INCIDENT_KINDS, Scenario

    kinds = tuple(k for k in args.incidents.split(",") if k) if args.incidents else ()
    unknown = sorted(set(kinds) - set(INCIDENT_KINDS))
    if unknown:
        print(f"hub simulate: unknown incidents {unknown}; known: {INCIDENT_KINDS}",
              file=sys.stderr)  # fmt: skip
        return 2
    if not (args.metrics or args.events or args.produce):
        print("hub simulate: say what to write: --metrics FILE, --events FILE and/or --produce",
              file=sys.stderr)  # fmt: skip
        return 2
    start = args.start
    if start is None and (args.events or args.produce):
        start = (time.time() - args.days * 86_400) // 60 * 60  # the scenario ends now
    scenario = Scenario(
        args.seed,
        days=args.days,
        incidents=kinds,
        quiet_days=args.quiet_days,
        **({} if start is None else {"start": float(start)}),
    )
    with open(args.labels, "w", encoding="utf-8") as dst:
        json.dump([label.to_json() for label in scenario.labels], dst, indent=2)
    if args.produce:
        from agents.cli.simulate_produce import produce_scenario

        counts = asyncio.run(produce_scenario(scenario, args.seed, args.metrics, args.events))
    else:
        from pipeline.sim.scenario_writer import write_scenario

        counts = write_scenario(scenario, args.seed, args.metrics, args.events)
    print(f"hub simulate: {len(scenario.labels)} incidents -> {args.labels}; "
          f"{counts.metrics} metrics, {counts.events} events", file=sys.stderr)  # fmt: skip
    return 0


def _compare(args: argparse.Namespace, seed: int, kinds: tuple[str, ...]) -> int:
    from agents.bench.compare_runs import compare

    modes = [m for m in args.compare.split(",") if m]
    days = 0.2 if args.days is None else args.days
    quiet = 0.12 if args.quiet_days is None else args.quiet_days
    print(f"hub evaluate --compare: seed {seed}, {days:g} days, runs {', '.join(modes)} ...",
          file=sys.stderr)  # fmt: skip
    try:
        result = compare(modes, seed, days, quiet, kinds)
    except (ValueError, TimeoutError) as exc:
        print(f"hub evaluate --compare: {exc}", file=sys.stderr)
        return 2
    print(result.table())
    score = result.score
    detected = sum(i.detected for i in score.incidents)
    roots = sum(i.root_correct for i in score.incidents if i.detected)
    print(f"\nrun 1 against the labels: {detected}/{len(score.incidents)} incidents detected, "
          f"{roots} with the labelled root cause; {score.alerts} alerts, "
          f"{score.false_alerts} false")  # fmt: skip
    if result.identical:
        print("identical: every run published the same anomalies and correlations")
        return 0
    print("DIFFERENT: the runs did not publish the same anomalies and correlations")
    return 1


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pipeline.sim.evaluation import evaluate, format_summary
    from pipeline.sim.scenarios import INCIDENT_KINDS

    seeds = [int(s) for s in args.seeds.split(",")]
    kinds = tuple(k for k in args.incidents.split(",") if k) or INCIDENT_KINDS
    unknown = sorted(set(kinds) - set(INCIDENT_KINDS))
    if unknown:
        print(f"hub evaluate: unknown incidents {unknown}; known: {INCIDENT_KINDS}",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.compare:
        return _compare(args, seeds[0], kinds)
    if args.live:
        from agents.bench.evaluate_live import evaluate_live

        days = 0.7 if args.days is None else args.days
        quiet = 0.15 if args.quiet_days is None else args.quiet_days
        print(f"hub evaluate --live: {len(seeds)} seeds x {days:g} days through Kafka and a "
              "worker ...", file=sys.stderr)  # fmt: skip
        try:
            summary = evaluate_live(seeds, days, quiet, kinds)
        except ValueError as exc:
            print(f"hub evaluate --live: {exc}", file=sys.stderr)
            return 2
        print(format_summary(summary))
        return 0
    days = 2.0 if args.days is None else args.days
    quiet = 1.0 if args.quiet_days is None else args.quiet_days
    print(f"hub evaluate: {len(seeds)} seeds x {days:g} days, plus as many "
          "incident-free runs ...", file=sys.stderr)  # fmt: skip
    print(format_summary(evaluate(seeds, days=days, quiet_days=quiet, kinds=kinds)))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.stages:
        from agents.bench.stage_bench import run_stage_bench

        print("hub bench --stages: building the scenario's window results ...", file=sys.stderr)
        r = run_stage_bench(seed=args.seed, days=args.stage_days)
        correlate = r["correlate_per_s"] / r["correlate_per_result"]  # in window results/s
        shares = " and ".join(str(n) for n in r["share_results"])
        print(
            "| stage | processes | window results/s | ratio |\n|---|---:|---:|---:|\n"
            f"| detection | 1 | {r['detect_1p_per_s']:.0f} | 1.00 |\n"
            f"| detection | 2 | {r['detect_2p_per_s']:.0f} | "
            f"{r['detect_2p_per_s'] / r['detect_1p_per_s']:.2f} |\n"
            f"| correlation (one partition) | 1 | {correlate:.0f} | "
            f"{correlate / r['detect_1p_per_s']:.2f} |\n\n"
            f"{r['results']:.0f} window results (the 2 processes' shares: {shares}); "
            f"detection forwarded {r['forwarded']:.0f} records ({r['correlate_per_result']:.3f} "
            f"a result: {r['alerts']:.0f} alerts), {r['correlations']:.0f} correlations"
        )
        return 0
    if args.detector:
        from agents.bench.detector_bench import run_detector_bench

        result = run_detector_bench(series=args.detector_series)
        print(
            f"| detector | points/s | µs a point |\n|---|---:|---:|\n"
            f"| one series | {result['one_series_points_per_s']:.0f} | "
            f"{1e6 / result['one_series_points_per_s']:.0f} |\n"
            f"| {result['many_series']} series, round-robin | "
            f"{result['many_series_points_per_s']:.0f} | "
            f"{1e6 / result['many_series_points_per_s']:.0f} |\n\n"
            f"ratio {result['ratio_many_to_one']:.2f}; "
            f"{result['bytes_per_series'] / 1024:.0f} KiB per series (tracemalloc)"
        )
        return 0
    from agents.bench.command import run_bench
    from agents.runtime.settings import load_settings

    if args.mixed_only:
        from agents.bench.hub_bench import save
        from agents.bench.mixed_bench import format_mixed, run_mixed_suite

        suite = run_mixed_suite(
            load_settings().kafka_bootstrap, args.mixed_events, args.batch, args.seed
        )
        print(format_mixed(suite), flush=True)
        print(f"bench: figures saved to {save({'mixed': suite}, 'bench-mixed.json')}")
        return 0
    run_bench(
        load_settings().kafka_bootstrap,
        events=args.events,
        batch=args.batch,
        batched_events=args.batched_events,
        live_seconds=args.live_seconds,
        peers=not args.no_peers,
        seed=args.seed,
        mixed_events=args.mixed_events,
    )
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    if args.processes > 1:
        from agents.runtime.processes import run_processes
        from agents.runtime.settings import load_settings

        return run_processes(args.processes, args.loglevel, load_settings().data_dir)
    from agents.runtime.processes import BARRIER_ENV, wait_for_peers
    from agents.streams.worker import app

    if os.environ.get(BARRIER_ENV) and not wait_for_peers(os.environ[BARRIER_ENV]):
        print("hub worker: sibling processes did not start within 60 s; starting anyway")
    level = {"warning": "warn", "critical": "crit"}.get(args.loglevel, args.loglevel)
    sys.argv = ["hub", "worker", "--loglevel", level, "--without-web"]
    app.main()
    return 0


def _run_until_signal(name: str, run: Any) -> int:
    """Runs a standalone consumer ``run(settings, catalogue, stop)`` until SIGINT/SIGTERM."""
    import logging
    import signal

    from agents.runtime.settings import load_settings
    from pipeline.wire.topics import load_catalogue

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    catalogue = load_catalogue(prefix=settings.topic_prefix, app_id=settings.app_id)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, catalogue, stop)
        print(f"{name}: stopped", flush=True)

    asyncio.run(main())
    return 0


def _cmd_sink(args: argparse.Namespace) -> int:
    from agents.streams.sink import run_sink

    return _run_until_signal("sink", run_sink)


def _cmd_store_stats(args: argparse.Namespace) -> int:
    from agents.runtime.settings import load_settings
    from agents.runtime.store import MetricStore, store_stats

    settings = load_settings()

    async def main() -> None:
        store = MetricStore(settings.redis_url, settings.topic_prefix)
        try:
            stats = await store_stats(store)
        finally:
            await store.close()
        print(f"store: {stats.series} series-resolutions, {stats.points} points "
              f"({stats.bytes_per_point:.0f} bytes per point), {stats.anomalies} anomalies, "
              f"{stats.correlations} correlations in Redis at {settings.redis_url}")  # fmt: skip

    asyncio.run(main())
    return 0


def _cmd_store_clear(args: argparse.Namespace) -> int:
    from agents.runtime.settings import load_settings
    from agents.runtime.store import MetricStore, clear_store

    settings = load_settings()
    prefix = f"{settings.topic_prefix}hub:"
    if not args.yes:
        print(f"hub store-clear: this deletes every Redis key under {prefix!r} at "
              f"{settings.redis_url}; run again with --yes", file=sys.stderr)  # fmt: skip
        return 2

    async def main() -> int:
        store = MetricStore(settings.redis_url, settings.topic_prefix)
        try:
            return await clear_store(store)
        finally:
            await store.close()

    print(f"hub store-clear: {asyncio.run(main())} keys under {prefix!r} deleted")
    return 0


def _cmd_chains(args: argparse.Namespace) -> int:
    from agents.streams.chains import run_chains

    return _run_until_signal("chains", run_chains)


def _cmd_api(args: argparse.Namespace) -> int:
    """The HTTP API (FastAPI on uvicorn); refuses to start without keys unless told otherwise."""
    import logging

    import uvicorn

    from agents.api.app import AuthConfigError, build_auth, create_app

    level = getattr(logging, args.loglevel.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        auth = build_auth(args.host, args.insecure_no_auth)
    except AuthConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    app = create_app(auth=auth)
    mode = (
        "OPEN ACCESS (--insecure-no-auth): every caller has every role"
        if auth.open_access
        else f"{len(auth.keys)} API key(s)"
    )
    print(f"api: http://{args.host}:{args.port} ({mode}); docs at /docs", flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.loglevel,
        access_log=not args.no_access_log,
        proxy_headers=False,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    infra = sub.add_parser("infra", help="start/stop/inspect the local Kafka and Redis")
    infra.add_argument("action", choices=["up", "down", "status"])
    infra.add_argument("service", nargs="?", default="all", choices=["all", "kafka", "redis"])
    infra.set_defaults(func=_cmd_infra)

    topics = sub.add_parser(
        "topics", help="create/align (apply), show (list) or delete (a sandbox reset) the topics"
    )
    topics.add_argument("action", choices=["apply", "list", "delete"])
    topics.add_argument("--yes", action="store_true", help="confirm delete")
    topics.set_defaults(func=_cmd_topics)

    validate = sub.add_parser("validate", help="check JSON Lines events against the wire format")
    validate.add_argument("file", nargs="?", default="-", help="a .jsonl file, or - for stdin")
    validate.set_defaults(func=_cmd_validate)

    produce = sub.add_parser("produce", help="send simulated events of every payload type")
    produce.add_argument("--rate", type=float, default=200.0, help="events per second")
    produce.add_argument("--duration", type=float, help="seconds to run (default 10)")
    produce.add_argument("--count", type=int, help="stop after this many events")
    produce.add_argument("--batch", type=int, default=1, help="events per message (JSON array)")
    produce.add_argument("--seed", type=int, default=0)
    produce.add_argument(
        "--every-variant", action="store_true", help="start with one event of each payload type"
    )
    produce.add_argument(
        "--incident-history",
        action="store_true",
        help="first send the past 226 minutes with a prompt-injection incident 6 minutes ago",
    )
    produce.set_defaults(func=_cmd_produce)

    tail = sub.add_parser("tail", help="pretty-print what arrives on a topic")
    tail.add_argument("topic", help="topic name from topics.yaml, e.g. hub.metrics.1m")
    tail.add_argument("--from-beginning", action="store_true")
    tail.add_argument("--max", type=int, help="stop after this many messages")
    tail.add_argument("--timeout", type=float, help="stop after this many idle seconds")
    tail.add_argument("--contains", help="only messages whose bytes contain this text")
    tail.add_argument("--summary", action="store_true", help="one line per aggregated metric")
    tail.add_argument("--raw-name", action="store_true", help="do not add HUB_TOPIC_PREFIX")
    tail.set_defaults(func=_cmd_tail)

    replay = sub.add_parser("replay", help="aggregate a JSON Lines file offline, same code")
    replay.add_argument("--input", required=True, help="events as JSON Lines, or - for stdin")
    replay.add_argument("--output", required=True, help="aggregated metrics as JSON Lines")
    replay.add_argument("--windows", default="1m,5m,15m,1h,6h,1d,1w,30d")
    replay.set_defaults(func=_cmd_replay)

    detect = sub.add_parser("detect", help="backtest the anomaly detector on a CSV series")
    detect.add_argument("--input", required=True, help="CSV with header timestamp,value")
    detect.add_argument("--output", required=True, help="alerts (AnomalyEvent) as JSON Lines")
    detect.add_argument("--scores", action="store_true", help="a score line for every row")
    detect.add_argument("--metric", help="metric name in the alerts (default: file name)")
    detect.add_argument("--module", default="llm-analytics-hub", help="source module")
    detect.add_argument(
        "--strict", action="store_true", help="exit 1 when any row was blank or unreadable"
    )
    detect.set_defaults(func=_cmd_detect)

    simulate = sub.add_parser(
        "simulate", help="labelled incident traffic (labels + metrics and/or events)"
    )
    simulate.add_argument("--days", type=float, default=2.0)
    simulate.add_argument("--quiet-days", type=float, default=1.0, help="before any incident")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument(
        "--incidents",
        default="prompt_injection,provider_outage,runaway_tenant,latency_drift,rollout_shift",
        help="comma-separated incident kinds ('' for none)",
    )
    simulate.add_argument("--labels", required=True, help="incident labels as JSON")
    simulate.add_argument("--metrics", help="write the 1-minute metrics as JSON Lines")
    simulate.add_argument("--events", help="write the events as JSON Lines (for hub replay)")
    simulate.add_argument(
        "--produce", action="store_true", help="send the events to the module topics"
    )
    simulate.add_argument(
        "--start",
        type=float,
        help="epoch seconds of the first minute (default: ends now "
        "with --events/--produce, 2026-01-01 otherwise)",
    )
    simulate.set_defaults(func=_cmd_simulate)

    evaluate = sub.add_parser("evaluate", help="score detection and root cause on scenarios")
    evaluate.add_argument("--seeds", default="101,102,103,104,105")
    evaluate.add_argument("--days", type=float, default=None, help="2 offline, 0.7 live")
    evaluate.add_argument(
        "--live",
        action="store_true",
        help="produce each scenario's events through Kafka into a real worker and score what "
        "it publishes (needs Kafka: make infra-up)",
    )
    evaluate.add_argument(
        "--quiet-days",
        type=float,
        default=None,
        help="incident-free warm-up (1 offline, 0.15 live)",
    )
    evaluate.add_argument("--incidents", default="", help="comma-separated kinds (default: all)")
    evaluate.add_argument(
        "--compare",
        default="",
        help="with --live: the first seed's scenario through each of these deployments "
        "(single, processes2, kill; e.g. single,single,processes2,kill) and a check that "
        "they publish the same anomalies and correlations",
    )
    evaluate.set_defaults(func=_cmd_evaluate)

    bench = sub.add_parser("bench", help="throughput, accuracy and delay vs. peers, one run")
    bench.add_argument(
        "--events",
        type=int,
        default=400_000,
        help="backlog of the one-event-per-message runs and the peers (long enough that "
        "starting and the end-of-backlog close do not dominate a sustained rate)",
    )
    bench.add_argument("--batch", type=int, default=500, help="events per message, batched run")
    bench.add_argument(
        "--batched-events",
        type=int,
        default=400_000,
        help="backlog of the batched runs (long enough that the end-of-backlog close, ~1 s, "
        "does not dominate a sustained rate)",
    )
    bench.add_argument("--live-seconds", type=float, default=75.0, help="0 skips the delay run")
    bench.add_argument(
        "--mixed-events",
        type=int,
        default=100_000,
        help="backlog of the mixed-traffic runs (every payload type over an hour; 0 skips)",
    )
    bench.add_argument(
        "--mixed-only", action="store_true", help="only the mixed-traffic runs and their comparison"
    )
    bench.add_argument("--no-peers", action="store_true", help="skip Faust/Quix/raw peers")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument(
        "--detector", action="store_true", help="only the series detector's cost (no Kafka)"
    )
    bench.add_argument("--detector-series", type=int, default=10_000)
    bench.add_argument(
        "--stages",
        action="store_true",
        help="only the detection and correlation stages, on 1 and 2 processes (no Kafka)",
    )
    bench.add_argument("--stage-days", type=float, default=1.0)
    bench.set_defaults(func=_cmd_bench)

    worker = sub.add_parser("worker", help="run the stream-processing worker (Faust)")
    worker.add_argument("--loglevel", default=os.environ.get("HUB_LOG_LEVEL", "info"))
    worker.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes sharing the partitions (one per core uses the machine)",
    )
    worker.set_defaults(func=_cmd_worker)

    sink = sub.add_parser("sink", help="store metrics, anomalies and correlations in Redis")
    sink.set_defaults(func=_cmd_sink)

    store_stats = sub.add_parser("store-stats", help="what the sink stored in Redis")
    store_stats.set_defaults(func=_cmd_store_stats)

    store_clear = sub.add_parser("store-clear", help="delete what the sink stored (this prefix)")
    store_clear.add_argument("--yes", action="store_true", help="really delete")
    store_clear.set_defaults(func=_cmd_store_clear)

    chains = sub.add_parser("chains", help="assemble causal chains of correlated events")
    chains.set_defaults(func=_cmd_chains)

    api = sub.add_parser("api", help="serve the HTTP API (queries, anomalies, ingest, streams)")
    api.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    api.add_argument("--port", type=int, default=8080)
    api.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve without API keys (every caller has every role); loopback hosts only",
    )
    api.add_argument("--loglevel", default=os.environ.get("HUB_LOG_LEVEL", "info"))
    api.add_argument("--no-access-log", action="store_true", help="no line per request")
    api.set_defaults(func=_cmd_api)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `hub tail ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["build_parser", "main"]
