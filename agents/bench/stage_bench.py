"""`hub bench --stages`: detection and correlation throughput, on 1 and 2 processes.

Pure (no Kafka, so the figures are the stages' own cost): the window results of an
evaluation scenario (every module's series, incidents included) routed to the
detection topic's 4 partitions by family key, as the aggregation agent routes them,
and marked each minute. Timed:

* detection on 1 process (all 4 partitions) and on 2 processes (2 partitions each,
  run at the same time; the wall time is the slower one's);
* correlation (one partition by design) over what detection forwarded.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from pipeline.correlation.rules import RuleEngine
from pipeline.correlation.stage import CorrelateStage
from pipeline.detection.stage import DetectStage, family_key
from pipeline.models.metrics import TimeWindow
from pipeline.sim.scenarios import Scenario
from pipeline.stages.in_process import forward_names, partition_of
from pipeline.stages.records import decode

PARTITIONS = 4
"""``hub.detect``'s partitions (topics.yaml default)."""


def _windows(seed: int, days: float) -> list[tuple[float, list[Any], list[Any]]]:
    scenario = Scenario(seed, days=days, quiet_days=days / 2)
    out = []
    for minute in scenario.traffic():
        metrics = scenario.metrics(minute)
        if metrics:
            end = max(m.window_end.timestamp() for m in metrics)
            wired = [(m, m.to_wire_bytes()) for m in metrics]  # as read from the topic
            out.append((end, wired, scenario.histograms(minute)))
    return out


def _detect(windows: list, mine: set[int]) -> tuple[float, int, dict[int, list[bytes]]]:
    """(seconds, results scored, forwards per partition) for the partitions ``mine``."""
    names = forward_names(RuleEngine(()))
    stages = {p: DetectStage(1, frozenset({60}), names) for p in mine}
    forwards: dict[int, list[bytes]] = {p: [] for p in mine}
    results = 0
    began = time.perf_counter()
    for end, metrics, histograms in windows:
        for metric, wire in metrics:
            partition = partition_of(
                family_key(metric.name, metric.window.value, metric.tags), PARTITIONS
            )
            if partition in stages:
                stages[partition].offer_metric(metric, wire)
                results += 1
        for histogram in histograms:
            key = family_key(histogram.name, "one_minute", histogram.tags)
            partition = partition_of(key, PARTITIONS)
            if partition in stages:
                stages[partition].offer_histogram(histogram, TimeWindow.one_minute)
        for partition, stage in stages.items():
            forwards[partition] += stage.mark(0, end).forwards
    return time.perf_counter() - began, results, forwards


def _detect_share(args: tuple[int, float, list[int], Any]) -> tuple[float, float, int]:
    """One process's share, started together with its sibling (wall-clock start, end)."""
    seed, days, mine, barrier = args
    windows = _windows(seed, days)
    barrier.wait()
    began = time.time()
    _, results, _ = _detect(windows, set(mine))
    return began, time.time(), results


def run_stage_bench(seed: int = 0, days: float = 1.0) -> dict[str, Any]:
    windows = _windows(seed + 811, days)
    one_s, results, forwards = _detect(windows, set(range(PARTITIONS)))
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        barrier = manager.Barrier(2)
        shares = pool.map(
            _detect_share,
            [(seed + 811, days, [0, 2], barrier), (seed + 811, days, [1, 3], barrier)],
        )
    two_s = max(end for _, end, _ in shares) - min(began for began, _, _ in shares)
    records = [(p, decode(value)) for p in range(PARTITIONS) for value in forwards[p]]
    # deliver in per-partition order, interleaved by window as the broker would
    records.sort(key=lambda item: (item[1][1], item[0]))
    stage = CorrelateStage(PARTITIONS, frozenset({60}), RuleEngine(()))
    began = time.perf_counter()
    correlations = 0
    for partition, record in records:
        out = stage.offer(partition, record)
        correlations += len(out.correlations)
    correlate_s = time.perf_counter() - began
    alerts = sum(1 for _, record in records if record[0] == "alert")
    return {
        "results": results,
        "detect_1p_per_s": results / one_s,
        "detect_2p_per_s": results / two_s,
        "share_results": [share for _, _, share in shares],
        "forwarded": len(records),
        "alerts": alerts,
        "correlations": correlations,
        "correlate_per_s": len(records) / correlate_s,
        "correlate_per_result": len(records) / results,
    }
