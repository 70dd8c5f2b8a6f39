"""Edge validation: raw Kafka message bytes in, valid events or precise rejections out.

A message holds one JSON event or a JSON array of events (the batched form the
hub's own producers use). Every element is judged on its own, so one bad event
in a batch never costs the others; every rejection keeps the bytes it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from pipeline.ingest.batch_scan import scanned_columns, scanned_messages
from pipeline.ingest.fast_columns import (
    MIN_EVENTS,
    array_columns,
    fast_columns,
    message_columns,
)
from pipeline.ingest.normalize import Point, points_from_event
from pipeline.ingest.point_batches import SeriesColumns
from pipeline.models.events import AnalyticsEvent
from pipeline.models.issues import FieldIssue, issues_from_error
from pipeline.wire.json_codec import WireDecodeError, dumps, loads


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one event (or a whole unreadable message) was refused."""

    # malformed_json | oversize | too_many_events | invalid_event | unsupported_schema_version
    # | bad_timestamp
    code: str
    issues: tuple[FieldIssue, ...]
    original: bytes
    batch_index: int | None = None

    @property
    def message(self) -> str:
        return "; ".join(str(issue) for issue in self.issues)


@dataclass(slots=True)
class DecodedMessage:
    events: list[AnalyticsEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def consumed(self) -> int:
        """Events this message counts for: valid + rejected (an unreadable message is one)."""
        return len(self.events) + len(self.rejections)


@dataclass(frozen=True, slots=True)
class IngestLimits:
    max_message_bytes: int = 1_048_576
    max_future_skew_s: float = 3600.0
    max_past_age_s: float = 400 * 86400.0


def _classify(issues: list[FieldIssue]) -> str:
    if any(issue.path == "schema_version" and "unsupported" in issue.reason for issue in issues):
        return "unsupported_schema_version"
    return "invalid_event"


def _check_time(event: AnalyticsEvent, now: float, limits: IngestLimits) -> FieldIssue | None:
    ts = event.timestamp.timestamp()
    if ts > now + limits.max_future_skew_s:
        return FieldIssue(
            "timestamp",
            f"{event.timestamp.isoformat()} is {ts - now:.0f} s in the future; "
            f"the limit is {limits.max_future_skew_s:.0f} s (check the producer's clock)",
        )
    if ts < now - limits.max_past_age_s:
        return FieldIssue(
            "timestamp",
            f"{event.timestamp.isoformat()} is older than {limits.max_past_age_s / 86400:.0f} days;"
            " replay old data with 'hub replay' instead",
        )
    return None


def _validate_one(
    doc: Any, original: bytes, index: int | None, now: float, limits: IngestLimits
) -> AnalyticsEvent | Rejection:
    if not isinstance(doc, dict):
        issue = FieldIssue("", f"an event must be a JSON object, got {type(doc).__name__}")
        return Rejection("invalid_event", (issue,), original, index)
    try:
        event = AnalyticsEvent.model_validate(doc)
    except ValidationError as exc:
        issues = issues_from_error(exc, doc)
        return Rejection(_classify(issues), tuple(issues), original, index)
    time_issue = _check_time(event, now, limits)
    if time_issue is not None:
        return Rejection("bad_timestamp", (time_issue,), original, index)
    return event


def validate_event(
    doc: Any,
    now: float,
    limits: IngestLimits | None = None,
    original: bytes = b"",
    index: int | None = None,
) -> AnalyticsEvent | Rejection:
    """One already-parsed JSON document, judged exactly as ingest judges it (the HTTP API's
    single and batch endpoints use this, so they accept what the worker accepts)."""
    return _validate_one(doc, original, index, now, limits or IngestLimits())


def decode_message(raw: bytes, now: float, limits: IngestLimits | None = None) -> DecodedMessage:
    """Validate one Kafka message value; ``now`` (epoch s) bounds plausible timestamps."""
    limits = limits or IngestLimits()
    out = DecodedMessage()
    if len(raw) > limits.max_message_bytes:
        issue = FieldIssue(
            "", f"message is {len(raw)} bytes; the limit is {limits.max_message_bytes} bytes"
        )
        out.rejections.append(Rejection("oversize", (issue,), raw))
        return out
    try:
        doc = loads(raw)
    except WireDecodeError as exc:
        out.rejections.append(Rejection("malformed_json", tuple(issues_from_error(exc)), raw))
        return out
    if isinstance(doc, list) and len(doc) > EVENTS_PER_MESSAGE:
        issue = FieldIssue(
            "",
            f"the array holds {len(doc)} events; a message may hold at most "
            f"{EVENTS_PER_MESSAGE}: split it into several messages",
        )
        out.rejections.append(Rejection("too_many_events", (issue,), raw))
        return out
    if isinstance(doc, list):
        if not doc:
            issue = FieldIssue("", "empty JSON array: a batch needs at least one event")
            out.rejections.append(Rejection("invalid_event", (issue,), raw))
        for index, item in enumerate(doc):
            element = dumps(item).encode("utf-8") if isinstance(item, (dict, list)) else raw
            result = _validate_one(item, element, index, now, limits)
            if isinstance(result, Rejection):
                out.rejections.append(result)
            else:
                out.events.append(result)
        return out
    result = _validate_one(doc, raw, None, now, limits)
    if isinstance(result, Rejection):
        out.rejections.append(result)
    else:
        out.events.append(result)
    return out


EVENTS_PER_MESSAGE = 65_536
"""Events of one message get source offsets ``message offset × EVENTS_PER_MESSAGE +
index``, unique only below this many; a larger array is refused whole (only possible
when ``HUB_MAX_MESSAGE_BYTES`` is raised far above its default)."""


@dataclass(slots=True)
class DecodedPoints:
    """A message as the worker needs it: the points of each valid event, and rejections.

    The columnar path gives its events' points already grouped by series instead
    (``columns``, offsets ``offset_base + index``; ``column_events`` events)."""

    points: list[list[Point]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    columns: list[SeriesColumns] = field(default_factory=list)
    column_events: int = 0

    @property
    def valid(self) -> int:
        return len(self.points) + self.column_events

    @property
    def consumed(self) -> int:
        return self.valid + len(self.rejections)


def decode_points(
    raw: bytes, now: float, limits: IngestLimits | None = None, offset_base: int = 0
) -> DecodedPoints:
    """``decode_message`` then ``points_from_event``, through a fast path when one can.

    ``pipeline.ingest.batch_scan`` (compiled) takes arrays of latency events whole, and
    ``pipeline.ingest.fast_columns`` (msgspec) arrays of every payload type; each
    declines what it cannot decide exactly (and arrays shorter than ``MIN_EVENTS``), and
    the models judge that. Messages of one event are decoded a poll at a time
    (:func:`decode_records`); alone, one goes to the models. The
    points are the same either way (tests/unit/ingest/test_fast_paths.py,
    tests/unit/ingest/test_fast_columns.py, tests/unit/ingest/test_batch_scan.py).
    """
    limits = limits or IngestLimits()
    if len(raw) <= limits.max_message_bytes:
        bounds = (now, limits.max_future_skew_s, limits.max_past_age_s)
        grouped = scanned_columns(raw, offset_base, *bounds) or fast_columns(
            raw, offset_base, *bounds
        )
        if grouped is not None and grouped[0] <= EVENTS_PER_MESSAGE:
            return DecodedPoints(columns=grouped[1], column_events=grouped[0])
    return _by_the_models(raw, now, limits)


def _by_the_models(raw: bytes, now: float, limits: IngestLimits) -> DecodedPoints:
    decoded = decode_message(raw, now, limits)
    return DecodedPoints([points_from_event(e) for e in decoded.events], decoded.rejections)


@dataclass(slots=True)
class DecodedRecords:
    """One source's polled messages as the worker needs them: the events the fast tiers
    took, grouped by series across messages (``columns``; a one-event message's event at
    the message's offset base, an array's ``j``-th at base + ``j``), and every other
    message decoded on its own (``rest``: its index in the poll, points and rejections)."""

    columns: list[SeriesColumns] = field(default_factory=list)
    column_events: int = 0
    rest: list[tuple[int, DecodedPoints]] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return self.column_events + sum(decoded.valid for _, decoded in self.rest)

    @property
    def rejected(self) -> int:
        return sum(len(decoded.rejections) for _, decoded in self.rest)

    @property
    def consumed(self) -> int:
        return self.valid + self.rejected


def decode_records(
    raws: Sequence[bytes],
    offset_bases: Sequence[int],
    now: float,
    limits: IngestLimits | None = None,
) -> DecodedRecords:
    """``decode_points`` for each of many messages of one source, decoded together: the
    one-event latency messages by the compiled scanner
    (``pipeline.ingest.batch_scan.scanned_messages``), the other one-event messages by the
    msgspec columns (``pipeline.ingest.fast_columns.message_columns``), a poll's arrays
    together (latency arrays by the scanner), and what they decline by the models. Most
    producers send one event per message; the columns' fixed cost is paid once per poll.
    Message ``i``'s events get offsets from ``offset_bases[i]``. The points are the same
    as message by message (tests/unit/ingest/test_batch_scan.py,
    tests/unit/ingest/test_message_columns.py)."""
    limits = limits or IngestLimits()
    out = DecodedRecords()
    bounds = (now, limits.max_future_skew_s, limits.max_past_age_s)
    pending = [i for i, raw in enumerate(raws) if len(raw) <= limits.max_message_bytes]
    offsets = np.asarray(offset_bases, dtype=np.int64)
    taken: set[int] = set()
    for scan in (scanned_messages, message_columns):
        if len(pending) < MIN_EVENTS:
            break  # fewer do not pay the columns' fixed cost: the models take them
        scanned: Any = scan([raws[i] for i in pending], offsets[pending], *bounds)
        if scanned is None:
            continue  # the compiled scanner is off
        mask, columns = scanned
        out.columns += columns
        out.column_events += int(mask.sum())
        taken.update(i for i, kept in zip(pending, mask.tolist(), strict=True) if kept)
        pending = [i for i in pending if i not in taken]
    arrays = [i for i, raw in enumerate(raws) if i not in taken and raw[:1] == b"["]
    _arrays_together(raws, arrays, offset_bases, now, limits, out, taken)
    for i, raw in enumerate(raws):
        if i not in taken:  # the fast tiers have seen it (or it is oversize): the models judge
            out.rest.append((i, _by_the_models(raw, now, limits)))
    return out


def _arrays_together(
    raws: Sequence[bytes],
    arrays: list[int],
    offset_bases: Sequence[int],
    now: float,
    limits: IngestLimits,
    out: DecodedRecords,
    taken: set[int],
) -> None:
    """A poll's array messages: latency arrays through the compiled scanner one by one (it
    is fast alone), the others through the msgspec columns together."""
    bounds = (now, limits.max_future_skew_s, limits.max_past_age_s)
    rest = []
    for i in arrays:
        raw = raws[i]
        if len(raw) > limits.max_message_bytes:
            continue
        scanned = scanned_columns(raw, offset_bases[i], *bounds)
        if scanned is not None and scanned[0] <= EVENTS_PER_MESSAGE:
            out.columns += scanned[1]
            out.column_events += scanned[0]
            taken.add(i)
        else:
            rest.append(i)
    if not rest:
        return
    bases = np.asarray([offset_bases[i] for i in rest], dtype=np.int64)
    mask, columns, events = array_columns(
        [raws[i] for i in rest], bases, *bounds, EVENTS_PER_MESSAGE
    )
    out.columns += columns
    out.column_events += events
    taken.update(i for i, kept in zip(rest, mask.tolist(), strict=True) if kept)
