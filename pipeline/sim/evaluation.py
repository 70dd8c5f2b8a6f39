"""Scores the detectors and the correlator against labelled scenarios (docs/EVALUATION.md).

Runs the worker's detection and correlation stages (:mod:`pipeline.stages.in_process`)
over a :class:`~pipeline.sim.scenarios.Scenario`'s metrics and matches what they
raised with the labels:

* an alert (episode start) **belongs** to an incident when it started between one
  window before the incident and ``tail_windows`` after its end, and its series is
  one of the incident's affected series (metric name equal, label tags a subset of
  the alert's: the injected series and the fields derived from them), an event count
  of an affected module, or a cross-module composite; otherwise it is a **false
  alert**;
* an incident is **detected** when at least one alert belongs to it; its
  **delay** is the window whose result *raised* its first alert minus the
  incident's first window (an episode is dated at its first alerting window,
  but is only raised once confirmed);
* its **root cause is correct** when the root of the correlation holding most of
  its alerts (the latest such) is an alert on the labelled root series (or one the
  label names as the same cause); an incident whose alerts formed no correlation
  counts as correct when its first alert is on the root series;
* **precision** = alerts that belong to an incident / all alerts; **recall** =
  detected incidents / incidents; false critical alerts (score ≥ 0.8) are
  counted per simulated day on incident-free scenarios.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pipeline.correlation.incidents import SeriesKey
from pipeline.detection.metric_detection import Phase
from pipeline.detection.scoring import CRITICAL_SCORE
from pipeline.models.correlation import AnomalyCorrelation, AnomalyEvent
from pipeline.sim.scenarios import DAY, INCIDENT_KINDS, MINUTE, IncidentLabel, Scenario, SeriesId
from pipeline.stages.in_process import StagePipeline


@dataclass(slots=True)
class IncidentResult:
    label: IncidentLabel
    detected: bool
    delay_windows: float | None
    root_correct: bool


@dataclass(slots=True)
class RunResult:
    seed: int
    days: float
    incidents: list[IncidentResult] = field(default_factory=list)
    alerts: int = 0
    false_alerts: int = 0
    false_critical: int = 0
    false_by_module: Counter[str] = field(default_factory=Counter)


def _series(alert: Raised) -> SeriesId:
    name = alert.key[0].rsplit("@", 1)[0]
    return name, alert.key[1]


def _matches(series: SeriesId, label_series: SeriesId) -> bool:
    return series[0] == label_series[0] and set(label_series[1]) <= set(series[1])


def belongs(alert: Raised, label: IncidentLabel, tail_windows: int) -> bool:
    t = alert.event.timestamp.timestamp()
    if not label.start - MINUTE <= t <= label.end + tail_windows * MINUTE:
        return False
    series = _series(alert)
    if any(_matches(series, s) for s in label.affected):
        return True
    # aggregates of the affected series move with them: a module's event counts, and the
    # cross-module composites
    modules = {dict(s[1]).get("source_module") for s in label.affected}
    module = dict(series[1]).get("source_module")
    if series[0].startswith("hub_events.") and module in modules:
        return True
    return series[0].startswith("hub_composite.")


class Raised(Protocol):
    """What scoring needs of an alert: the event, its series and when it was raised
    (an ``Alert`` in process; a record of the anomalies topic in ``hub evaluate --live``)."""

    @property
    def event(self) -> AnomalyEvent: ...

    @property
    def key(self) -> SeriesKey: ...

    @property
    def raised_at(self) -> datetime | None: ...


def run_scenario(scenario: Scenario, tail_windows: int = 5, partitions: int = 1) -> RunResult:
    """Detect and correlate over the scenario through the worker's stages (one detection
    partition by default; the conclusions are the same with more); score against its
    labels."""
    stages = StagePipeline(partitions=partitions, with_composites=False)  # no module event counts
    for minute in scenario.traffic():
        metrics = scenario.metrics(minute)
        end = max(m.window_end.timestamp() for m in metrics) if metrics else None
        if end is None:
            continue
        stages.window(end, metrics, scenario.histograms(minute))
    started = [alert for alert in stages.alerts if alert.phase is Phase.STARTED]
    days = scenario.minutes * MINUTE / DAY
    return score_run(
        scenario.seed, days, scenario.labels, started, stages.correlations, tail_windows
    )


def score_run(
    seed: int,
    days: float,
    labels: list[IncidentLabel],
    started: Sequence[Raised],
    correlations: list[AnomalyCorrelation],
    tail_windows: int = 5,
) -> RunResult:
    """Match the alerts that started episodes, and the correlations, with the labels."""
    result = RunResult(seed, days)
    result.alerts = len(started)
    owners: dict[int, list[IncidentLabel]] = defaultdict(list)
    for i, alert in enumerate(started):
        for label in labels:
            if belongs(alert, label, tail_windows):
                owners[i].append(label)
        if not owners[i]:
            result.false_alerts += 1
            result.false_critical += alert.event.anomaly_score >= CRITICAL_SCORE
            result.false_by_module[alert.event.source_module.value] += 1
    by_id = {alert.event.event_id: alert for alert in started}
    for label in labels:
        mine = [started[i] for i, owned in owners.items() if label in owned]
        mine.sort(key=lambda a: a.event.timestamp)
        if not mine:
            result.incidents.append(IncidentResult(label, False, None, False))
            continue
        raised = min((a.raised_at or a.event.timestamp).timestamp() for a in mine)
        delay = max((raised - label.start) / MINUTE, 0.0)  # when it was raised, not dated
        root_ok = _root_correct(label, mine, correlations, by_id)
        result.incidents.append(IncidentResult(label, True, delay, root_ok))
    return result


def _root_correct(
    label: IncidentLabel,
    mine: Sequence[Raised],
    correlations: list[AnomalyCorrelation],
    by_id: dict[object, Raised],
) -> bool:
    """The root of the correlation that holds most of the incident's alerts (the latest
    such, as it grew) is on the labelled root series."""
    roots = (label.root_cause, *label.also_root)
    ids = {alert.event.event_id for alert in mine}
    holding = [
        (len(ids & {a.event_id for a in c.anomalies}), i, c) for i, c in enumerate(correlations)
    ]
    holding = [h for h in holding if h[0]]
    if not holding:  # a lone alert: it is its own root
        return any(_matches(_series(mine[0]), root) for root in roots)
    root = max(holding, key=lambda h: (h[0], h[1]))[2].root_cause
    if root is None or root.root_event_id not in by_id:
        return False
    return any(_matches(_series(by_id[root.root_event_id]), r) for r in roots)


@dataclass(slots=True)
class Summary:
    runs: list[RunResult]
    quiet_runs: list[RunResult]

    def _incidents(self) -> list[IncidentResult]:
        return [i for run in self.runs for i in run.incidents]

    @property
    def recall(self) -> float:
        incidents = self._incidents()
        return sum(i.detected for i in incidents) / len(incidents) if incidents else 0.0

    @property
    def precision(self) -> float:
        alerts = sum(run.alerts for run in self.runs)
        false = sum(run.false_alerts for run in self.runs)
        return (alerts - false) / alerts if alerts else 0.0

    @property
    def root_cause_accuracy(self) -> float:
        detected = [i for i in self._incidents() if i.detected]
        return sum(i.root_correct for i in detected) / len(detected) if detected else 0.0

    @property
    def false_critical_per_day(self) -> float:
        days = sum(run.days for run in self.quiet_runs)
        return sum(run.false_critical for run in self.quiet_runs) / days if days else 0.0

    @property
    def false_alerts_per_day(self) -> float:
        days = sum(run.days for run in self.quiet_runs)
        return sum(run.false_alerts for run in self.quiet_runs) / days if days else 0.0

    def false_alerts_per_hour(self) -> float:
        """Over every run, incidents or not: alerts that belong to no incident."""
        hours = sum(run.days for run in (*self.runs, *self.quiet_runs)) * 24
        false = sum(run.false_alerts for run in (*self.runs, *self.quiet_runs))
        return false / hours if hours else 0.0

    def false_per_module_day(self, quiet_only: bool = True) -> dict[str, float]:
        """False alerts per module per day: of the incident-free runs, or of every run."""
        runs = self.quiet_runs if quiet_only else [*self.runs, *self.quiet_runs]
        days = sum(run.days for run in runs)
        total: Counter[str] = Counter()
        for run in runs:
            total.update(run.false_by_module)
        return {module: n / days for module, n in sorted(total.items())} if days else {}

    def per_kind(self) -> dict[str, dict[str, float]]:
        table: dict[str, dict[str, float]] = {}
        kinds = sorted({i.label.kind for i in self._incidents()})
        for kind in kinds:
            rows = [i for i in self._incidents() if i.label.kind == kind]
            found = [i for i in rows if i.detected]
            delays = sorted(i.delay_windows for i in found if i.delay_windows is not None)
            table[kind] = {
                "incidents": len(rows),
                "recall": len(found) / len(rows),
                "median_delay_windows": delays[len(delays) // 2] if delays else float("nan"),
                "max_delay_windows": delays[-1] if delays else float("nan"),
                "root_cause_correct": (
                    sum(i.root_correct for i in found) / len(found) if found else 0.0
                ),
            }
        return table


def evaluate(
    seeds: list[int],
    days: float = 2.0,
    quiet_days: float = 1.0,
    kinds: tuple[str, ...] = INCIDENT_KINDS,
) -> Summary:
    """Incident runs on ``seeds``; incident-free runs of the same length on seeds + 1000."""
    runs = [
        run_scenario(Scenario(seed, days=days, incidents=kinds, quiet_days=quiet_days))
        for seed in seeds
    ]
    quiet = [run_scenario(Scenario(seed + 1000, days=days, incidents=())) for seed in seeds]
    return Summary(runs, quiet)


def format_summary(summary: Summary) -> str:
    lines = [
        "| incident | incidents | recall | median delay (windows) | max delay | root cause |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, row in summary.per_kind().items():
        lines.append(
            f"| {kind} | {row['incidents']:.0f} | {row['recall']:.2f} | "
            f"{row['median_delay_windows']:.0f} | {row['max_delay_windows']:.0f} | "
            f"{row['root_cause_correct']:.2f} |"
        )
    lines += [
        "",
        f"recall {summary.recall:.2f}, precision {summary.precision:.2f}, "
        f"root cause correct {summary.root_cause_accuracy:.2f}",
        *(
            [
                f"incident-free: {summary.false_alerts_per_day:.2f} alerts/day, "
                f"{summary.false_critical_per_day:.2f} critical/day"
            ]
            if summary.quiet_runs
            else []
        ),
        f"false alerts per hour, whole hub, all runs: {summary.false_alerts_per_hour():.2f}",
        "false alerts per module per day ("
        + ("incident-free runs" if summary.quiet_runs else "all runs")
        + "): "
        + (
            ", ".join(
                f"{m} {n:.2f}"
                for m, n in summary.false_per_module_day(bool(summary.quiet_runs)).items()
            )
            or "none"
        ),
    ]
    return "\n".join(lines)
