"""`hub topics apply|list`: make the broker's topics match topics.yaml, idempotently."""

from __future__ import annotations

import contextlib
from typing import Any

from aiokafka.admin import NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from agents.runtime.kafka_clients import admin
from agents.runtime.settings import Settings
from pipeline.wire.topics import Catalogue, TopicSpec

CONNECT_WITHIN_S = 30.0
"""How long topic administration waits for a broker that is starting."""


async def _connect(settings: Settings) -> Any:
    """An admin client, retrying with exponential backoff and jitter while the broker is
    not up yet (``hub infra up`` returns once it answers, but a compose start races)."""
    client = admin(settings)
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(KafkaConnectionError),
        wait=wait_random_exponential(multiplier=0.2, max=2.0),
        stop=stop_after_delay(CONNECT_WITHIN_S),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                await client.start()
    except KafkaConnectionError:
        raise SystemExit(
            f"cannot reach Kafka at {settings.kafka_bootstrap} within {CONNECT_WITHIN_S:g} s; "
            "start it with 'hub infra up' or set HUB_KAFKA_BOOTSTRAP"
        ) from None
    return client


async def _live_configs(client: Any, names: list[str]) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    responses = await client.describe_configs(resources)
    out: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            _err, _msg, _rtype, rname, entries = resource[:5]
            out[rname] = {entry[0]: entry[1] for entry in entries}
    return out


async def _partition_counts(client: Any, names: list[str]) -> dict[str, int]:
    described = await client.describe_topics(names)
    return {t["topic"]: len(t["partitions"]) for t in described if not t["error_code"]}


async def apply_topics(settings: Settings, catalogue: Catalogue, verbose: bool = True) -> list[str]:
    """Create missing topics, grow partitions, align configs; returns the actions taken."""
    client = await _connect(settings)
    actions: list[str] = []
    try:
        existing = set(await client.list_topics())
        missing = [spec for spec in catalogue.topics if spec.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await client.create_topics(
                    [
                        NewTopic(
                            name=spec.name,
                            num_partitions=spec.partitions,
                            replication_factor=spec.replication_factor,
                            topic_configs=spec.configs(),
                        )
                        for spec in missing
                    ]
                )
            actions += [f"created {spec.name} ({spec.partitions} partitions)" for spec in missing]
        present = [spec for spec in catalogue.topics if spec.name in existing]
        counts = await _partition_counts(client, [s.name for s in present]) if present else {}
        grow = {s.name: s.partitions for s in present if counts.get(s.name, 0) < s.partitions}
        if grow:
            await client.create_partitions(
                {n: NewPartitions(total_count=c) for n, c in grow.items()}
            )
            actions += [f"grew {name} to {count} partitions" for name, count in grow.items()]
        for spec in present:
            if counts.get(spec.name, 0) > spec.partitions:
                actions.append(
                    f"warning: {spec.name} has {counts[spec.name]} partitions, more than the "
                    f"declared {spec.partitions}; Kafka cannot shrink a topic"
                )
        live = await _live_configs(client, [s.name for s in present])
        drift = [s for s in present if _differs(s, live.get(s.name, {}))]
        if drift:
            await client.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, s.name, configs=s.configs())
                    for s in drift
                ]
            )
            actions += [f"updated configs of {s.name}" for s in drift]
    finally:
        await client.close()
    if verbose:
        for action in actions or ["all topics already match topics.yaml"]:
            print(f"topics: {action}")
    return actions


def _differs(spec: TopicSpec, live: dict[str, str]) -> bool:
    return any(live.get(key) != value for key, value in spec.configs().items())


async def list_topics(settings: Settings, catalogue: Catalogue) -> list[dict[str, Any]]:
    client = await _connect(settings)
    try:
        existing = set(await client.list_topics())
        names = [s.name for s in catalogue.topics if s.name in existing]
        counts = await _partition_counts(client, names) if names else {}
        live = await _live_configs(client, names)
    finally:
        await client.close()
    rows = []
    for spec in catalogue.topics:
        cfg = live.get(spec.name, {})
        rows.append(
            {
                "name": spec.name,
                "role": spec.role,
                "exists": spec.name in existing,
                "partitions": counts.get(spec.name),
                "retention_days": (
                    int(cfg["retention.ms"]) / 86_400_000 if "retention.ms" in cfg else None
                ),
                "cleanup_policy": cfg.get("cleanup.policy"),
                "in_sync_with_yaml": spec.name in existing and not _differs(spec, cfg),
            }
        )
    return rows


async def delete_topics(settings: Settings, catalogue: Catalogue) -> list[str]:
    """Delete every topic of the catalogue and the app's own (changelogs): a sandbox reset."""
    client = await _connect(settings)
    try:
        existing = set(await client.list_topics())
        ours = {s.name for s in catalogue.topics} | {
            name for name in existing if name.startswith(f"{settings.app_id}-")
        }
        doomed = sorted(ours & existing)
        if doomed:
            await client.delete_topics(doomed)
    finally:
        await client.close()
    return doomed
