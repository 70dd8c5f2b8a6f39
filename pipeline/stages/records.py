"""What the detection stage tells the correlation stage (the ``hub.correlate`` topic).

One JSON object per message, ``kind`` first:

* ``alert``: an episode start, with the recent values of its series (the correlator
  measures how series moved together from them) and the window end it was raised at;
* ``point``: a later value of a series that alerted recently (while it can still join
  an incident);
* ``input``: a window result the correlation stage needs whole (composite and rule
  inputs: they combine series of several detection partitions);
* ``mark``: the detection partition has sent everything about windows ending at or
  before ``through``.

Every record but a mark names the window end (``end``) it belongs to: the correlation
stage releases records in window-end order once every detection partition has marked
past it (:mod:`pipeline.stages.event_time`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from pipeline.correlation.incidents import SeriesKey
from pipeline.models.correlation import AnomalyEvent
from pipeline.models.metrics import AggregatedMetric

ALERT, POINT, INPUT, MARK = "alert", "point", "input", "mark"
KIND_ORDER = {INPUT: 0, POINT: 1, ALERT: 2}
"""Within one window end: the inputs (composites, rules), then the values, then the
alerts, so an alert is placed knowing its window's values."""


@dataclass(frozen=True, slots=True)
class ForwardedAlert:
    key: SeriesKey
    window_s: int
    event: AnomalyEvent
    raised_at: datetime | None
    history: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class ForwardedPoint:
    key: SeriesKey
    window_s: int
    start: float
    value: float


def _key_json(key: SeriesKey) -> list[Any]:
    return [key[0], [list(pair) for pair in key[1]]]


def _key_of(raw: list[Any]) -> SeriesKey:
    return raw[0], tuple((str(k), str(v)) for k, v in raw[1])


def encode_alert(end: float, alert: ForwardedAlert) -> bytes:
    return orjson.dumps(
        {
            "kind": ALERT,
            "end": end,
            "key": _key_json(alert.key),
            "window_s": alert.window_s,
            "event": orjson.Fragment(alert.event.to_wire_bytes()),
            "raised_at": alert.raised_at.timestamp() if alert.raised_at else None,
            "history": alert.history,
        }
    )


def encode_point(end: float, point: ForwardedPoint) -> bytes:
    return orjson.dumps(
        {
            "kind": POINT,
            "end": end,
            "key": _key_json(point.key),
            "window_s": point.window_s,
            "start": point.start,
            "value": point.value,
        }
    )


def encode_input(end: float, metric_wire: bytes) -> bytes:
    return orjson.dumps({"kind": INPUT, "end": end, "metric": orjson.Fragment(metric_wire)})


def encode_mark(through: float) -> bytes:
    return orjson.dumps({"kind": MARK, "through": through})


Decoded = tuple[str, float, Any]
"""(kind, window end or mark, the record: ForwardedAlert, ForwardedPoint,
AggregatedMetric, or None for a mark)."""


def decode(value: bytes) -> Decoded:
    """One ``hub.correlate`` message; ValueError for anything else."""
    try:
        raw = orjson.loads(value)
        kind = raw["kind"]
        if kind == MARK:
            return MARK, float(raw["through"]), None
        end = float(raw["end"])
        if kind == INPUT:
            return INPUT, end, AggregatedMetric.from_wire(orjson.dumps(raw["metric"]))
        key = _key_of(raw["key"])
        if kind == POINT:
            return POINT, end, ForwardedPoint(key, int(raw["window_s"]), raw["start"], raw["value"])
        if kind == ALERT:
            raised = raw["raised_at"]
            return (
                ALERT,
                end,
                ForwardedAlert(
                    key,
                    int(raw["window_s"]),
                    AnomalyEvent.from_wire(orjson.dumps(raw["event"])),
                    datetime.fromtimestamp(raised, UTC) if raised is not None else None,
                    tuple((float(t), float(v)) for t, v in raw["history"]),
                ),
            )
    except (KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"not a hub.correlate record: {exc}") from exc
    raise ValueError(f"not a hub.correlate record: unknown kind {kind!r}")
