"""Durable detection state: the detectors, rules, correlators and composite builder
checkpointed to the worker's data directory together with the metric offsets they
have applied (Flink-style: state and input position saved as one).

The detection task commits its Kafka offsets only right after a checkpoint, and skips
records below the checkpoint's offsets, so a restart (graceful or kill -9) resumes
warm and applies every metric result exactly once to the restored state. A
checkpoint from another version of the code, or a damaged one, is set aside with a
warning and detection warms up from scratch, as before.
"""

from __future__ import annotations

import copyreg
import logging
import os
import pickle
from pathlib import Path
from types import MappingProxyType
from typing import Any

log = logging.getLogger(__name__)

VERSION = 5
"""Bump when a detection class changes shape: older checkpoints are then ignored."""


def _mapping_proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


copyreg.pickle(MappingProxyType, lambda proxy: (_mapping_proxy, (dict(proxy),)))
"""Read-only config mappings (e.g. the health-score weights) are pickled as their dict."""


def save(path: Path, offsets: dict[str, int], state: dict[str, Any]) -> int:
    """Write atomically (temp file + rename); returns the bytes written."""
    blob = pickle.dumps({"version": VERSION, "offsets": dict(offsets), "state": state},
                        protocol=pickle.HIGHEST_PROTOCOL)  # fmt: skip
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        out.write(blob)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return len(blob)


def load(path: Path) -> tuple[dict[str, int], dict[str, Any]] | None:
    """(offsets, state) of the checkpoint, or None when there is none usable."""
    if not path.exists():
        return None
    try:
        with open(path, "rb") as src:
            saved = pickle.load(src)  # our own file, in our own data directory
        if saved.get("version") != VERSION:
            raise ValueError(f"version {saved.get('version')!r}, this code writes {VERSION}")
        return dict(saved["offsets"]), dict(saved["state"])
    except Exception as exc:  # any damage: keep the file for a post-mortem, start cold
        aside = path.with_suffix(".unusable")
        os.replace(path, aside)
        log.warning("detection checkpoint %s unusable (%s); moved to %s, warming up again",
                    path, exc, aside)  # fmt: skip
        return None
