"""Wire-format primitives shared by every model: JSON codec, timestamps, uuids."""

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
