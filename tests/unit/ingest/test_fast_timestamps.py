"""Column timestamps against ``datetime.fromisoformat(...).timestamp()``, bit for bit."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from pipeline.ingest.fast_timestamps import epoch_seconds


def _truth(texts: list[str]) -> list[float]:
    return [datetime.fromisoformat(t).timestamp() for t in texts]


def _random_moments(rng: random.Random, n: int) -> list[datetime]:
    start = datetime(1970, 1, 1, tzinfo=UTC)
    span = (datetime(2199, 12, 31, tzinfo=UTC) - start).total_seconds()
    return [
        start + timedelta(seconds=rng.randrange(int(span)), microseconds=rng.randrange(10**6))
        for _ in range(n)
    ]


@pytest.mark.parametrize("digits", [0, 1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("zone", ["Z", "+00:00", "+05:30", "-08:00", "+19:59", "-00:45"])
def test_every_layout_equals_fromisoformat(digits: int, zone: str) -> None:
    rng = random.Random(digits * 31 + len(zone))
    texts = []
    for moment in _random_moments(rng, 400):
        head = moment.strftime("%Y-%m-%dT%H:%M:%S")
        fraction = f".{moment.microsecond:06d}"[: digits + 1] if digits else ""
        texts.append(head + fraction + zone)
    got = epoch_seconds(texts)
    assert got is not None
    assert got.tobytes() == np.array(_truth(texts)).tobytes()


def test_mixed_lengths_in_one_column_keep_their_rows() -> None:
    moments = _random_moments(random.Random(5), 300)
    texts = [
        m.replace(microsecond=0).isoformat() if i % 3 == 0 else m.isoformat().replace("+00:00", "Z")
        for i, m in enumerate(moments)
    ]
    got = epoch_seconds(texts)
    assert got is not None and got.tolist() == _truth(texts)


def test_calendar_edges() -> None:
    texts = [
        "2024-02-29T23:59:59.999999Z",
        "2000-02-29T00:00:00.000000Z",
        "1970-01-01T00:00:00.000000Z",
        "2199-12-31T23:59:59.999999Z",
        "2026-12-31T12:00:00.500000Z",
        "2026-03-01T00:00:00.000001Z",
    ]
    got = epoch_seconds(texts)
    assert got is not None and got.tolist() == _truth(texts)


@pytest.mark.parametrize(
    "bad",
    [
        "2023-02-29T00:00:00Z",  # not a leap year
        "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:60Z",
        "2026-01-01T00:00:00+20:00",
        "2026-01-01T00:00:00+05:60",
        "2026-01-01 00:00:00Z",
        "2026-01-01t00:00:00Z",
        "2026/01/01T00:00:00Z",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00.1234567Z",
        "2026-01-01T00:00:0aZ",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "２026-01-01T00:00:00Z",
        "2026-01-01T00:00:00z",
    ],
)
def test_anything_else_is_left_to_the_per_value_path(bad: str) -> None:
    good = "2026-01-01T00:00:00Z"
    assert epoch_seconds([good, bad, good]) is None
    assert epoch_seconds([bad] * 3) is None


def test_a_row_with_another_zone_sign_declines_the_column() -> None:
    assert epoch_seconds(["2026-01-01T00:00:00+01:00", "2026-01-01T00:00:00-01:00"]) is None


def test_fractions_of_different_lengths_are_each_read_by_their_own_layout() -> None:
    texts = ["2026-01-01T00:00:00.123Z", "2026-01-01T00:00:00.12Z", "2026-01-01T00:00:00.5Z"]
    got = epoch_seconds(texts)
    assert got is not None and got.tolist() == _truth(texts)


def test_matches_a_timezone_aware_datetime_on_random_offsets() -> None:
    rng = random.Random(9)
    texts = []
    for moment in _random_moments(rng, 200):
        zone = timezone(timedelta(minutes=rng.choice([-1, 1]) * rng.randrange(0, 20 * 60)))
        texts.append(moment.astimezone(zone).isoformat())
    for text in texts:
        got = epoch_seconds([text])
        if text.startswith("1969"):
            assert got is None
        else:
            assert got is not None and got.tolist() == _truth([text])
