"""What the API process shares between requests: settings, the store, the producer, the keys."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from agents.api.auth import Authenticator
from agents.runtime import kafka_clients
from agents.runtime.settings import Settings, read_environment
from agents.runtime.store import MetricStore
from pipeline.models.events import AnalyticsEvent
from pipeline.wire.topics import Catalogue

log = logging.getLogger("hub.api")

KAFKA_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 3.0
"""/ready answers within about this long, even when Kafka is away."""


class KafkaUnavailable(RuntimeError):
    """The broker could not be reached in time (the message says which and why)."""


async def topic_partitions(admin: Any, topics: list[str]) -> dict[str, list[int]]:
    """Partition ids of each existing topic (a describe request never auto-creates a topic,
    unlike a producer's or consumer's metadata request on brokers that allow it)."""
    described = await asyncio.wait_for(admin.describe_topics(topics), KAFKA_TIMEOUT_S)
    return {
        item["topic"]: sorted(p["partition"] for p in item["partitions"])
        for item in described
        if item.get("error_code") == 0 and item.get("partitions")
    }


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """Request limits; the single-event limit is the hub's message limit (HUB_MAX_MESSAGE_BYTES)."""

    max_event_bytes: int
    max_batch_bytes: int
    max_batch_items: int
    max_per_page: int = 1000
    default_per_page: int = 50
    heartbeat_s: float = 15.0

    @classmethod
    def from_env(cls, settings: Settings) -> ApiLimits:
        env = read_environment()
        return cls(
            max_event_bytes=settings.max_message_bytes,
            max_batch_bytes=env.api_max_batch_bytes,
            max_batch_items=env.api_max_batch_items,
            heartbeat_s=env.api_heartbeat_s,
        )


class EventPublisher:
    """An aiokafka producer (acks=all) started on first use and restarted after a failure,
    so the API starts, and answers /health, while Kafka is away."""

    def __init__(self, settings: Settings, catalogue: Catalogue) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def producer(self, timeout_s: float = KAFKA_TIMEOUT_S) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                candidate = kafka_clients.producer(
                    self.settings,
                    acks="all",
                    linger_ms=5,
                    request_timeout_ms=int(KAFKA_TIMEOUT_S * 1000),
                )
                try:
                    await asyncio.wait_for(candidate.start(), timeout_s)
                except Exception as exc:
                    await _quiet_stop(candidate)
                    raise KafkaUnavailable(
                        f"Kafka at {self.settings.kafka_bootstrap} is unreachable "
                        f"({str(exc) or type(exc).__name__}); check 'hub infra status' and retry"
                    ) from exc
                self._producer = candidate
        return self._producer

    def topic_for(self, event: AnalyticsEvent) -> str:
        return self.catalogue.input_topic(event.source_module.value).name

    async def publish(self, events: list[AnalyticsEvent]) -> list[RecordMetadata | Exception]:
        """Send each event as its own message; one broker acknowledgement (or error) per event."""
        producer = await self.producer()
        pending: list[Any] = []
        for event in events:
            try:
                pending.append(
                    await producer.send(self.topic_for(event), value=event.to_wire_bytes())
                )
            except Exception as exc:  # e.g. no metadata for the topic in time
                pending.append(exc)

        async def outcome(item: Any) -> Any:
            return item if isinstance(item, Exception) else await item

        try:
            results = await asyncio.wait_for(
                asyncio.gather(*map(outcome, pending), return_exceptions=True),
                KAFKA_TIMEOUT_S * 1.5,
            )
        except TimeoutError as exc:
            raise KafkaUnavailable(
                f"Kafka at {self.settings.kafka_bootstrap} did not acknowledge within "
                f"{KAFKA_TIMEOUT_S * 1.5:.0f} s; retry later"
            ) from exc
        return [
            r if isinstance(r, (RecordMetadata, Exception)) else Exception(str(r)) for r in results
        ]

    async def check(self) -> dict[str, Any]:
        """Broker reachable and the hub's input topics present (``hub topics apply`` done)."""
        started = time.perf_counter()
        producer = await self.producer(timeout_s=READY_TIMEOUT_S)
        try:
            cluster = await asyncio.wait_for(producer.client.fetch_all_metadata(), READY_TIMEOUT_S)
        except Exception as exc:
            raise KafkaUnavailable(
                f"Kafka at {self.settings.kafka_bootstrap} did not answer a metadata request "
                f"({type(exc).__name__}); check 'hub infra status'"
            ) from exc
        wanted = [t.name for t in self.catalogue.by_role("input")]
        missing = sorted(set(wanted) - set(cluster.topics()))
        return {
            "ok": not missing and bool(cluster.brokers()),
            "brokers": len(cluster.brokers()),
            "missing_topics": missing,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }

    async def close(self) -> None:
        if self._producer is not None:
            await _quiet_stop(self._producer)
            self._producer = None


async def _quiet_stop(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), KAFKA_TIMEOUT_S)
    except Exception as exc:  # stopping a producer that never connected
        log.debug("producer stop: %s", exc)


@dataclass(slots=True)
class HubState:
    settings: Settings
    catalogue: Catalogue
    auth: Authenticator
    limits: ApiLimits
    store: MetricStore
    publisher: EventPublisher
    started_at: float = field(default_factory=time.time)
