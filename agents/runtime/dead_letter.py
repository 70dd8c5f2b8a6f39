"""Dead-letter publishing: original bytes as the value, the error and origin as headers.

Kafka Connect's convention (``errors.deadletterqueue.context.headers.enable``):
consumers of the dead-letter topic get the exact bytes that were refused and can
replay them once fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from faust.types import TopicT

from pipeline.ingest.decode import Rejection
from pipeline.models.api import api_error_from_issues


def rejection_headers(
    rejection: Rejection, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    error = api_error_from_issues(
        list(rejection.issues), f"event rejected ({rejection.code}): {rejection.message}"
    )
    headers = [
        ("hub.reason", rejection.code.encode()),
        ("hub.error", error.to_wire_bytes()),
        ("hub.source.topic", topic.encode()),
        ("hub.source.partition", str(partition).encode()),
        ("hub.source.offset", str(offset).encode()),
        ("hub.rejected_at", datetime.now(UTC).isoformat().encode()),
    ]
    if rejection.batch_index is not None:
        headers.append(("hub.source.batch_index", str(rejection.batch_index).encode()))
    return headers


async def send_rejections(
    dead_letter: TopicT,
    rejections: Sequence[Rejection],
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
) -> None:
    for rejection in rejections:
        await dead_letter.send(
            key=key,
            value=rejection.original,
            headers=rejection_headers(rejection, topic, partition, offset),
        )
