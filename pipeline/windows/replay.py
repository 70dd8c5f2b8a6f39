"""`hub replay`: the live pipeline's own code over a JSON Lines file of events, offline.

Each line holds one event or a JSON array of events, exactly like a ``hub.events``
message. Lines go through the same steps as in the worker: ``decode_message``
(schema only: no size or clock limits, old data is the point of a replay),
``points_from_event``, ``group_points`` and a :class:`PartitionEngine`, so a replay
of a file gives the numbers the live pipeline would have published for it.

* Source offsets are ``line_no * 65536 + index in the line``: unique per event, and
  they point back to the line. The engine de-duplicates by source offset only, so a
  line that appears twice in a file is counted twice, as two messages would be live.
* Offline there is no wall clock and the file may be in any order, so the engine's
  allowed lateness is :data:`OFFLINE_LATENESS_S`: every window stays open until the
  end of input, nothing is late, and ``close_all()`` publishes every window once.
  (``math.inf`` would do the same through the engine's "no finite watermark yet"
  path; a finite value keeps the watermark an ordinary number.) The price is that
  every 1-minute window of the file is in memory at once.
* Invalid events are counted and reported with their line number, never fatal.

Pure: the caller opens the files (see ``hub replay`` in agents/cli/main.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from pipeline.ingest.decode import IngestLimits, Rejection, decode_message
from pipeline.ingest.normalize import GAUGE_FIELDS, Point, points_from_event
from pipeline.ingest.point_batches import group_points
from pipeline.models.metrics import AggregatedMetric, TimeWindow
from pipeline.windows.aggregates import result_metric
from pipeline.windows.engine import EngineConfig, PartitionEngine, StepOutput

REPLAY_LIMITS = IngestLimits(
    max_message_bytes=2**62, max_future_skew_s=math.inf, max_past_age_s=math.inf
)
OFFLINE_LATENESS_S = 1e12
"""Seconds; more than the span of every representable timestamp (years 1 to 9999 are
~3.2e11 s apart), so the watermark stays before every window until ``close_all()``."""
REPLAY_CONFIG = EngineConfig(
    allowed_lateness_s=OFFLINE_LATENESS_S, grace_s=0.0, gauge_fields=GAUGE_FIELDS
)
SOURCE_TOPIC = "replay"
EVENTS_PER_LINE = 65_536
"""Source offsets are ``line_no * EVENTS_PER_LINE + index``; events beyond it are refused."""
BATCH_EVENTS = 2_000
"""Events per engine message (whole lines, so a batch may hold a little more)."""
MAX_REPORTED = 1_000
"""Invalid events kept with their line and reason; all of them are counted."""


@dataclass(frozen=True, slots=True)
class InvalidEvent:
    """One refused event (or unreadable line): where it was and why."""

    line: int
    index: int | None  # position in a JSON array line; None for a single-event line
    code: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.index is None else f"line {self.line}[{self.index}]"
        return f"{where}: {self.code}: {self.reason}"


@dataclass(slots=True)
class ReplayReport:
    metrics: list[AggregatedMetric] = field(default_factory=list)
    """Requested windows, sorted by (window seconds, window_start, name, sorted tags)."""
    lines: int = 0
    """Non-blank lines read."""
    events: int = 0
    """Valid events aggregated."""
    invalid: int = 0
    """Events refused (an unreadable line counts as one)."""
    invalid_events: list[InvalidEvent] = field(default_factory=list)
    """The first :data:`MAX_REPORTED` refusals, in file order."""
    points: int = 0
    late: int = 0
    """Always 0 offline (see :data:`OFFLINE_LATENESS_S`); kept as a check."""
    duplicates: int = 0

    @property
    def metric_count(self) -> int:
        return len(self.metrics)


def _reason(rejection: Rejection) -> str:
    return "; ".join(f"{i.path or '<document>'}: {i.reason}" for i in rejection.issues)


def _sort_key(metric: AggregatedMetric) -> tuple[int, float, str, tuple[tuple[str, str], ...]]:
    return (
        metric.window.seconds,
        metric.window_start.timestamp(),
        metric.name,
        tuple(sorted(metric.tags.items())),
    )


def replay(
    lines: Iterable[bytes], windows: Iterable[TimeWindow] = tuple(TimeWindow)
) -> ReplayReport:
    """Aggregate JSON Lines events with the live pipeline's code; metrics of ``windows``."""
    wanted = {w.seconds for w in windows}
    report = ReplayReport()
    engine = PartitionEngine({}, REPLAY_CONFIG)
    outs: list[StepOutput] = []
    items: list[tuple[int, Point]] = []
    pending_events = 0
    message_offset = 0

    def refuse(line_no: int, index: int | None, code: str, reason: str) -> None:
        report.invalid += 1
        if len(report.invalid_events) < MAX_REPORTED:
            report.invalid_events.append(InvalidEvent(line_no, index, code, reason))

    def flush() -> None:
        nonlocal items, pending_events, message_offset
        if not items:
            return
        batch = group_points(SOURCE_TOPIC, 0, items, partitions=1)[0]
        outs.append(engine.apply(message_offset, batch))
        message_offset += 1
        items, pending_events = [], 0

    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        report.lines += 1
        decoded = decode_message(raw.rstrip(b"\r\n"), now=0.0, limits=REPLAY_LIMITS)
        for rejection in decoded.rejections:
            refuse(line_no, rejection.batch_index, rejection.code, _reason(rejection))
        refused = {r.batch_index for r in decoded.rejections}
        index = 0
        for event in decoded.events:
            while index in refused:  # valid events keep their position in the array
                index += 1
            if index >= EVENTS_PER_LINE:
                refuse(line_no, index, "too_many_events", f"more than {EVENTS_PER_LINE} a line")
            else:
                offset = line_no * EVENTS_PER_LINE + index
                points = points_from_event(event)
                items.extend((offset, point) for point in points)
                report.events += 1
                report.points += len(points)
                pending_events += 1
            index += 1
        if pending_events >= BATCH_EVENTS:
            flush()
    flush()
    outs.append(engine.close_all())

    for out in outs:
        report.late += len(out.late)
        report.duplicates += out.duplicate_events
        report.metrics.extend(result_metric(r) for r in out.results if r.size_s in wanted)
    report.metrics.sort(key=_sort_key)
    return report


def write_metrics(metrics: Iterable[AggregatedMetric], out: TextIO) -> int:
    """Write each metric as one wire JSON line; returns how many were written."""
    count = 0
    for metric in metrics:
        out.write(metric.to_wire())
        out.write("\n")
        count += 1
    return count


def write_summary(report: ReplayReport, out: TextIO) -> None:
    """The refused events (first :data:`MAX_REPORTED`), then one line of counts."""
    for invalid in report.invalid_events:
        print(invalid, file=out)
    if report.invalid > len(report.invalid_events):
        print(f"… and {report.invalid - len(report.invalid_events)} more invalid", file=out)
    print(
        f"{report.lines} lines, {report.events} events, {report.invalid} invalid, "
        f"{report.metric_count} metrics",
        file=out,
    )
