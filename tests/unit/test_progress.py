"""When a source partition counts as read to its end."""

from pipeline.progress import HandledOffsets


def test_empty_partition_is_caught_up_at_once() -> None:
    assert HandledOffsets().caught_up({"t|0": 0}, {}) == ["t|0"]


def test_caught_up_only_when_every_message_up_to_the_end_is_handled() -> None:
    handled = HandledOffsets()
    for offset in range(5):
        handled.handled("t|0", offset)
    assert handled.caught_up({"t|0": 6}, {}) == [], "offset 5 is still pending"
    handled.handled("t|0", 5)
    assert handled.caught_up({"t|0": 6}, {}) == ["t|0"]


def test_offsets_committed_before_this_process_count_as_handled() -> None:
    handled = HandledOffsets()
    assert handled.caught_up({"t|0": 40, "t|1": 40}, {"t|0": 40, "t|1": 39}) == ["t|0"]
    handled.handled("t|1", 39)
    assert handled.caught_up({"t|0": 40, "t|1": 40}, {"t|0": 40, "t|1": None}) == [
        "t|0",
        "t|1",
    ]


def test_a_redelivered_older_offset_does_not_move_progress_back() -> None:
    handled = HandledOffsets()
    handled.handled("t|0", 9)
    handled.handled("t|0", 3)
    assert handled.next_offset == {"t|0": 10}
