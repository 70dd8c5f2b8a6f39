"""The loop both plain-consumer tasks share: poll, handle, commit, tick; fail loudly.

Offsets are committed only after the handler returned, i.e. after whatever it
produced is on the broker: at-least-once, the consumers downstream drop repeats.
If the handler fails, the worker stops instead of running on without this task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import CommitFailedError, IllegalStateError

from agents.runtime import kafka_clients
from agents.runtime.app import app, settings
from pipeline.stages.progress import caught_up

log = logging.getLogger(__name__)

Handler = Callable[[list[Any]], Awaitable[None]]
Tick = Callable[[Any], Awaitable[None]]


async def run_committed(
    name: str,
    topics: tuple[str, ...],
    group: str,
    handle: Handler,
    *,
    max_records: int,
    poll_ms: int,
    tick: tuple[float, Tick] | None = None,
    min_interval_s: float = 0.0,
    commit_each_batch: bool = True,
    **consumer_options: Any,
) -> None:
    """``min_interval_s``: at most one handled batch per interval while polls come back
    short; under light traffic this gathers a few polls' worth into one batch instead of
    a batch per message. After a full poll (a backlog) the next is taken at once.
    ``commit_each_batch=False``: the handler's owner commits (with ``commit_offsets``),
    e.g. only together with a checkpoint of its state."""
    consumer = kafka_clients.consumer(
        settings,
        *topics,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **consumer_options,
    )
    await consumer.start()
    last_tick = last_handled = 0.0
    behind = False
    try:
        while True:
            wait = last_handled + min_interval_s - time.monotonic()
            if wait > 0 and not behind:  # a full poll means a backlog: no pause then
                await asyncio.sleep(wait)  # the fetcher keeps prefetching meanwhile
            batches = await consumer.getmany(timeout_ms=poll_ms, max_records=max_records)
            records = [record for part in batches.values() for record in part]
            behind = len(records) >= max_records
            if records:
                last_handled = time.monotonic()
                await handle(records)
                if commit_each_batch:
                    offsets = {tp: p[-1].offset + 1 for tp, p in batches.items()}
                    await _commit(name, consumer, offsets)
            if tick is not None and time.monotonic() - last_tick >= tick[0]:
                last_tick = time.monotonic()
                await tick[1](consumer)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a dead task must not go unnoticed: stop the worker
        log.exception("%s failed; stopping the worker so it can be restarted", name)
        await app.crash(exc)
    finally:
        await consumer.stop()


async def commit_offsets(name: str, consumer: Any, offsets: dict[str, int]) -> None:
    """Commit ``topic|partition`` -> next offset, for the partitions still assigned."""
    owned = {tp: offsets[source_of(tp)] for tp in consumer.assignment() if source_of(tp) in offsets}
    if owned:
        await _commit(name, consumer, owned)


async def _commit(name: str, consumer: Any, offsets: dict[Any, int]) -> None:
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, IllegalStateError) as exc:
        # A rebalance took the partitions: their next owner reads these messages again.
        log.warning("%s commit skipped after a rebalance (%s)", name, exc)


def source_of(tp: Any) -> str:
    """``topic|partition``: how progress and offsets name a partition."""
    return f"{tp.topic}|{tp.partition}"


async def read_to_end(consumer: Any) -> tuple[list[str], int]:
    """(partitions whose position has reached the broker's end offset, partitions assigned).

    A partition revoked while asking is simply not caught up."""
    tps = sorted(consumer.assignment())
    if not tps:
        return [], 0
    ends = await consumer.end_offsets(tps)
    positions = {}
    for tp in tps:
        try:
            positions[source_of(tp)] = await consumer.position(tp)
        except IllegalStateError:
            continue  # revoked meanwhile
    return caught_up({source_of(tp): end for tp, end in ends.items()}, positions), len(tps)
