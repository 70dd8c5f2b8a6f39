"""`hub tail TOPIC`: pretty-print what arrives on a topic (headers shown for dead letters)."""

from __future__ import annotations

import json
import time

from agents.runtime.kafka_clients import consumer
from agents.runtime.settings import Settings


def _pretty(value: bytes | None) -> str:
    if value is None:
        return "<null>"
    try:
        return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        return repr(value)


def _summary(value: bytes | None, headers: dict[str, str] | None = None) -> str:
    """One line per aggregated metric, anomaly or correlation: what a person scans for."""
    try:
        doc = json.loads(value or b"")
        if "anomaly_type" in doc:
            phase = (headers or {}).get("hub.episode", "")
            window = (headers or {}).get("hub.window", "")
            return (
                f"{doc['timestamp']} {window:>3} {phase:9} {doc['anomaly_type']:18} "
                f"{doc['metric']} ({doc['source_module']}): observed {doc['observed']:.6g} "
                f"vs baseline {doc['baseline']:.6g}, score {doc['anomaly_score']:.2f}"
            )
        if "anomalies" in doc:
            return _correlation_summary(doc)
        if "correlation_type" in doc:
            return _chain_summary(doc)
        if "formula" in doc:  # a CompositeMetric
            return f"{doc['timestamp']} {doc['window']} {doc['name']} = {doc['value']:.6g}"
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


def _correlation_summary(doc: dict) -> str:
    alerts = {a["event_id"]: a for a in doc["anomalies"]}
    root = doc.get("root_cause") or {}
    cause = alerts.get(root.get("root_event_id", ""), {})
    impact = doc["impact"]
    lines = [
        f"incident {doc['correlation_id']}: {len(alerts)} alerts across "
        f"{', '.join(impact['affected_modules'])}; strength {doc['strength']:.2f}, "
        f"severity {impact['severity']}",
        f"  root cause: {cause.get('metric', '?')} ({cause.get('source_module', '?')}) "
        f"at {cause.get('timestamp', '?')}, confidence {root.get('confidence', 0):.2f}",
    ]
    for link in root.get("causal_chain", []):
        effect = alerts.get(link["to_event_id"], {})
        lines.append(
            f"  -> {link['relationship']} of {effect.get('metric', '?')} "
            f"(+{link['time_delta_ms'] / 1000:.0f} s, strength {link['strength']:.2f})"
        )
    lines += [f"  do: {text}" for text in root.get("recommendations", [])]
    return "\n".join(lines)


def _chain_summary(doc: dict) -> str:
    """An event correlation: its events in time order, root first, with their roles."""
    events = sorted(doc["events"], key=lambda e: e["timestamp"])
    steps = " -> ".join(f"{e['source_module']}: {e['summary']} [{e['role']}]" for e in events)
    return (
        f"chain {doc['correlation_id']} {doc['correlation_type']} "
        f"(strength {doc['strength']:.2f}, confidence {doc['confidence']:.2f}): {steps}"
    )


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
                    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()}
                    print(_summary(record.value, headers), flush=True)
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
