"""``hub evaluate --live --compare single,single,processes2,kill``: the same input through
differently deployed workers must give the same anomalies and incidents.

One labelled scenario (every payload type, in JSON arrays as ``hub evaluate --live``
produces them) is produced, identically, into the fresh topics of each
run, and consumed by:

* ``single``: one ``hub worker``;
* ``processes2``: ``hub worker --processes 2`` (one consumer group of two processes);
* ``kill``: two ``hub worker`` processes; once half of the scenario's windows are
  published, one is killed with SIGKILL and replaced by a worker on an EMPTY data
  directory.

A run is over when the correlation stage's watermark (the marks on ``hub.correlate``)
has passed the scenario's end. The anomaly records (value and headers) and the
correlation records of every run are compared as sets with the first run's: a record
re-published after a crash carries the same bytes, so only a different conclusion
shows as a difference.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from agents.bench.evaluate_live import REPO, LiveAlert, _hub, _produce, _started, isolated_env
from agents.runtime.home import logs_dir
from agents.runtime.settings import load_settings
from pipeline.models.correlation import AnomalyCorrelation
from pipeline.sim.evaluation import RunResult, score_run
from pipeline.sim.scenarios import DAY, MINUTE, Scenario
from pipeline.stages.records import MARK
from pipeline.wire.topics import SOURCE_HEADER, load_catalogue

MODES = ("single", "processes2", "kill")


@dataclass(slots=True)
class RunRecords:
    mode: str
    anomalies: set[tuple[bytes, ...]] = field(default_factory=set)
    correlations: set[bytes] = field(default_factory=set)
    started: list[LiveAlert] = field(default_factory=list)
    published: int = 0
    """Records read (repeats included)."""
    killed: bool = False
    """A worker was killed with SIGKILL mid-run (``kill``)."""
    seconds: float = 0.0


def _env(tag: str) -> dict[str, str]:
    env = isolated_env(tag, "cmp")
    env.setdefault("HUB_SNAPSHOT_EVERY_S", "5")
    return env


class _Workers:
    """Worker subprocesses of one run, each in its own session (killed as a group)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, data_dir: str | None = None) -> subprocess.Popen[bytes]:
        env = dict(self.env)
        if data_dir is not None:
            env["HUB_DATA_DIR"] = data_dir
        with open(self.log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "agents.cli.main", "worker", "--loglevel", "warning", *args],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


async def _follow(
    scenario: Scenario, mode: str, timeout_s: float, halfway: Callable[[], None] | None
) -> RunRecords:
    """Read the run's outputs until the correlation stage has passed the scenario's end."""
    settings = load_settings()
    catalogue = load_catalogue(prefix=settings.topic_prefix, app_id=settings.app_id)
    anomalies = catalogue.one("anomalies").name
    correlations = catalogue.one("correlations").name
    correlate = catalogue.one("correlate").name
    metrics = catalogue.metrics_topic("one_minute").name
    detect_partitions = catalogue.one("detect").partitions
    consumer = AIOKafkaConsumer(
        anomalies, correlations, correlate, metrics,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    end = scenario.start + scenario.minutes * MINUTE
    middle = scenario.start + scenario.minutes * MINUTE / 2
    out = RunRecords(mode)
    marks: dict[int, float] = {}
    done_at: float | None = None
    began = shown = time.monotonic()
    await consumer.start()
    try:
        while time.monotonic() - began < timeout_s:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    if record.topic == metrics:
                        if halfway is not None and _window_start(record.value) >= middle:
                            halfway()
                            halfway, out.killed = None, True
                        continue
                    if record.topic == correlate:
                        if record.value.startswith(b'{"kind":"' + MARK.encode()):
                            source = int(dict(record.headers)[SOURCE_HEADER])
                            marks[source] = orjson.loads(record.value)["through"]
                        continue
                    out.published += 1
                    if record.topic == correlations:
                        out.correlations.add(record.value)
                        continue
                    headers = tuple(sorted((k, bytes(v)) for k, v in record.headers or ()))
                    out.anomalies.add(
                        (record.value, *(b"%s=%s" % (k.encode(), v) for k, v in headers))
                    )
                    alert = _started(record)
                    if alert is not None:
                        out.started.append(alert)
            through = min(marks.values()) if len(marks) == detect_partitions else None
            if done_at is None and through is not None and through >= end:
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at >= 5.0:
                break  # the correlation stage has published what its last release concluded
            if time.monotonic() - shown > 15:
                shown = time.monotonic()
                where = "not known yet"
                if through is not None:
                    where = f"{max(0.0, (end - through) / MINUTE):.0f} minutes before the end"
                print(f"hub evaluate --compare: {mode}: correlation watermark {where}; "
                      f"{len(out.anomalies)} anomaly records, {len(out.correlations)} "
                      "correlations", file=sys.stderr)  # fmt: skip
        else:
            raise TimeoutError(f"{mode}: the correlation stage did not pass the scenario's end "
                               f"within {timeout_s:.0f} s")  # fmt: skip
    finally:
        await consumer.stop()
    out.seconds = time.monotonic() - began
    return out


def _window_start(value: bytes) -> float:
    start = orjson.loads(value)["window_start"].replace("Z", "+00:00")
    return datetime.fromisoformat(start).timestamp()


def run_mode(mode: str, scenario: Scenario, timeout_s: float) -> RunRecords:
    """One deployment of the workers over the scenario's events, in topics of its own."""
    env = _env(mode)
    log = logs_dir() / f"compare-{mode}-{env['HUB_APP_ID']}.log"
    log.parent.mkdir(exist_ok=True)
    saved = dict(os.environ)
    os.environ.update(env)
    workers = _Workers(env, log)
    try:
        _hub(env, "topics", "apply")
        sent = asyncio.run(_produce(scenario, scenario.seed))
        print(f"hub evaluate --compare: {mode}: {sent} events produced; starting workers "
              f"(log {log})", file=sys.stderr)  # fmt: skip
        halfway: Callable[[], None] | None = None
        if mode == "single":
            workers.start()
        elif mode == "processes2":
            workers.start("--processes", "2")
        elif mode == "kill":
            workers.start(data_dir=str(Path(env["HUB_DATA_DIR"]) / "a"))
            victim = workers.start(data_dir=str(Path(env["HUB_DATA_DIR"]) / "b"))

            def halfway() -> None:
                workers.kill(victim)
                empty = Path(env["HUB_DATA_DIR"]) / "b-empty"
                print(f"hub evaluate --compare: kill: SIGKILL to worker {victim.pid} halfway; "
                      f"a new worker starts on the empty {empty}", file=sys.stderr)  # fmt: skip
                workers.start(data_dir=str(empty))
        else:
            raise ValueError(f"unknown run {mode!r}; one of {MODES}")
        return asyncio.run(_follow(scenario, mode, timeout_s, halfway))
    finally:
        workers.stop()
        try:
            _hub(env, "topics", "delete", "--yes")
        finally:
            shutil.rmtree(env["HUB_DATA_DIR"], ignore_errors=True)
            os.environ.clear()
            os.environ.update(saved)


@dataclass(slots=True)
class Comparison:
    runs: list[RunRecords]
    score: RunResult

    @property
    def identical(self) -> bool:
        first = self.runs[0]
        return all(
            run.anomalies == first.anomalies and run.correlations == first.correlations
            for run in self.runs[1:]
        )

    def table(self) -> str:
        first = self.runs[0]
        lines = [
            "| run | anomaly records | correlations | only here / only in run 1 (anomalies) "
            "| only here / only in run 1 (correlations) | records read | seconds |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for run in self.runs:
            extra_a = len(run.anomalies - first.anomalies)
            missing_a = len(first.anomalies - run.anomalies)
            extra_c = len(run.correlations - first.correlations)
            missing_c = len(first.correlations - run.correlations)
            lines.append(
                f"| {run.mode} | {len(run.anomalies)} | {len(run.correlations)} "
                f"| {extra_a} / {missing_a} | {extra_c} / {missing_c} "
                f"| {run.published} | {run.seconds:.0f} |"
            )
        return "\n".join(lines)


def compare(
    modes: list[str], seed: int, days: float, quiet_days: float, kinds: tuple[str, ...],
    timeout_s: float = 1800.0,
) -> Comparison:  # fmt: skip
    """The scenario through every mode (in order); the first run is the reference."""
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise ValueError(f"unknown runs {unknown}; choose from {', '.join(MODES)}")
    start = (time.time() - days * DAY) // MINUTE * MINUTE - 5 * MINUTE

    def scenario() -> Scenario:  # a fresh one per run: its traffic is drawn as it is read
        return Scenario(seed, days=days, start=start, incidents=kinds, quiet_days=quiet_days)

    runs = [run_mode(mode, scenario(), timeout_s) for mode in modes]
    labels = scenario().labels
    correlations = [AnomalyCorrelation.from_wire(value) for value in runs[0].correlations]
    score = score_run(seed, days, labels, runs[0].started, correlations)
    return Comparison(runs, score)
