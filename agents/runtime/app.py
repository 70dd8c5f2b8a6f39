"""The Faust application: one per worker process, configured from HUB_* variables."""

from __future__ import annotations

import gc
import os

import faust

from agents.runtime.kafka_clients import faust_credentials
from agents.runtime.settings import load_settings
from pipeline.wire.topics import load_catalogue

settings = load_settings()
catalogue = load_catalogue(prefix=settings.topic_prefix, app_id=settings.app_id)

os.makedirs(settings.data_dir, exist_ok=True)

# The hot path allocates a few short-lived objects per event and keeps none: collect
# the young generation every 50,000 allocations instead of 700 (measured in
# docs/BENCHMARKS.md); cycles are still collected.
gc.set_threshold(50_000, 20, 20)

app = faust.App(
    settings.app_id,
    broker=settings.broker_url,
    broker_credentials=faust_credentials(settings),
    datadir=settings.data_dir,
    store="rocksdb://",
    web_enabled=False,
    topic_replication_factor=1,
    topic_allow_declare=True,
    consumer_auto_offset_reset="earliest",
    producer_max_request_size=settings.max_message_bytes + 65536,
    broker_commit_every=1000,
    broker_commit_interval=1.0,
    # The agents hold messages unacked on purpose (open windows, partial batches);
    # waiting for them on a rebalance would stall it until the broker gives up.
    # A new owner replays them from the committed offset instead.
    stream_wait_empty=False,
    # A worker that died is noticed after this many seconds, not faust's 60.
    broker_session_timeout=15.0,
    broker_heartbeat_interval=3.0,
    autodiscover=False,
)
