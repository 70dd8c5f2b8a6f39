"""The shared tag-admission log on the broker (``hub.tag-values``), for ingest.

Every ingest process follows the whole compacted topic from its beginning (a plain
consumer without a group) into an :class:`~pipeline.ingest.tag_admission.AdmissionLog`, and
proposes the values it meets that the log cannot decide yet: it appends them, keyed
by tag key, waits until its reader has passed its own records, and only then folds.
A proposal costs one round trip to the broker, once per new value of a key below its
cap; everything else is decided locally from the log.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import TopicPartition

from agents.runtime import kafka_clients
from agents.runtime.settings import Settings
from pipeline.ingest.tag_admission import AdmissionLog

log = logging.getLogger(__name__)


class TagAdmission:
    def __init__(self, settings: Settings, topic: str, partitions: int, cap: int) -> None:
        self.log = AdmissionLog(cap)
        self.settings = settings
        self.topic = topic
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self._read: dict[TopicPartition, int] = {}
        self._progress = asyncio.Condition()
        self._reader: Any = None
        self._producer: Any = None
        self._task: asyncio.Task[None] | None = None
        self.proposed = 0

    async def start(self) -> None:
        """Follow the log; return once it is read to its end."""
        self._reader = kafka_clients.consumer(
            self.settings, group_id=None, enable_auto_commit=False
        )
        self._producer = kafka_clients.producer(self.settings, acks="all", linger_ms=2)
        await self._reader.start()
        await self._producer.start()
        self._reader.assign(self.partitions)
        await self._reader.seek_to_beginning(*self.partitions)
        ends = await self._reader.end_offsets(self.partitions)
        self._task = asyncio.create_task(self._follow())
        await self._wait_for(ends)
        log.info("tag admission: %d keys, %d full", len(self.log.admitted), len(self.log.full))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._reader is not None:
            await self._reader.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def _follow(self) -> None:
        while True:
            batches = await self._reader.getmany(timeout_ms=200, max_records=5000)
            async with self._progress:
                for tp, records in batches.items():
                    for record in records:
                        if record.key is not None and record.value is not None:
                            self.log.read(record.key.decode(), record.value.decode())
                    self._read[tp] = records[-1].offset + 1
                for tp in self.partitions:  # an empty partition is read to its end too
                    if tp not in self._read:
                        self._read[tp] = await self._reader.position(tp)
                self._progress.notify_all()

    async def _wait_for(self, offsets: dict[TopicPartition, int]) -> None:
        """Until the reader has read every partition up to (excluding) these offsets."""
        async with self._progress:
            await self._progress.wait_for(
                lambda: all(self._read.get(tp, 0) >= end for tp, end in offsets.items())
            )

    async def decide(self, pairs: set[tuple[str, str]]) -> None:
        """Propose values the log has not decided; return once the log decides them."""
        futures = [
            await self._producer.send(self.topic, value.encode(), key.encode())
            for key, value in sorted(pairs)
        ]
        needed: dict[TopicPartition, int] = {}
        for future in futures:
            meta = await future
            tp = TopicPartition(meta.topic, meta.partition)
            needed[tp] = max(needed.get(tp, 0), meta.offset + 1)
        self.proposed += len(pairs)
        await self._wait_for(needed)
