"""aiokafka and Faust client construction from Settings (security passes straight through)."""

from __future__ import annotations

from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from agents.runtime.settings import Settings


def faust_credentials(settings: Settings) -> faust.auth.Credentials | None:
    sec = settings.security
    if sec.sasl_mechanism:
        return faust.SASLCredentials(
            username=sec.sasl_username,
            password=sec.sasl_password,
            mechanism=sec.sasl_mechanism,
            ssl_context=sec.ssl_context(),
        )
    context = sec.ssl_context()
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def producer(settings: Settings, **kwargs: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        max_request_size=settings.max_message_bytes + 65536,
        **settings.security.aiokafka_kwargs(),
        **kwargs,
    )


HEARTBEAT_INTERVAL_MS = 500
"""A group member learns of a rebalance from its next heartbeat: at aiokafka's default
(3 s) a new sibling waits up to 3 s while the busy member keeps reading alone."""


def consumer(settings: Settings, *topics: str, **kwargs: Any) -> AIOKafkaConsumer:
    kwargs.setdefault("heartbeat_interval_ms", HEARTBEAT_INTERVAL_MS)
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        **settings.security.aiokafka_kwargs(),
        **kwargs,
    )


def admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, **settings.security.aiokafka_kwargs()
    )


async def stable_group_size(client: AIOKafkaAdminClient, group: str) -> int:
    """Members of a consumer group once it is Stable (0 while it rebalances)."""
    (response,) = await client.describe_consumer_groups([group])
    _error, _group_id, state, *_rest, members = response.groups[0][:6]
    return len(members) if state == "Stable" else 0
