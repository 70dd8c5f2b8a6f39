"""JSON codec and scalar rules of WIRE_FORMAT.md §3–§4, with the spec's own tables."""

from datetime import UTC, datetime

import pytest

from pipeline.wire import (
    DupDict,
    WireDecodeError,
    dumps,
    format_float,
    format_timestamp,
    loads,
    parse_timestamp,
    parse_uuid,
)


@pytest.mark.parametrize(
    "value, text",
    [
        (100.0, "100.0"),
        (0.00003, "0.00003"),
        (0.00001, "0.00001"),
        (1e-6, "1e-6"),
        (2.5e-7, "2.5e-7"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e16"),
        (1.5e16, "1.5e16"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.000015, "0.000015"),
        (float("nan"), "null"),
        (float("inf"), "null"),
    ],
)
def test_float_layout_matches_reference(value: float, text: str) -> None:
    assert format_float(value) == text


@pytest.mark.parametrize(
    "moment, text",
    [
        (datetime(2024, 1, 15, 10, 30, tzinfo=UTC), "2024-01-15T10:30:00Z"),
        (datetime(2024, 1, 15, 10, 30, 0, 500000, tzinfo=UTC), "2024-01-15T10:30:00.500Z"),
        (datetime(2024, 1, 15, 10, 30, 0, 123456, tzinfo=UTC), "2024-01-15T10:30:00.123456Z"),
        (datetime(2024, 1, 15, 10, 30, 0, 123400, tzinfo=UTC), "2024-01-15T10:30:00.123400Z"),
    ],
)
def test_timestamp_fraction_is_shortest_exact(moment: datetime, text: str) -> None:
    assert format_timestamp(moment) == text


def test_timestamp_offsets_convert_to_utc_and_nanos_truncate() -> None:
    assert parse_timestamp("2024-01-15T12:30:00+02:00") == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert parse_timestamp("2024-01-15 10:30:00Z") == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert parse_timestamp("2024-01-15T10:30:00.123456789Z").microsecond == 123456


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-15T10:30:00",
        "2024-01-15",
        "2024-01-15T10:30Z",
        "2024-01-15T10:30:00,5Z",
        "2024-01-15T10:30:00.1234567890Z",
        "2024-01-15T10:30:00+0200",
    ],
)
def test_timestamp_rejections(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


@pytest.mark.parametrize(
    "text",
    [
        "550e8400-e29b-41d4-a716-446655440000",
        "550E8400-E29B-41D4-A716-446655440000",
        "550e8400e29b41d4a716446655440000",
        "{550e8400-e29b-41d4-a716-446655440000}",
        "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
    ],
)
def test_uuid_forms_compare_by_value(text: str) -> None:
    assert str(parse_uuid(text)) == "550e8400-e29b-41d4-a716-446655440000"


def test_nil_uuid_is_valid_and_garbage_is_not() -> None:
    assert parse_uuid("00000000-0000-0000-0000-000000000000").int == 0
    for bad in ("550e8400-e29b-41d4-a716", "uuid:550e8400e29b41d4a716446655440000", 5):
        with pytest.raises(ValueError):
            parse_uuid(bad)


def test_duplicate_keys_are_tracked_last_value_kept() -> None:
    doc = loads(b'{"a":1,"a":2,"b":3}')
    assert isinstance(doc, DupDict)
    assert doc == {"a": 2, "b": 3}
    assert doc.duplicate_keys == frozenset({"a"})


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b'{"a":NaN}', "non-finite"),
        (b'{"a":Infinity}', "non-finite"),
        (b'{"a":"\\ud800"}', "lone surrogate"),
        (b'{"a":"\xff"}', "UTF-8"),
        (b'{"a":', "malformed JSON"),
    ],
)
def test_decode_rejections(raw: bytes, reason: str) -> None:
    with pytest.raises(WireDecodeError, match=reason):
        loads(raw)


def test_surrogate_pairs_and_escapes_are_accepted() -> None:
    assert loads(b'"\\ud83d\\ude00 \\u00e9 \\/"') == "\U0001f600 \u00e9 /"


def test_writer_escapes_like_the_reference() -> None:
    assert dumps({"s": 'é/\u2028\x7f\x01\n"\\'}) == '{"s":"é/\u2028\x7f\\u0001\\n\\"\\\\"}'
    assert dumps([1, 1.0, True, None]) == "[1,1.0,true,null]"


def test_fast_writer_matches_the_reference_writer() -> None:
    """orjson's output is used only where it equals our reference writer's."""
    import random

    from pipeline.wire.json_codec import _dumps_reference, dumps

    rng = random.Random(7)
    specials = [0.0, -0.0, 1.0, 100.0, 0.1, 1e-4, 1e-5, 1e15, 1e16, 1.5e300, 5e-324, 2**53 + 1.0]

    def value(depth: int) -> object:
        kind = rng.randrange(9 if depth < 3 else 6)
        if kind == 0:
            return rng.choice(specials) * rng.choice((1, -1))
        if kind == 1:
            return rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-12, 20)
        if kind == 2:
            return rng.choice((0, -1, 2**63 - 1, 2**64 - 1, -(2**63), rng.randint(-999, 999)))
        if kind == 3:
            return "".join(rng.choice('ab"\\\n\t\u00e9\u2028\x01 e5é😀') for _ in range(6))
        if kind == 4:
            return rng.choice((True, False, None))
        if kind == 5:
            return rng.choice(("1e5", "2e+7", "x9e+1"))
        if kind == 6:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {f"k{i}": value(depth + 1) for i in range(rng.randrange(4))}

    for _ in range(3000):
        doc = {"v": value(0)}
        assert dumps(doc) == _dumps_reference(doc)
