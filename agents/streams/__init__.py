"""The hub's stream processors, Kafka wiring only (the logic is in ``pipeline``): ingest,
aggregation, detection, correlation, the sink into Redis and the chain assembler.

May import ``pipeline`` and ``agents.runtime``.
"""
