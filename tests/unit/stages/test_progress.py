"""When a source partition counts as read to its end."""

from pipeline.stages.progress import caught_up


def test_empty_partition_is_caught_up_at_once() -> None:
    assert caught_up({"t|0": 0}, {"t|0": 0}) == ["t|0"]


def test_caught_up_only_when_the_position_reaches_the_end() -> None:
    assert caught_up({"t|0": 6, "t|1": 6}, {"t|0": 5, "t|1": 6}) == ["t|1"]


def test_a_position_past_the_end_counts_and_unknown_positions_do_not() -> None:
    """Transaction markers can put the position past the last record; a partition
    without a position (revoked meanwhile) is never claimed."""
    assert caught_up({"t|0": 10, "t|1": 3}, {"t|0": 11}) == ["t|0"]
