"""`hub validate`: JSON Lines in, one line per invalid event, a summary, exit status."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TextIO

from pipeline.ingest.decode import IngestLimits, decode_message

_SCHEMA_ONLY = IngestLimits(
    max_message_bytes=2**62, max_future_skew_s=math.inf, max_past_age_s=math.inf
)


def validate_lines(lines: Iterable[bytes], out: TextIO) -> int:
    """Return 0 when every non-blank line is a valid event, else 1."""
    valid = invalid = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        decoded = decode_message(line.rstrip(b"\r\n"), now=0.0, limits=_SCHEMA_ONLY)
        valid += len(decoded.events)
        invalid += len(decoded.rejections)
        for rejection in decoded.rejections:
            where = f"line {number}"
            if rejection.batch_index is not None:
                where += f"[{rejection.batch_index}]"
            for issue in rejection.issues:
                print(f"{where}: {issue.path or '<document>'}: {issue.reason}", file=out)
    print(f"{valid} valid, {invalid} invalid", file=out)
    return 1 if invalid else 0
