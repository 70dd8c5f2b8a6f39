"""Event-time tumbling windows: alignment and series identity (closing is tested with
the engine that closes them: tests/unit/windows/test_engine.py)."""

from pipeline.windows.alignment import series_id_of, window_start


def test_windows_are_epoch_aligned() -> None:
    assert window_start(0.0, 60) == 0
    assert window_start(59.999, 60) == 0
    assert window_start(60.0, 60) == 60
    assert window_start(1_700_000_123.5, 300) == 1_700_000_100
    assert window_start(-0.5, 60) == -60


def test_series_id_ignores_tag_order() -> None:
    assert series_id_of("m", [("b", "2"), ("a", "1")]) == series_id_of(
        "m", [("a", "1"), ("b", "2")]
    )
    assert series_id_of("m", [("a", "1")]) != series_id_of("n", [("a", "1")])
