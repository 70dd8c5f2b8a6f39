"""`hub tail TOPIC`: pretty-print what arrives on a topic (headers shown for dead letters)."""

from __future__ import annotations

import json
import time

from agents.kafka_clients import consumer
from agents.settings import Settings


def _pretty(value: bytes | None) -> str:
    if value is None:
        return "<null>"
    try:
        return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        return repr(value)


def _summary(value: bytes | None) -> str:
    """One line per aggregated metric: name, window, tags of note and its statistics."""
    try:
        doc = json.loads(value or b"")
        v, tags = doc["values"], doc["tags"]
        series = " ".join(f"{k}={tags[k]}" for k in ("model_id", "region") if k in tags)
        if "rate" in v:  # a counter
            return (
                f"{doc['window_start']} {doc['name']} {series} value={v['value']} "
                f"rate={v['rate']:.3f}/s"
            )
        return (
            f"{doc['window_start']} {doc['name']} {series} count={v['count']} "
            f"avg={v['avg']:.1f} p50={v['p50']:.1f} p95={v['p95']:.1f} p99={v['p99']:.1f}"
        )
    except (ValueError, KeyError, TypeError):
        return _pretty(value)


async def tail(
    settings: Settings,
    topic: str,
    from_beginning: bool,
    limit: int | None,
    timeout: float | None,
    contains: str | None = None,
    summary: bool = False,
) -> int:
    """Print messages until ``limit`` messages or ``timeout`` seconds of silence; returns count."""
    client = consumer(
        settings,
        topic,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        group_id=None,
    )
    await client.start()
    shown = 0
    last = time.monotonic()
    try:
        while limit is None or shown < limit:
            records = await client.getmany(timeout_ms=500)
            batch = [r for recs in records.values() for r in recs]
            if not batch:
                if timeout is not None and time.monotonic() - last > timeout:
                    break
                continue
            last = time.monotonic()
            for record in batch:
                if contains and contains.encode() not in (record.value or b""):
                    continue
                if summary:
                    print(_summary(record.value), flush=True)
                else:
                    print(f"--- {record.topic}[{record.partition}]@{record.offset}")
                    for name, value in record.headers or ():
                        print(f"  {name}: {value.decode('utf-8', 'replace')}")
                    print(_pretty(record.value), flush=True)
                shown += 1
                if limit is not None and shown >= limit:
                    break
    finally:
        await client.stop()
    return shown
