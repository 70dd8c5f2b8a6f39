"""The internal ``hub.points`` messages read back as written."""

from pipeline.normalize import Point
from pipeline.point_batches import (
    Heartbeat,
    PointBatch,
    decode_points_message,
    encode_batch,
    encode_heartbeat,
    group_points,
)


def test_batch_round_trips_with_offsets_and_missing_fields() -> None:
    items = [
        (7, Point("lat", 100.5, (("model_id", "m"),), {"a": 1.0, "b": 2.0})),
        (9, Point("lat", 101.5, (("model_id", "m"),), {"a": 3.0})),
    ]
    (batch,) = group_points("topic", 2, items, partitions=1).values()
    decoded = decode_points_message(encode_batch(batch))
    assert isinstance(decoded, PointBatch)
    assert decoded.source == "topic|2" and decoded.progress == 101.5
    (series,) = decoded.series
    assert series.offsets == [7, 9] and series.timestamps == [100.5, 101.5]
    assert series.fields == {"a": [1.0, 3.0], "b": [2.0, None]}


def test_every_partition_gets_the_source_progress_even_without_points() -> None:
    items = [(0, Point("lat", 50.0, (("model_id", "m"),), {"a": 1.0}))]
    routed = group_points("topic", 0, items, partitions=4)
    assert sorted(routed) == [0, 1, 2, 3]
    assert {batch.progress for batch in routed.values()} == {50.0}
    assert sum(batch.event_count() for batch in routed.values()) == 1


def test_heartbeat_round_trips() -> None:
    beat = Heartbeat({"llm-observatory.events|0": 1_700_000_000.25, "x|3": 5.0})
    assert decode_points_message(encode_heartbeat(beat)) == beat
