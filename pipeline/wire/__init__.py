"""Wire-format primitives shared by every model (JSON codec, timestamps, uuids), the topic
catalogue (topics.yaml) and the pre-encoded bytes of published results. Imports nothing of
the project but ``pipeline.models`` (result_wire)."""

from pipeline.wire.json_codec import DupDict, WireDecodeError, dumps, format_float, loads
from pipeline.wire.scalars import format_timestamp, parse_timestamp, parse_uuid

__all__ = [
    "DupDict",
    "WireDecodeError",
    "dumps",
    "format_float",
    "format_timestamp",
    "loads",
    "parse_timestamp",
    "parse_uuid",
]
