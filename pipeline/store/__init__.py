"""What the store holds and how it is read: the Redis key layout, time-series queries,
registry enrichment and dashboard configs, as pure logic (the Redis client is in
``agents``).

May import ``pipeline.wire`` and ``pipeline.models``.
"""
