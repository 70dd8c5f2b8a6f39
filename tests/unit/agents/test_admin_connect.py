"""Topic administration waits for a starting broker with backoff, then says what to do."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import replace

import pytest

import agents.runtime.admin as admin_module
from agents.runtime.settings import load_settings


def test_an_absent_broker_is_retried_with_backoff_then_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(admin_module, "CONNECT_WITHIN_S", 1.5)
    starts: list[float] = []
    real = admin_module.admin

    def counting(settings):  # type: ignore[no-untyped-def]
        client = real(settings)
        start = client.start

        async def timed_start() -> None:
            starts.append(time.monotonic())
            await start()

        client.start = timed_start
        return client

    monkeypatch.setattr(admin_module, "admin", counting)
    settings = replace(load_settings(), kafka_bootstrap="127.0.0.1:1")  # nothing listens
    began = time.monotonic()
    with pytest.raises(SystemExit) as stopped:
        asyncio.run(admin_module._connect(settings))
    assert "127.0.0.1:1" in str(stopped.value) and "hub infra up" in str(stopped.value)
    assert 1.5 <= time.monotonic() - began < 6.0
    assert len(starts) >= 3  # retried, not given up at the first refusal
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert max(gaps) <= 2.0 + 1.0  # the backoff is capped (plus the attempt's own time)
