"""Timestamp and uuid rules of WIRE_FORMAT.md §3.4–§3.5 and §4.5–§4.6."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

_TS = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)
_UUID = re.compile(
    r"(?:urn:uuid:)?(?:"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}"
    r"|\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}"
    r")",
    re.IGNORECASE,
)


def parse_timestamp(value: object) -> datetime:
    """RFC 3339 with a mandatory offset; converted to UTC, truncated to microseconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamp has no UTC offset; add 'Z' or '+HH:MM'")
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"timestamp {value.isoformat()} is out of range in UTC") from None
    if not isinstance(value, str):
        raise ValueError("timestamp must be an RFC 3339 string")
    match = _TS.fullmatch(value)
    if match is None:
        raise ValueError(
            f"invalid timestamp {value!r}: expected YYYY-MM-DDTHH:MM:SS[.fraction] "
            "followed by 'Z' or '+HH:MM'"
        )
    year, month, day, hour, minute, second, frac, offset = match.groups()
    micros = int((frac or "0").ljust(6, "0")[:6])
    if offset == "Z":
        tz = UTC
    else:
        sign = 1 if offset[0] == "+" else -1
        hours, mins = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or mins > 59:
            raise ValueError(f"invalid UTC offset {offset!r}")
        tz = timezone(sign * timedelta(hours=hours, minutes=mins))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz
        )
        return moment.astimezone(UTC)
    except ValueError as exc:
        raise ValueError(f"invalid timestamp {value!r}: {exc}") from None
    except OverflowError:
        # 0001-01-01T00:00:00+01:00 is in year 0 in UTC: not an error pydantic would turn
        # into a validation error by itself, so one such event would crash the reader.
        raise ValueError(f"invalid timestamp {value!r}: out of range in UTC") from None


def format_timestamp(value: datetime) -> str:
    """UTC with 'Z' and the shortest of 0, 3 or 6 fraction digits that is exact (§4.5)."""
    moment = value.astimezone(UTC) if value.tzinfo is not None else value
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    micros = moment.microsecond
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def parse_uuid(value: object) -> UUID:
    """Hyphenated, bare-hex, braced or urn forms, any case; version bits unchecked."""
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str) or _UUID.fullmatch(value) is None:
        raise ValueError(f"invalid uuid {value!r}: expected 8-4-4-4-12 hex digits")
    return UUID(value)
