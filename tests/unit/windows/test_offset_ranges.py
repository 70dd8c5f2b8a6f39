"""The engine's absorbed-offset ranges against a plain set of offsets."""

from __future__ import annotations

import itertools
import random

from pipeline.windows.engine import _add_to_ranges, _in_ranges


def test_adding_runs_in_any_order_matches_a_set_and_stays_merged() -> None:
    rng = random.Random(4)
    for _ in range(200):
        ranges: list[list[int]] = []
        seen: set[int] = set()
        for _ in range(rng.randint(1, 30)):
            low = rng.randrange(200)
            high = low + rng.randrange(6)
            run = [o for o in range(low, high + 1) if o not in seen]
            # the engine adds only unseen offsets, as consecutive runs
            while run:
                end = 0
                while end + 1 < len(run) and run[end + 1] == run[end] + 1:
                    end += 1
                _add_to_ranges(ranges, run[0], run[end])
                seen.update(run[: end + 1])
                run = run[end + 1 :]
        assert all(_in_ranges(ranges, o) == (o in seen) for o in range(-2, 210))
        # sorted, disjoint and not adjacent: one range per run of consecutive offsets
        assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))
        assert sum(hi - lo + 1 for lo, hi in ranges) == len(seen)


def test_adding_overlapping_spans_is_their_union() -> None:
    """A batch's covered span may overlap what a window holds (a redelivered poll)."""
    rng = random.Random(9)
    for _ in range(300):
        ranges: list[list[int]] = []
        seen: set[int] = set()
        for _ in range(rng.randint(1, 25)):
            low = rng.randrange(150)
            high = low + rng.randrange(20)
            _add_to_ranges(ranges, low, high)
            seen.update(range(low, high + 1))
        assert all(_in_ranges(ranges, o) == (o in seen) for o in range(-2, 180))
        assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))
