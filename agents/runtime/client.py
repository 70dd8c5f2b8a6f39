"""A small Python producer for other services: validated events to the right module topic.

async with HubProducer() as hub:
    await hub.send(event)            # one event per message
    await hub.send_batch(events)     # a JSON array per message (fewer, larger messages)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from types import TracebackType

from agents.runtime.kafka_clients import producer
from agents.runtime.settings import Settings, load_settings
from pipeline.models.events import AnalyticsEvent
from pipeline.wire.topics import Catalogue, load_catalogue


class HubProducer:
    def __init__(self, settings: Settings | None = None, catalogue: Catalogue | None = None):
        self.settings = settings or load_settings()
        self.catalogue = catalogue or load_catalogue(
            prefix=self.settings.topic_prefix, app_id=self.settings.app_id
        )
        self._producer = producer(self.settings, linger_ms=5, acks="all")

    async def __aenter__(self) -> HubProducer:
        await self._producer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._producer.stop()

    def topic_for(self, event: AnalyticsEvent) -> str:
        return self.catalogue.input_topic(event.source_module.value).name

    async def send_raw(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        await self._producer.send(topic, value=value, key=key)

    async def send(self, event: AnalyticsEvent) -> None:
        await self._producer.send(self.topic_for(event), value=event.to_wire_bytes())

    async def send_batch(self, events: Iterable[AnalyticsEvent], max_per_message: int = 500) -> int:
        """Group by module topic and send JSON arrays; returns the number of messages."""
        by_topic: dict[str, list[bytes]] = defaultdict(list)
        for event in events:
            by_topic[self.topic_for(event)].append(event.to_wire_bytes())
        sent = 0
        for topic, items in by_topic.items():
            for i in range(0, len(items), max_per_message):
                chunk = items[i : i + max_per_message]
                await self._producer.send(topic, value=b"[" + b",".join(chunk) + b"]")
                sent += 1
        return sent

    async def flush(self) -> None:
        await self._producer.flush()
