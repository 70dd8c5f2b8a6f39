"""Many keyed messages sent as record batches: one await per batch, not per message.

``AIOKafkaProducer.send`` is a coroutine per message (metadata wait, partitioner,
accumulator), ~20 µs and a trip through the event loop each; a window close sends
three to four messages per series (metric, detection copy, histogram and its copy).
Messages are grouped by topic and partition (named by the caller, as the producer's
own partitioner would choose) into ``BatchBuilder``s and handed over whole. Order
within a partition is kept.
"""

from __future__ import annotations

import asyncio
from typing import Any

Header = tuple[str, bytes]


class PartitionBatches:
    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self._open: dict[tuple[str, int], list[Any]] = {}

    def add(
        self, topic: str, partition: int, key: bytes | None, value: bytes,
        headers: list[Header] | None = None,
    ) -> None:  # fmt: skip
        """Queue one message for ``topic``'s ``partition``."""
        headers = [] if headers is None else headers  # the record builder takes a list
        batches = self._open.get((topic, partition))
        if batches is None:
            batches = self._open[(topic, partition)] = [self._producer.create_batch()]
        appended = batches[-1].append(timestamp=None, key=key, value=value, headers=headers)
        if appended is None:  # full: start the next batch
            batches.append(self._producer.create_batch())
            appended = batches[-1].append(timestamp=None, key=key, value=value, headers=headers)
            if appended is None:
                raise ValueError(f"a message of {len(value)} bytes does not fit a batch")

    async def send(self) -> list[asyncio.Future[Any]]:
        """Hand every batch to the producer; the futures resolve when the broker has them."""
        futures = []
        for (topic, partition), batches in self._open.items():
            for batch in batches:
                batch.close()
                futures.append(await self._producer.send_batch(batch, topic, partition=partition))
        self._open.clear()
        return futures
