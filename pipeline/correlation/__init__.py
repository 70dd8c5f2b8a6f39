"""Incidents from alerts (root cause, impact), composite metrics, threshold rules
and causal chains of events.

May import ``pipeline.wire``, ``pipeline.models``, ``pipeline.windows``,
``pipeline.detection`` and ``pipeline.stages``; never ``agents``, Kafka or Redis.
"""
