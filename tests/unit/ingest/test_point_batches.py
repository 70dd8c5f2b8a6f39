"""The internal ``hub.points`` messages read back as written."""

import math

import numpy as np
import orjson
import pytest

from pipeline.ingest.normalize import Point
from pipeline.ingest.point_batches import (
    Heartbeat,
    PointBatch,
    SeriesColumns,
    SourceGroups,
    decode_points_message,
    encode_batch,
    encode_heartbeat,
    group_points,
)

TAGS = (("model_id", "m"),)


def _absent_as_none(values: object) -> list[float | None]:
    return [None if math.isnan(v) else v for v in np.asarray(values, dtype=np.float64).tolist()]


def test_batch_round_trips_with_offsets_and_missing_fields() -> None:
    items = [
        (7, Point("lat", 100.5, TAGS, {"a": 1.0, "b": 2.0})),
        (9, Point("lat", 101.5, TAGS, {"a": 3.0})),
    ]
    (batch,) = group_points("topic", 2, items, partitions=1).values()
    decoded = decode_points_message(encode_batch(batch))
    assert isinstance(decoded, PointBatch)
    assert decoded.source == "topic|2" and decoded.progress == 101.5
    (series,) = decoded.series
    assert series.tags == TAGS
    assert series.offsets.tolist() == [7, 9] and series.timestamps.tolist() == [100.5, 101.5]
    assert {k: _absent_as_none(v) for k, v in series.fields.items()} == {
        "a": [1.0, 3.0],
        "b": [2.0, None],
    }


def test_floats_and_offsets_survive_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(5, 2, 1000)
    offsets = rng.integers(0, 2**50, 1000)
    times = 1.7e9 + rng.random(1000) * 1e6
    batch = PointBatch(
        "t", 0, [SeriesColumns("lat", TAGS, offsets, times, {"v": values})], 5.0, (3, 9)
    )
    decoded = decode_points_message(encode_batch(batch))
    assert isinstance(decoded, PointBatch) and decoded.covered == (3, 9)
    (series,) = decoded.series
    assert np.array_equal(series.offsets, offsets)
    assert series.timestamps.tobytes() == times.tobytes()
    assert series.fields["v"].tobytes() == values.tobytes()


def test_truncated_batch_is_refused() -> None:
    items = [(1, Point("lat", 1.0, TAGS, {"a": 1.0}))]
    (batch,) = group_points("topic", 0, items, partitions=1).values()
    raw = encode_batch(batch)
    with pytest.raises(ValueError):
        decode_points_message(raw[:-3])


def test_json_batches_written_before_the_binary_form_still_decode() -> None:
    legacy = orjson.dumps(
        {
            "src": ["topic", 1],
            "progress": 9.0,
            "covered": [4, 5],
            "series": [["lat", [["model_id", "m"]], [4, 5], [8.0, 9.0], {"a": [1.0, None]}]],
        }
    )
    decoded = decode_points_message(legacy)
    assert isinstance(decoded, PointBatch) and decoded.covered == (4, 5)
    (series,) = decoded.series
    assert series.tags == TAGS and list(series.offsets) == [4, 5]
    assert series.fields == {"a": [1.0, None]}


def test_points_and_columns_of_one_series_join_in_arrival_order() -> None:
    groups = SourceGroups()
    groups.add_point(1, Point("lat", 10.0, TAGS, {"a": 1.0}))
    groups.add_columns(
        SeriesColumns("lat", TAGS, np.array([2, 3]), np.array([11.0, 12.0]), {"b": np.ones(2)})
    )
    groups.add_point(4, Point("lat", 13.0, TAGS, {"a": 4.0}))
    ((series,),) = [b.series for b in groups.route("t", 0, 1).values()]
    assert series.offsets.tolist() == [1, 2, 3, 4]
    assert series.timestamps.tolist() == [10.0, 11.0, 12.0, 13.0]
    assert _absent_as_none(series.fields["a"]) == [1.0, None, None, 4.0]
    assert _absent_as_none(series.fields["b"]) == [None, 1.0, 1.0, None]
    assert groups.progress == 13.0


def test_every_partition_gets_the_source_progress_even_without_points() -> None:
    items = [(0, Point("lat", 50.0, TAGS, {"a": 1.0}))]
    routed = group_points("topic", 0, items, partitions=4)
    assert sorted(routed) == [0, 1, 2, 3]
    assert {batch.progress for batch in routed.values()} == {50.0}
    assert sum(batch.event_count() for batch in routed.values()) == 1


def test_heartbeat_round_trips() -> None:
    beat = Heartbeat({"llm-observatory.events|0": 1_700_000_000.25, "x|3": 5.0})
    assert decode_points_message(encode_heartbeat(beat)) == beat
