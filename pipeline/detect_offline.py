"""`hub detect`: the streaming detector over one series in a CSV file, offline.

Input: a header ``timestamp,value``, then one row per point, in time order; the
timestamp is RFC 3339 (with an offset) or Unix seconds. Output, one JSON line per
alert episode: the wire format's ``AnomalyEvent`` (its ``event_id`` is derived
from the metric name and the timestamp, so a re-run gives the same ids); with
``scores``, one line per row instead: timestamp, value, score, baseline and type.
Bad rows are reported with their line number and skipped, never fatal.
"""

from __future__ import annotations

import csv
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from pipeline.detection import DetectorConfig, Scored, SeriesDetector
from pipeline.models.correlation import AnomalyEvent
from pipeline.models.events import SourceModule
from pipeline.wire.scalars import format_timestamp, parse_timestamp

_ID_NAMESPACE = uuid.UUID("6f1c3c52-7a53-4b8f-9d0e-5b0f4f0e9a11")


@dataclass(slots=True)
class DetectReport:
    rows: int = 0
    alerts: int = 0
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def parse_time(text: str) -> float:
    """Unix seconds, or an RFC 3339 timestamp with an offset."""
    try:
        seconds = float(text)
    except ValueError:
        return parse_timestamp(text).timestamp()
    if not math.isfinite(seconds):
        raise ValueError(f"timestamp {text!r} is not a finite number")
    return seconds


def detect_csv(
    rows: Iterable[str],
    metric: str,
    module: SourceModule = SourceModule.LLM_ANALYTICS_HUB,
    scores: bool = False,
    config: DetectorConfig | None = None,
) -> DetectReport:
    report = DetectReport()
    reader = csv.reader(rows)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["timestamp", "value"]:
        raise ValueError(f"the first line must be the header 'timestamp,value', got {header!r}")
    detector = SeriesDetector(config or DetectorConfig())
    previous = -math.inf
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            timestamp, value = _row(row)
        except ValueError as exc:
            report.problems.append(f"line {line_no}: {exc}")
            continue
        if timestamp <= previous:
            report.problems.append(f"line {line_no}: timestamp is not after the previous row's")
            continue
        previous = timestamp
        report.rows += 1
        scored = detector.update(timestamp, value)
        if scores:
            report.lines.append(_score_line(scored))
        elif scored.episode_start:
            report.alerts += 1
            report.lines.append(anomaly_event(scored, metric, module).to_wire())
    return report


def _row(row: list[str]) -> tuple[float, float]:
    if len(row) != 2:
        raise ValueError(f"expected 2 columns (timestamp,value), got {len(row)}")
    timestamp = parse_time(row[0].strip())
    try:
        value = float(row[1])
    except ValueError:
        raise ValueError(f"value {row[1]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"value {row[1]!r} is not finite")
    return timestamp, value


def anomaly_event(scored: Scored, metric: str, module: SourceModule) -> AnomalyEvent:
    assert scored.anomaly_type is not None and scored.baseline is not None
    return AnomalyEvent(
        event_id=uuid.uuid5(_ID_NAMESPACE, f"{metric}|{scored.timestamp!r}"),
        source_module=module,
        anomaly_type=scored.anomaly_type,
        anomaly_score=round(scored.score, 6),
        baseline=scored.baseline,
        observed=scored.value,
        deviation=scored.deviation,
        timestamp=datetime.fromtimestamp(scored.timestamp, UTC),
        metric=metric,
    )


def _score_line(scored: Scored) -> str:
    return orjson.dumps(
        {
            "timestamp": format_timestamp(datetime.fromtimestamp(scored.timestamp, UTC)),
            "value": scored.value,
            "score": round(scored.score, 6),
            "baseline": scored.baseline,
            "anomaly_type": None if scored.anomaly_type is None else scored.anomaly_type.value,
        }
    ).decode()
