"""Snapshots of a stage partition's state, as records of a compacted state topic.

A partition's state (a picklable object) and the input offset it has applied are
written together: the state, compressed and cut into chunks small enough for a Kafka
message, then a *manifest* naming the chunks' offsets, the applied offset and a
checksum. The manifest is written last, so a snapshot cut short by a crash is never
read: the previous manifest still names complete chunks (chunk keys carry the writer
and an alternating slot, so compaction keeps the chunks a live manifest names).
"""

from __future__ import annotations

import hashlib
import pickle
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

MANIFEST_KEY = b"manifest"
CHUNK_BYTES = 512 * 1024
"""Well under the broker's default message size (1 MiB)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    applied: int
    """The next input offset the state has not applied."""
    chunks: tuple[int, ...]
    """State-topic offsets of the chunks, in order."""
    sha256: str
    size: int

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "applied": self.applied,
                "chunks": self.chunks,
                "sha256": self.sha256,
                "size": self.size,
            }
        )

    @classmethod
    def from_bytes(cls, value: bytes) -> Manifest:
        raw = orjson.loads(value)
        return cls(
            int(raw["applied"]),
            tuple(int(o) for o in raw["chunks"]),
            raw["sha256"],
            int(raw["size"]),
        )


def encode_state(state: Any) -> tuple[str, int, list[bytes]]:
    """(sha256 hex of the compressed blob, its size, its chunks) for one state object."""
    blob = zlib.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), 1)
    chunks = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)]
    return hashlib.sha256(blob).hexdigest(), len(blob), chunks


def decode_state(manifest: Manifest, chunks: list[bytes]) -> Any:
    """The state a manifest names, from its chunks; ValueError if they do not add up."""
    blob = b"".join(chunks)
    if len(blob) != manifest.size or hashlib.sha256(blob).hexdigest() != manifest.sha256:
        raise ValueError("snapshot chunks do not match their manifest (size or checksum)")
    return pickle.loads(zlib.decompress(blob))  # our own state topic


def chunk_key(writer: str, slot: int, index: int) -> bytes:
    return f"chunk|{writer}|{slot}|{index}".encode()
