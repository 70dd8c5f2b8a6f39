"""Kafka side of :mod:`pipeline.stages.offset_gate`: where a partition starts, seeking back.

The aggregate agent passes every message through :func:`admit` before using it, so
a message faust hands over twice is used once, and one it dropped is read again (by
seeking back) instead of being stepped over. (Ingest reads with a plain aiokafka
consumer and needs none of this.)

Why a timer re-seeks: faust's fetch loop drops any message below the last offset it
delivered, and it may still be delivering an already-fetched batch when we seek
back, which lifts that mark above our seek target again. So a gap is re-sought every
:data:`RESEEK_AFTER_S` until its first offset arrives. Offsets that never arrive
after :data:`MAX_SEEKS` seeks are not in the log (transaction markers, compaction):
the gate then accepts the gap and says so.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from agents.runtime.app import app
from agents.runtime.counters import COUNTERS
from pipeline.stages.offset_gate import OffsetGate, Verdict

log = logging.getLogger(__name__)

RESEEK_AFTER_S = 2.0
MAX_SEEKS = 5

GATE = OffsetGate()


@dataclass(slots=True)
class _Gap:
    expected: int
    first_beyond: int
    seeks: int = 0
    last_seek: float = 0.0


_gaps: dict[Any, _Gap] = {}


async def admit(tp: Any, offset: int) -> bool:
    """True when ``offset`` is the next one of its partition; False to ignore the message."""
    if not GATE.knows(tp):
        GATE.start(tp, await _start_offset(tp))
    verdict = GATE.check(tp, offset)
    if verdict is Verdict.ADMIT:
        _gaps.pop(tp, None)
        return True
    if verdict is Verdict.REPEAT:
        COUNTERS.redelivered += 1
        return False
    COUNTERS.gap_skipped += 1
    gap = _gaps.get(tp)
    if gap is None or gap.expected != GATE.expected(tp):
        gap = _gaps[tp] = _Gap(GATE.expected(tp), offset)
        await _seek(tp, gap)
    else:
        gap.first_beyond = min(gap.first_beyond, offset)
    return False


async def _start_offset(tp: Any) -> int:
    """The group's committed offset, asked of the coordinator (faust's own copy is filled
    only after its seek, and the first messages can arrive before it); with no commit
    yet, the log start (``auto.offset.reset=earliest``)."""
    committed = await _committed(tp)
    if committed is not None:
        return committed
    earliest = await app.consumer.earliest_offsets(tp)
    return int(earliest.get(tp) or 0)


async def _committed(tp: Any) -> int | None:
    # faust exposes no getter; its aiokafka consumer has one, on faust's consumer thread
    thread = app.consumer._thread
    offset = await thread.call_thread(thread._ensure_consumer().committed, tp)
    return None if offset is None else int(offset)


async def _seek(tp: Any, gap: _Gap) -> None:
    earliest = int((await app.consumer.earliest_offsets(tp)).get(tp) or 0)
    if earliest > gap.expected:
        lost = GATE.skip_to(tp, earliest)
        COUNTERS.retention_lost += lost
        log.error(
            "%s: offsets %d..%d were deleted by retention before they were read; "
            "raise the topic's retention.ms if consumers lag this far",
            tp,
            gap.expected,
            earliest - 1,
        )
        gap.expected = earliest
    elif gap.seeks >= MAX_SEEKS:
        GATE.skip_to(tp, gap.first_beyond)
        log.warning(
            "%s: offsets %d..%d never arrived after %d seeks; taking them as absent "
            "from the log (transaction markers or compaction)",
            tp,
            gap.expected,
            gap.first_beyond - 1,
            gap.seeks,
        )
        gap.expected = gap.first_beyond
    else:
        log.warning(
            "%s: faust skipped offsets from %d; seeking back to read them", tp, gap.expected
        )
    gap.seeks += 1
    gap.last_seek = time.monotonic()
    # on faust's consumer thread, and resets the mark below which faust drops messages
    await app.consumer.seek_wait({tp: gap.expected})


@app.timer(interval=RESEEK_AFTER_S / 2)
async def reseek_open_gaps() -> None:
    now = time.monotonic()
    for tp, gap in list(_gaps.items()):
        if tp in _gaps and now - gap.last_seek >= RESEEK_AFTER_S:
            await _seek(tp, gap)


@app.on_partitions_revoked.connect
async def _forget_revoked(app: Any, revoked: Any, **kwargs: Any) -> None:
    GATE.forget(revoked)
    for tp in revoked:
        _gaps.pop(tp, None)
