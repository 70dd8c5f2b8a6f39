"""PartitionEngine against numpy ground truth on the same data (no Kafka).

The engine feeds raw values into 1-minute windows only and builds every larger
window (5m … 30d) from roll-ups in a key-value store, so each test below checks
the published results of every window size against numpy on the raw values.
The crash/replay tests drive the engine the way ``agents/streams/aggregate.py`` does
(publish, then apply ``writes`` in order, then ack ``ackable``) with a dict store,
throw the engine away at seeded crash points and replay from the committed offset.

Percentiles: exact while the sketch keeps raw values (<= EXACT_LIMIT), the spec's
targets (p50/p95 0.5 %, p99 1 % relative) from 20 000 values, as in
``tests.accuracy``. In between, a 200-centroid t-digest is accurate in *rank*, not
in value: in a lognormal tail one rank of ~1 500 values is already ~1.6 % of the
value, and p99 was seen 3.7 % off in value while 0.09 percentage points off in
rank. So mid-size windows are checked in rank: the estimate must lie between
numpy's percentiles at q ± RANK_BAND_PP (about twice the worst rank error measured
over 2 350 such windows).
"""

from __future__ import annotations

import functools
import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from pipeline.ingest.normalize import Point
from pipeline.ingest.point_batches import PointBatch, group_points
from pipeline.windows.alignment import series_id_of
from pipeline.windows.engine import (
    CURSOR_KEY,
    ROLLUP_PREFIX,
    WINDOW_SIZES_S,
    EngineConfig,
    PartitionEngine,
    StepOutput,
)
from pipeline.windows.sketch import EXACT_LIMIT
from tests.accuracy import percentile_tolerance

BOUNDARY = 1_700_352_000
"""A 30-day boundary (so also a 1d, 6h, 1h … boundary); the 1-week window spans it."""
START = BOUNDARY + 21_600 - 5_400
"""The data runs 1.5 h either side of a 6-hour boundary inside a day, so a 1d/1w/30d roll-up
is open (in the store) while later data arrives."""
DURATION = 3 * 3_600
SOURCE = "hub.events.test"
LATENESS = 30.0
CONFIG = EngineConfig(allowed_lateness_s=LATENESS, grace_s=0.0)

Key = tuple[int, int, str, str]  # (window size, window start, series id, field)
Measures = dict[str, float]

assert BOUNDARY % 2_592_000 == 0 and BOUNDARY % 604_800 != 0


# ------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class SeriesSpec:
    measurement: str
    tags: tuple[tuple[str, str], ...]
    rate_per_s: float
    fields: dict[str, Callable[[np.random.Generator, int], np.ndarray]]
    presence: dict[str, float] = field(default_factory=dict)  # field -> probability present
    gap: tuple[float, float] | None = None  # (from, to) seconds after the start without data


SERIES = (
    # ~4 values/s: 5-minute windows hold ~1 200 values, larger windows far more (t-digest path)
    SeriesSpec(
        "llm_latency",
        (("model_id", "hot"), ("region", "eu")),
        4.0,
        {
            "total_ms": lambda r, n: r.lognormal(6.8, 0.5, n),
            "ttft_ms": lambda r, n: 20 + r.gamma(2.0, 40.0, n),
        },
        {"ttft_ms": 0.7},
    ),
    SeriesSpec(
        "llm_latency",
        (("model_id", "cold"), ("region", "eu")),
        0.4,
        {"total_ms": lambda r, n: r.lognormal(7.2, 0.6, n)},
    ),
    SeriesSpec(
        "llm_errors",
        (("region", "us"),),
        0.15,
        {"count": lambda r, n: np.ones(n), "rate": lambda r, n: r.uniform(0.5, 9.5, n)},
        {"rate": 0.5},
        gap=(1_800.0, 3_300.0),
    ),
    SeriesSpec("hub_events", (), 1.0, {"count": lambda r, n: np.ones(n)}),
)


@functools.cache
def make_items(seed: int, jitter_s: float, start: int = START) -> tuple[tuple[int, Point], ...]:
    """(source offset, point) in arrival order; event times up to ``jitter_s`` behind arrival.

    The first field of a series is always present, the others with ``presence``.
    """
    rng = np.random.default_rng(seed)
    rows: list[tuple[float, Point]] = []
    for spec in SERIES:
        n = rng.poisson(spec.rate_per_s * DURATION)
        arrivals = np.sort(rng.uniform(start, start + DURATION, size=n))
        if spec.gap is not None:
            lo, hi = start + spec.gap[0], start + spec.gap[1]
            arrivals = arrivals[(arrivals < lo) | (arrivals >= hi)]
        n = arrivals.size
        ts = np.round(arrivals - rng.uniform(0.0, jitter_s, n), 3)
        columns = {name: make(rng, n).tolist() for name, make in spec.fields.items()}
        present = {name: rng.random(n) < spec.presence.get(name, 1.0) for name in columns}
        names = list(columns)
        for i, (arrival, t) in enumerate(zip(arrivals.tolist(), ts.tolist(), strict=True)):
            fields = {names[0]: columns[names[0]][i]}
            fields.update((k, columns[k][i]) for k in names[1:] if present[k][i])
            rows.append((arrival, Point(spec.measurement, t, spec.tags, fields)))
    rows.sort(key=lambda row: row[0])
    return tuple((offset, point) for offset, (_, point) in enumerate(rows))


def batch_of(items: Sequence[tuple[int, Point]], covered: bool = False) -> PointBatch:
    """One message; with ``covered`` it says which source offsets it holds completely, as
    ingest's do (the items are consecutive source offsets)."""
    batch = group_points(SOURCE, 0, items, partitions=1)[0]
    if covered and items:
        batch.covered = (items[0][0], items[-1][0])
    return batch


def chunk_messages(items: Sequence[tuple[int, Point]], rng: random.Random) -> list[PointBatch]:
    messages = []
    i = 0
    while i < len(items):
        size = rng.randint(40, 700)
        messages.append(batch_of(items[i : i + size]))
        i += size
    return messages


def ground_truth(items: Sequence[tuple[int, Point]]) -> dict[Key, np.ndarray]:
    """Values per (size, start, series, field) computed with numpy alone, deduped by offset."""
    unique = dict(items)
    columns: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for point in unique.values():
        sid = series_id_of(point.measurement, point.tags)
        for name, value in point.fields.items():
            ts_list, values = columns[(sid, name)]
            ts_list.append(point.timestamp)
            values.append(value)
    truth: dict[Key, np.ndarray] = {}
    for (sid, name), (ts_list, values) in columns.items():
        ts = np.array(ts_list)
        vals = np.array(values)
        for size in WINDOW_SIZES_S:
            starts = (np.floor(ts / size) * size).astype(np.int64)
            for start in np.unique(starts).tolist():
                truth[(size, start, sid, name)] = vals[starts == start]
    return truth


# ------------------------------------------------------------------------------ checks


RANK_BAND_PP = {50: 1.0, 95: 0.5, 99: 0.25}
SPEC_TARGET_COUNT = 20_000


def check_percentile(estimate: float, values: np.ndarray, q: int, where: object) -> None:
    n = values.size
    if n <= EXACT_LIMIT or n >= SPEC_TARGET_COUNT:
        truth = float(np.percentile(values, q))
        tolerance = percentile_tolerance(n, q)
        assert abs(estimate - truth) <= tolerance * abs(truth), (where, q, estimate, truth)
        return
    band = RANK_BAND_PP[q]
    lo, hi = np.percentile(values, [max(0.0, q - band), min(100.0, q + band)])
    assert lo <= estimate <= hi, (where, q, estimate, (lo, hi))


def check_measures(measures: Measures, values: np.ndarray, where: object) -> None:
    assert measures["count"] == values.size, where
    assert measures["sum"] == pytest.approx(math.fsum(values.tolist()), rel=1e-12), where
    assert measures["min"] == values.min(), where
    assert measures["max"] == values.max(), where
    assert measures["avg"] == pytest.approx(values.mean(), rel=1e-9), where
    assert measures["stddev"] == pytest.approx(values.std(), rel=1e-9, abs=1e-9), where
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        check_percentile(measures[name], values, q, where)


def published(outs: list[StepOutput]) -> list[tuple[Key, Measures]]:
    return [
        ((r.size_s, r.start, r.series_id, r.field), r.sketch.measures())
        for out in outs
        for r in out.results
    ]


def apply_writes(store: dict[str, bytes], writes: list[tuple[str, bytes | None]]) -> None:
    """Like the worker's PartitionStore: deleting a key never written is a no-op.

    (The engine deletes a roll-up it created and closed in one step without writing it.)
    """
    for key, value in writes:
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value


def rollup_keys(store: dict[str, bytes]) -> list[str]:
    return [k for k in store if k.startswith(ROLLUP_PREFIX)]


# ------------------------------------------------------------------------------ ground truth


STORED_ACROSS_6H = {300, 900, 3_600, 21_600, 86_400}
STORED_ACROSS_DAY = {300, 900, 3_600, 21_600, 604_800, 2_592_000}


@pytest.mark.parametrize(
    ("jitter_s", "start", "stored_sizes"),
    [
        (0.0, START, STORED_ACROSS_6H),
        (20.0, START, STORED_ACROSS_6H),
        (20.0, BOUNDARY + 86_400 - 5_400, STORED_ACROSS_DAY),
    ],
    ids=["in_order", "out_of_order", "out_of_order_across_day"],
)
def test_every_window_matches_numpy(jitter_s: float, start: int, stored_sizes: set[int]) -> None:
    """``stored_sizes``: the roll-ups that stay open while later data arrives.

    A roll-up is created when its first child closes; one created and closed in the
    same step (the 1d window ending at the day boundary; 1w/30d only get children
    when a day closes) is published without ever being written.
    """
    items = make_items(seed=11, jitter_s=jitter_s, start=start)
    messages = chunk_messages(items, random.Random(5))
    truth = ground_truth(items)
    store: dict[str, bytes] = {}
    engine = PartitionEngine(store, CONFIG)
    outs: list[StepOutput] = []
    sizes_seen_in_store: set[int] = set()
    max_open = 0
    for offset, batch in enumerate(messages):
        out = engine.apply(offset, batch)
        assert not out.late, "jitter within the allowed lateness is never late"
        assert out.duplicate_events == 0
        outs.append(out)
        apply_writes(store, out.writes)
        max_open = max(max_open, engine.open_window_count)
        sizes_seen_in_store.update(int(k.split("|")[1]) for k in rollup_keys(store))
        # the store mirrors the engine's open roll-ups, each small
        assert len(rollup_keys(store)) == engine.rollup_count
        assert all(len(store[k]) < 5 * 1024 for k in rollup_keys(store))
        if engine.rollup_count:
            assert engine.state_bytes() / engine.rollup_count < 5 * 1024
    # The larger windows were kept as roll-ups in the store while open …
    assert sizes_seen_in_store == stored_sizes
    # … and raw values live only in the few 1-minute windows the lateness keeps open.
    series_fields = {(k[2], k[3]) for k in truth}
    assert max_open <= len(series_fields) * (math.ceil(LATENESS / 60) + 2)
    assert engine.open_window_count > 0 and engine.rollup_count > 0

    final = engine.close_all()
    outs.append(final)
    apply_writes(store, final.writes)
    assert engine.open_window_count == 0 and engine.rollup_count == 0
    assert rollup_keys(store) == [] and list(store) == [CURSOR_KEY]

    results = published(outs)
    keys = [key for key, _ in results]
    assert len(keys) == len(set(keys)), "every window result is published exactly once"
    assert set(keys) == set(truth)
    assert {k[0] for k in keys} == set(WINDOW_SIZES_S)
    for key, measures in results:
        check_measures(measures, truth[key], key)
    counts = [m["count"] for _, m in results]
    assert sum(c >= 1000 for c in counts) >= 50, "percentiles were checked on large windows"
    assert sum(c >= SPEC_TARGET_COUNT for c in counts) >= 4, "… and at the spec's targets"


def test_two_day_windows_and_thirty_day_windows_roll_up_across_boundary() -> None:
    """The data spans a 30-day boundary: two 30d, two 1d, one 1w window per series field."""
    items = make_items(seed=3, jitter_s=5.0, start=BOUNDARY - 5_400)[::3]
    truth = ground_truth(items)
    engine = PartitionEngine({}, CONFIG)
    outs = [engine.apply(i, b) for i, b in enumerate(chunk_messages(items, random.Random(1)))]
    outs.append(engine.close_all())
    starts: dict[int, set[int]] = defaultdict(set)
    for (size, start, _, _), _measures in published(outs):
        starts[size].add(start)
    assert starts[2_592_000] == {BOUNDARY - 2_592_000, BOUNDARY}
    assert starts[86_400] == {BOUNDARY - 86_400, BOUNDARY}
    assert len(starts[604_800]) == 1
    for key, measures in published(outs):
        check_measures(measures, truth[key], key)


# ------------------------------------------------------------------------------ late / dup

T0 = 1_700_000_100  # a 5-minute boundary
TAGS = (("model_id", "m"),)
SID = series_id_of("lat", TAGS)


def msg(first_offset: int, values: list[tuple[float, float]]) -> PointBatch:
    """One message: (timestamp, value) pairs with consecutive source offsets."""
    items = [
        (first_offset + i, Point("lat", ts, TAGS, {"v": v})) for i, (ts, v) in enumerate(values)
    ]
    return batch_of(items)


def strict_config(**kw: float) -> EngineConfig:
    return EngineConfig(**{"allowed_lateness_s": 2.0, "grace_s": 0.0, **kw})


def test_late_value_is_reported_not_counted() -> None:
    engine = PartitionEngine({}, strict_config())
    engine.apply(0, msg(0, [(T0 + 5, 1.0), (T0 + 6, 2.0), (T0 + 7, 3.0)]))
    out = engine.apply(1, msg(3, [(T0 + 130, 10.0)]))  # watermark T0+128: minute 0 closes
    (first,) = [r for r in out.results if r.start == T0]
    assert first.sketch.count == 3

    late = engine.apply(2, msg(4, [(T0 + 10, 100.0)]))  # new source offset 4, window closed
    assert [(v.source_offset, v.timestamp, v.fields) for v in late.late] == [
        (4, T0 + 10, {"v": 100.0})
    ]
    assert late.late[0].source == f"{SOURCE}|0" and late.late[0].watermark == T0 + 128
    assert late.applied_events == 0 and late.duplicate_events == 0 and not late.results
    assert late.ackable == [2], "a message that fed no open window is ackable at once"

    final = engine.close_all()
    by_key = {(r.size_s, r.start): r.sketch for r in final.results}
    assert (60, T0) not in by_key, "the closed minute is never republished"
    assert by_key[(300, T0)].count == 4  # 3 + the T0+130 value, not the late one
    assert by_key[(300, T0)].total == 16.0
    assert by_key[(300, T0)].max == 10.0


def test_redelivered_value_is_a_duplicate_not_late() -> None:
    engine = PartitionEngine({}, strict_config())
    original = [(T0 + 5, 1.0), (T0 + 6, 2.0), (T0 + 7, 3.0)]
    engine.apply(0, msg(0, original))
    # redelivered while the window is open: recognised by its source offsets
    again = engine.apply(1, msg(1, original[1:]))
    assert again.duplicate_events == 2 and again.applied_events == 0 and not again.late
    assert again.ackable == [1]
    engine.apply(2, msg(3, [(T0 + 130, 10.0)]))  # closes minute 0
    # redelivered after the window closed: a duplicate, not late
    closed = engine.apply(3, msg(0, original[:2]))
    assert closed.duplicate_events == 2 and not closed.late and closed.applied_events == 0
    # a mix: one re-sent (offset 2), one new value for an open window (offset 4)
    mixed_items = [(2, Point("lat", T0 + 7, TAGS, {"v": 3.0}))]
    mixed_items.append((4, Point("lat", T0 + 131, TAGS, {"v": 20.0})))
    mixed = engine.apply(4, batch_of(mixed_items))
    assert mixed.duplicate_events == 1 and mixed.applied_events == 1 and not mixed.late
    final = engine.close_all()
    by_key = {(r.size_s, r.start): r.sketch for r in final.results}
    assert by_key[(60, T0 + 120)].count == 2
    assert by_key[(300, T0)].count == 5
    assert by_key[(300, T0)].total == 36.0


def test_message_twice_in_one_batch_counts_once() -> None:
    """A rebalance can hand ingest the same message twice inside one take() batch."""
    engine = PartitionEngine({}, strict_config())
    values = [(T0 + 5, 1.0), (T0 + 6, 2.0), (T0 + 7, 4.0)]
    items = [(i, Point("lat", ts, TAGS, {"v": v})) for i, (ts, v) in enumerate(values)]
    out = engine.apply(0, batch_of(items + items[1:]))
    assert out.applied_events == 3 and out.duplicate_events == 2
    engine.apply(1, msg(3, [(T0 + 130, 10.0)]))  # closes minute 0
    late_twice = [(9, Point("lat", T0 + 8, TAGS, {"v": 8.0}))] * 2
    late = engine.apply(2, batch_of(late_twice))
    assert [v.source_offset for v in late.late] == [9] and late.duplicate_events == 1
    final = engine.close_all()
    by_key = {(r.size_s, r.start): r.sketch for r in final.results}
    assert by_key[(300, T0)].count == 4
    assert by_key[(300, T0)].total == sum(v for _, v in values) + 10.0


def test_redelivered_message_after_watermark_passed_is_duplicate_across_restart() -> None:
    store: dict[str, bytes] = {}
    engine = PartitionEngine(store, strict_config())
    for offset, batch in enumerate(
        [msg(0, [(T0 + 5, 1.0), (T0 + 6, 2.0)]), msg(2, [(T0 + 130, 3.0)])]
    ):
        apply_writes(store, engine.apply(offset, batch).writes)
    restarted = PartitionEngine(store, strict_config())
    assert restarted.watermark == T0 + 128 and restarted.last_offset == 1
    out = restarted.apply(0, msg(0, [(T0 + 5, 1.0), (T0 + 6, 2.0)]))
    assert out.duplicate_events == 2 and not out.late and not out.results


# ------------------------------------------------------------------------------ idle, acks


def test_heartbeat_of_caught_up_sources_closes_windows() -> None:
    other = "hub.other|0"
    engine = PartitionEngine({}, strict_config(), sources=[f"{SOURCE}|0", other])
    out = engine.apply(0, msg(0, [(T0 + 10, 1.0), (T0 + 12, 2.0)]))
    assert not out.results and engine.watermark == -math.inf, "the other source holds it back"
    partial = engine.heartbeat(1, {other: T0 + 500})
    assert engine.watermark == T0 + 10, "now the data source is the slowest (T0+12 - 2 s)"
    assert not partial.results and partial.ackable == [1]
    caught_up = engine.heartbeat(2, {f"{SOURCE}|0": T0 + 70})  # watermark T0 + 68
    assert engine.watermark == T0 + 68
    assert [(r.size_s, r.start, r.sketch.count) for r in caught_up.results] == [(60, T0, 2)]
    assert caught_up.ackable == [0, 2]
    stale = engine.heartbeat(3, {f"{SOURCE}|0": T0 + 20})
    assert engine.watermark == T0 + 68 and not stale.results, "progress never goes back"
    later = engine.heartbeat(4, {f"{SOURCE}|0": T0 + 400, other: T0 + 400})
    assert (300, T0) in {(r.size_s, r.start) for r in later.results}


def test_without_heartbeats_a_silent_source_holds_the_watermark() -> None:
    """No wall-clock idleness: a backlog is never closed because ingest is slow."""
    engine = PartitionEngine({}, strict_config(), sources=[f"{SOURCE}|0", "hub.other|0"])
    for offset in range(5):
        out = engine.apply(offset, msg(offset, [(T0 + 60 * offset, 1.0)]))
        assert not out.results and not out.late


def test_message_acked_only_after_every_minute_it_fed_closed() -> None:
    engine = PartitionEngine({}, strict_config())
    out0 = engine.apply(0, msg(0, [(T0 + 10, 1.0), (T0 + 70, 2.0)]))  # minutes 0 and 1
    assert [r.start for r in out0.results] == [T0] and out0.ackable == []
    out1 = engine.apply(1, msg(2, [(T0 + 100, 3.0)]))  # minute 1
    assert out1.ackable == []
    beat = engine.heartbeat(2, {})
    assert beat.ackable == [2], "a heartbeat is ackable at once"
    out3 = engine.apply(3, msg(3, [(T0 + 125, 4.0)]))  # watermark T0+123: minute 1 closes
    assert [r.start for r in out3.results if r.size_s == 60] == [T0 + 60]
    assert out3.ackable == [0, 1]
    final = engine.close_all()
    assert final.ackable == [3]


# ------------------------------------------------------------------------------ crash / replay


@dataclass
class Message:
    batch: PointBatch | None  # None: a heartbeat with no news


def crash_messages(
    seed: int, covered: bool = False
) -> tuple[list[Message], list[tuple[int, Point]]]:
    """Messages with ingest re-sends (same source offsets again) and heartbeats mixed in."""
    rng = random.Random(seed)
    items = make_items(seed, jitter_s=20.0)
    items = [(o, p) for o, p in items if p.timestamp < START + 2.5 * 3_600]  # keep it quick
    messages: list[Message] = []
    sent = 0
    while sent < len(items):
        roll = rng.random()
        if roll < 0.05:
            messages.append(Message(None))
            continue
        size = rng.randint(30, 400)
        begin = sent
        if roll < 0.20 and sent:  # ingest restarted: re-sends some events, then new ones
            begin = max(0, sent - rng.randint(1, 500))
        if roll < 0.25 and sent:  # a pure re-send, nothing new
            messages.append(Message(batch_of(items[begin:sent], covered)))
            continue
        messages.append(Message(batch_of(items[begin : sent + size], covered)))
        sent += size
    return messages, items


@dataclass
class Crash:
    at: int  # message index
    mode: str  # "before_publish" | "after_writes"
    fraction: float = 1.0  # share of the writes applied before the crash …
    point: str | None = None  # … or "before_cursor" / "after_cursor": just before/after it


@dataclass
class Run:
    results: list[tuple[Key, Measures]] = field(default_factory=list)
    late: int = 0
    duplicates: int = 0
    crashes: int = 0
    replayed: int = 0
    crashes_between_cursor_and_deletes: int = 0
    # message index -> (index of the cursor write, number of writes), first processing
    layout: dict[int, tuple[int, int]] = field(default_factory=dict)


def run_worker(
    messages: list[Message], crashes: list[Crash]
) -> tuple[Run, dict[str, bytes], PartitionEngine]:
    """The worker protocol: apply, publish, write in order, ack; crash and replay on demand."""
    store: dict[str, bytes] = {}
    acked: set[int] = set()
    pending: dict[int, list[Crash]] = defaultdict(list)
    for crash in crashes:
        pending[crash.at].append(crash)
    run = Run()
    engine = PartitionEngine(store, CONFIG)
    pos = 0
    while pos < len(messages):
        message = messages[pos]
        if message.batch is None:
            out = engine.heartbeat(pos, {})
        else:
            out = engine.apply(pos, message.batch)
        keys = [k for k, _ in out.writes]
        cursor_at = keys.index(CURSOR_KEY)
        run.layout.setdefault(pos, (cursor_at, len(keys)))
        crash = pending[pos].pop(0) if pending[pos] else None
        if crash is not None and crash.mode == "before_publish":
            out = StepOutput()  # nothing published, nothing written
            keys, cursor_at = [], 0
        run.results.extend(published([out]))
        run.late += len(out.late)
        run.duplicates += out.duplicate_events
        if crash is None:
            apply_writes(store, out.writes)
            acked.update(out.ackable)
            pos += 1
            continue
        if crash.point == "before_cursor":
            k = cursor_at
        elif crash.point == "after_cursor":
            k = cursor_at + 1
        else:
            k = round(crash.fraction * len(keys))
        if cursor_at < k < len(keys):
            run.crashes_between_cursor_and_deletes += 1
        apply_writes(store, out.writes[:k])
        # the process dies: the engine and everything in memory are gone
        engine = PartitionEngine(store, CONFIG)
        committed = min(set(range(len(messages) + 1)) - acked)
        run.crashes += 1
        run.replayed += pos + 1 - committed
        pos = committed
    final = engine.close_all()
    run.results.extend(published([final]))
    apply_writes(store, final.writes)
    return run, store, engine


def plan_crashes(seed: int, clean: Run, count: int) -> list[Crash]:
    """``count`` random crashes, plus some just before/after the cursor of closing steps."""
    rng = random.Random(seed * 7919)
    n_messages = len(clean.layout)
    crashes = []
    for _ in range(count):
        at = rng.randrange(1, n_messages - 1)
        mode = "before_publish" if rng.random() < 0.2 else "after_writes"
        crashes.append(Crash(at, mode, rng.random()))
    # twice on one message: once after all its writes (not acked yet), then half-way
    at = rng.randrange(1, n_messages - 1)
    crashes += [Crash(at, "after_writes", 1.0), Crash(at, "after_writes", 0.5)]
    # steps that close roll-ups (they delete keys after the cursor): the riskiest points
    closing = [i for i, (cursor, n) in clean.layout.items() if n > cursor + 1]
    assert len(closing) >= 6, "some steps close roll-ups"
    picked = rng.sample(closing, 6)
    crashes += [Crash(at, "after_writes", point="before_cursor") for at in picked[:3]]
    crashes += [Crash(at, "after_writes", point="after_cursor") for at in picked[3:]]
    return crashes


def check_crash_run(run: Run, truth: dict[Key, np.ndarray], clean: Run) -> None:
    clean_by_key = dict(clean.results)
    assert len(clean_by_key) == len(clean.results) == len(truth)
    by_key: dict[Key, list[Measures]] = defaultdict(list)
    for key, measures in run.results:
        by_key[key].append(measures)
    assert set(by_key) == set(truth), "no window is missing, none is invented"
    for key, copies in by_key.items():
        for measures in copies:
            check_measures(measures, truth[key], key)
            assert measures["count"] == clean_by_key[key]["count"], key
        # a result republished after a crash is the same result
        assert len({(m["count"], m["sum"]) for m in copies}) == 1, (key, copies)
    assert run.late == 0


@pytest.mark.parametrize(("seed", "covered"), [(1, False), (2, False), (3, True), (4, True)])
def test_crash_and_replay_publish_the_ground_truth(seed: int, covered: bool) -> None:
    """Crashes before publishing, after any prefix of the writes, and before acking; half
    the runs with batches that state their covered source offsets (one range each)."""
    messages, items = crash_messages(seed, covered)
    truth = ground_truth(items)
    clean, _, _ = run_worker(messages, [])
    assert clean.duplicates > 0, "the ingest re-sends were recognised"
    crashes = plan_crashes(seed, clean, count=10)
    run, store, engine = run_worker(messages, crashes)
    assert run.crashes == len(crashes) and run.replayed > len(crashes)
    assert run.crashes_between_cursor_and_deletes >= 3, "the plan covers that gap"
    assert len(run.results) > len(clean.results), "crashes republished some results"
    check_crash_run(run, truth, clean)
    assert engine.open_window_count == 0 and engine.rollup_count == 0
    assert rollup_keys(store) == []


def test_crash_between_cursor_and_rollup_deletion_republishes_the_same_result() -> None:
    """Regression: the 5-minute window closes together with its last minute; its final
    state must be written before the cursor, or a crash before its deletion republishes
    the stale stored roll-up (without the last minute)."""
    config = EngineConfig(allowed_lateness_s=0.0)
    inputs = [
        msg(0, [(T0 + 10, 1.0), (T0 + 20, 1.0)]),  # minute 0 of the 5-minute window
        msg(2, [(T0 + 250, 1.0)]),  # minute 4; closes minute 0 (merged into the 5m roll-up)
        msg(3, [(T0 + 310, 1.0)]),  # closes minute 4 and the 5-minute window
    ]
    store: dict[str, bytes] = {}
    engine = PartitionEngine(store, config)
    for offset, batch in enumerate(inputs[:2]):
        apply_writes(store, engine.apply(offset, batch).writes)
    out = engine.apply(2, inputs[2])
    (first,) = [r.sketch.count for r in out.results if r.size_s == 300]
    assert first == 3
    keys = [k for k, _ in out.writes]
    apply_writes(store, out.writes[: keys.index(CURSOR_KEY) + 1])  # crash before the delete
    restarted = PartitionEngine(store, config)
    replay = [restarted.apply(offset, inputs[offset]) for offset in (1, 2)]  # unacked
    again = [r.sketch.count for o in replay for r in o.results if r.size_s == 300]
    assert again == [3]


def test_rollup_keys_survive_a_restart_whatever_the_names_hold() -> None:
    """Regression: custom metric keys (fields) and tag values are free text."""
    config = EngineConfig(allowed_lateness_s=0.0)
    tags = (("model_id", "m|1:2"), ("service", "a:b|c"))
    name = "custom.p|q:3|"

    def message(offset: int, ts: float) -> PointBatch:
        point = Point("llm_model_performance", ts, tags, {name: float(offset + 1)})
        return batch_of([(offset, point)])

    store: dict[str, bytes] = {}
    engine = PartitionEngine(store, config)
    for offset, ts in enumerate([T0 + 10, T0 + 70]):  # minute 0 closes into the 5m roll-up
        apply_writes(store, engine.apply(offset, message(offset, ts)).writes)
    restarted = PartitionEngine(store, config)
    final = restarted.close_all()
    five = [(r.series_id, r.field, r.sketch.count) for r in final.results if r.size_s == 300]
    assert five == [(series_id_of("llm_model_performance", tags), name, 1)]


def test_covered_batches_keep_a_window_state_independent_of_its_traffic() -> None:
    """Interleaved series: without coverage every event is its own absorbed range; with
    it one range per batch, merged across consecutive batches. Counts agree."""
    rng = random.Random(3)
    items = [
        (
            offset,
            Point("llm_latency", START + 10.0, (("model_id", f"m{rng.randrange(3)}"),), {"v": 1.0}),
        )
        for offset in range(6000)
    ]
    counts = []
    for covered in (False, True):
        engine = PartitionEngine({}, CONFIG)
        for i in range(0, len(items), 500):
            engine.apply(i // 500, batch_of(items[i : i + 500], covered))
        again = engine.apply(99, batch_of(items[1000:2500], covered))  # a re-sent span
        assert again.applied_events == 0 and again.duplicate_events == 1500
        ranges = sum(len(r) for r in engine._ranges.values())
        counts.append(sum(r.sketch.count for r in engine.close_all().results if r.size_s == 60))
        assert ranges == (3 if covered else pytest.approx(4000, rel=0.1)), ranges
    assert counts == [6000, 6000]
