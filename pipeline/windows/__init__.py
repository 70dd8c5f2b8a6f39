"""Event-time tumbling windows: alignment, the partition engine that closes them
(:meth:`pipeline.windows.engine.PartitionEngine._close`), t-digest sketches, results.

May import ``pipeline.wire``, ``pipeline.models`` and ``pipeline.ingest`` (points);
never ``agents``, Kafka or Redis.
"""
