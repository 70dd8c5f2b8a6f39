"""Bytes per point in the Redis store: one series of 10,000 1-minute points, then 1,000
series of 10 points (run: .venv/bin/python scripts/measure_store.py; needs Redis at
127.0.0.1:6379, and deletes the keys it wrote)."""

import asyncio
from datetime import UTC, datetime

from agents.runtime.store import MetricStore, store_stats
from pipeline.models.metrics import AggregatedMetric, StatisticalMeasures, TimeWindow


def metric(i: int, series: int) -> AggregatedMetric:
    t = 1_790_000_040 + 60 * i
    return AggregatedMetric(
        name="llm_latency.total_latency_ms",
        window=TimeWindow.one_minute,
        window_start=datetime.fromtimestamp(t, UTC),
        window_end=datetime.fromtimestamp(t + 60, UTC),
        values=StatisticalMeasures(
            avg=812.37 + i % 7,
            min=120.5,
            max=4012.9,
            p50=744.21,
            p95=1890.73,
            p99=2472.04,
            stddev=301.55,
            count=2087,
            sum=1695416.2,
        ),
        tags={
            "environment": "production",
            "model_id": f"model-{series}",
            "region": "us-east-1",
            "source_module": "llm-observatory",
        },
    )


async def main(prefix: str, series: int, points: int) -> None:
    store = MetricStore("redis://127.0.0.1:6379/0", prefix)
    for s in range(series):
        await store.write_metrics([metric(i, s) for i in range(points)])
    stats = await store_stats(store)
    print(f"{series} series x {points} points: {stats.bytes_per_point:.0f} bytes per point")
    async for key in store.redis.scan_iter(match=f"{prefix}*"):
        await store.redis.delete(key)
    await store.close()


asyncio.run(main("measure-a-", 1, 10_000))
asyncio.run(main("measure-b-", 1_000, 10))
