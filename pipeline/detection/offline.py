"""`hub detect`: the streaming detector over one series in a CSV file, offline.

Input: a header ``timestamp,value`` and one row per point. Timestamps may be RFC 3339
(with an offset), naive ISO 8601 (``2014-04-01 00:00:00`` or with ``T``; read as
UTC), or Unix epoch seconds or milliseconds (numbers above 1e11 are milliseconds).
Rows are scored in file order, as a stream would deliver them: repeated and
out-of-order timestamps are scored as they come (the detector learns the series'
spacing from the positive gaps only). A blank value is skipped and counted; a row
that cannot be read is reported with its line number and reason, never fatal.

Output, one JSON line per alert: the wire format's ``AnomalyEvent`` for each episode
that opens and each escalation into the critical band, timestamped at the row that
raised it (``event_id`` derived from the metric name and that timestamp, so a re-run
gives the same ids). With ``scores``: exactly one line per input data row, in input
order: the row's number, timestamp, value, ``score`` (what the hub acts on: in an open
episode, below the alert threshold unless the row escalates it), ``point_score`` (the
row's own rarity), the baseline, the anomaly type and the episode phase; a row that
could not be read gets ``score`` null and ``error`` saying why.
"""

from __future__ import annotations

import csv
import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from pipeline.detection.scoring import Scored
from pipeline.detection.series import DetectorConfig, SeriesDetector
from pipeline.models.correlation import AnomalyEvent
from pipeline.models.events import SourceModule
from pipeline.wire.scalars import format_timestamp, parse_timestamp

_ID_NAMESPACE = uuid.UUID("6f1c3c52-7a53-4b8f-9d0e-5b0f4f0e9a11")
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}$")
_MILLIS_ABOVE = 1e11
"""Epoch numbers above this are milliseconds (1e11 s is the year 5138)."""
EXPECTED = (
    "a CSV file with the header 'timestamp,value' and rows such as "
    "'2014-04-01 00:00:00,12.5' (naive = UTC), '2014-04-01T00:00:00Z,12.5' or "
    "'1396310400,12.5' (epoch seconds or milliseconds)"
)


@dataclass(slots=True)
class DetectReport:
    rows: int = 0
    """Data rows read (every line after the header that is not entirely empty)."""
    scored: int = 0
    blank: int = 0
    alerts: int = 0
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def parse_time(text: str) -> float:
    """Epoch seconds (or milliseconds above 1e11), RFC 3339, or naive ISO 8601 as UTC."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"timestamp {text!r} is not a finite number")
        return seconds / 1000.0 if abs(seconds) > _MILLIS_ABOVE else seconds
    if text.endswith(("Z", "z")) or _has_offset(text):
        return parse_timestamp(text.replace("z", "Z")).timestamp()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"timestamp {text!r} is neither RFC 3339, ISO 8601 nor epoch seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _has_offset(text: str) -> bool:
    return _OFFSET.search(text) is not None


def detect_csv(
    rows: Iterable[str],
    metric: str,
    module: SourceModule = SourceModule.LLM_ANALYTICS_HUB,
    scores: bool = False,
    config: DetectorConfig | None = None,
) -> DetectReport:
    """Score every row of a ``timestamp,value`` CSV; raises ValueError when the file is
    not one (no header, or not a single readable row)."""
    report = DetectReport()
    reader = csv.reader(rows)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["timestamp", "value"]:
        raise ValueError(f"the first line must be the header 'timestamp,value', got {header!r}")
    detector = SeriesDetector(config or DetectorConfig())
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # an empty line is not a data row
        report.rows += 1
        try:
            parsed = _row(row)
        except ValueError as exc:
            report.problems.append(f"line {line_no}: {exc}")
            if scores:
                report.lines.append(_error_line(report.rows, line_no, str(exc)))
            continue
        if parsed is None:
            report.blank += 1
            if scores:
                report.lines.append(_error_line(report.rows, line_no, "blank value: skipped"))
            continue
        timestamp, value = parsed
        report.scored += 1
        scored = detector.update(timestamp, value)
        if scores:
            report.lines.append(_score_line(report.rows, scored))
        elif scored.episode_start:
            report.alerts += 1
            report.lines.append(anomaly_event(scored, metric, module).to_wire())
    if report.scored == 0:
        reasons = "; ".join(report.problems[:3]) or "no data rows"
        raise ValueError(f"no row could be scored ({reasons}); expected {EXPECTED}")
    return report


def _row(row: list[str]) -> tuple[float, float] | None:
    """(timestamp, value); None for a blank value."""
    if len(row) != 2:
        raise ValueError(f"expected 2 columns (timestamp,value), got {len(row)}")
    text = row[0].strip()
    if not text:
        raise ValueError("blank timestamp")
    timestamp = parse_time(text)
    cell = row[1].strip()
    if not cell:
        return None
    try:
        value = float(cell)
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


def _error_line(row: int, line_no: int, reason: str) -> str:
    return orjson.dumps({"row": row, "line": line_no, "score": None, "error": reason}).decode()


def _score_line(row: int, scored: Scored) -> str:
    return orjson.dumps(
        {
            "row": row,
            "timestamp": format_timestamp(datetime.fromtimestamp(scored.timestamp, UTC)),
            "value": scored.value,
            "score": round(scored.score, 6),
            "point_score": round(scored.point_score, 6),
            "baseline": scored.baseline,
            "anomaly_type": None if scored.anomaly_type is None else scored.anomaly_type.value,
            "episode": scored.phase,
        }
    ).decode()
