"""Edge decoding and validation of events, and their normalisation to per-series points.

Owns the compiled latency scanner (``_batch_scan.c``), the msgspec decoders, the
ingest limits and the cardinality cap. May import ``pipeline.wire`` and
``pipeline.models``; never ``agents``, Kafka or Redis.
"""
