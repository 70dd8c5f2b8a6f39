"""Edge validation: one event or a batch per message, precise rejections, counts reconcile."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from pipeline.ingest.decode import IngestLimits, decode_message, decode_points
from pipeline.ingest.validate_lines import validate_lines
from pipeline.sim.simulate import VARIANTS, EventSimulator

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _event(variant: str = "telemetry.latency", when: datetime = NOW) -> str:
    return EventSimulator(seed=3).make(variant, when).to_wire()


def test_single_valid_event() -> None:
    decoded = decode_message(_event().encode(), NOW.timestamp())
    assert len(decoded.events) == 1 and decoded.rejections == []
    assert decoded.consumed == 1


def test_batch_keeps_good_events_and_rejects_each_bad_one() -> None:
    good = [_event(v) for v in VARIANTS]
    raw = ("[" + ",".join([*good, '{"x":1}', "42"]) + "]").encode()
    decoded = decode_message(raw, NOW.timestamp())
    assert len(decoded.events) == len(VARIANTS)
    assert [r.batch_index for r in decoded.rejections] == [len(good), len(good) + 1]
    assert decoded.rejections[0].original == b'{"x":1}'
    assert decoded.consumed == len(VARIANTS) + 2


@pytest.mark.parametrize(
    "raw, code",
    [
        (b"{not json", "malformed_json"),
        (b"[]", "invalid_event"),
        (b'"a string"', "invalid_event"),
        (_event().replace('"1.0.0"', '"2.0.0"').encode(), "unsupported_schema_version"),
        (_event().replace('"llm-observatory"', '"llm-costops"').encode(), "invalid_event"),
    ],
)
def test_rejection_codes(raw: bytes, code: str) -> None:
    decoded = decode_message(raw, NOW.timestamp())
    assert [r.code for r in decoded.rejections] == [code]
    assert decoded.rejections[0].original == raw
    assert decoded.rejections[0].message


def test_oversize_message_is_rejected_with_sizes() -> None:
    raw = _event().encode()
    decoded = decode_message(raw, NOW.timestamp(), IngestLimits(max_message_bytes=100))
    (rejection,) = decoded.rejections
    assert rejection.code == "oversize"
    assert f"{len(raw)} bytes" in rejection.message and "100 bytes" in rejection.message


@pytest.mark.parametrize(
    "when",
    [datetime(2026, 11, 28, 14, 0, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)],
)
def test_absurd_timestamps_are_rejected(when: datetime) -> None:
    decoded = decode_message(_event(when=when).encode(), NOW.timestamp())
    (rejection,) = decoded.rejections
    assert rejection.code == "bad_timestamp"
    assert rejection.issues[0].path == "timestamp"


def test_validate_lines_reports_line_path_reason_and_summary() -> None:
    bad = json.loads(_event("telemetry.token_usage"))
    bad["payload"]["data"]["prompt_tokens"] = 12.5
    lines = [_event(), "", json.dumps(bad), "{oops"]
    out = io.StringIO()
    status = validate_lines([(line + "\n").encode() for line in lines], out)
    text = out.getvalue().splitlines()
    assert status == 1
    assert text[0].startswith("line 3: payload.data.prompt_tokens: ")
    assert text[1].startswith("line 4: <document>: malformed JSON")
    assert text[-1] == "1 valid, 2 invalid"


def test_validate_lines_all_valid_exits_zero() -> None:
    out = io.StringIO()
    assert validate_lines([_event(v).encode() for v in VARIANTS], out) == 0
    assert out.getvalue().strip() == f"{len(VARIANTS)} valid, 0 invalid"


@pytest.mark.parametrize(
    "stamp",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+00:45"],
)
def test_timestamps_out_of_range_in_utc_are_rejected_not_raised(stamp: str) -> None:
    """Valid RFC 3339 on its own, outside datetime's range once in UTC: this raised
    OverflowError (found by the API's OpenAPI fuzz) and a single such event stopped the
    worker's ingest. Both decode paths must reject it with a reason."""
    doc = json.loads(_event())
    doc["timestamp"] = stamp
    raw = json.dumps([doc, json.loads(_event())]).encode()
    decoded = decode_message(raw, now=NOW.timestamp())
    assert len(decoded.events) == 1 and len(decoded.rejections) == 1
    assert "out of range in UTC" in str(decoded.rejections[0].issues[0])
    fast = decode_points(raw, now=NOW.timestamp())
    assert fast.consumed == 2 and len(fast.rejections) == 1
    assert fast.rejections[0].batch_index == 0


def test_an_array_beyond_the_sub_offset_space_is_refused_whole_on_every_path() -> None:
    """Events of a message get offsets ``message offset × 65,536 + index``: a longer array
    would collide with the next message's events, so it goes to the dead letters whole."""
    from pipeline.ingest.decode import EVENTS_PER_MESSAGE

    one = _event().encode()
    raw = b"[" + b",".join([one] * (EVENTS_PER_MESSAGE + 1)) + b"]"
    limits = IngestLimits(max_message_bytes=len(raw))
    decoded = decode_points(raw, NOW.timestamp(), limits)
    assert decoded.valid == 0 and decoded.consumed == 1
    (rejection,) = decoded.rejections
    assert rejection.code == "too_many_events" and rejection.original == raw
    assert f"{EVENTS_PER_MESSAGE + 1} events" in rejection.message
    # one fewer is fine, and takes the columnar path
    raw = b"[" + b",".join([one] * EVENTS_PER_MESSAGE) + b"]"
    decoded = decode_points(raw, NOW.timestamp(), limits)
    assert decoded.column_events == EVENTS_PER_MESSAGE and not decoded.rejections
