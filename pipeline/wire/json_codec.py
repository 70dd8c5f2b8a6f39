"""Strict JSON reading and byte-exact writing per WIRE_FORMAT.md §3–§4.

The stdlib parser is used for reading because it lets us see duplicate keys
(via ``object_pairs_hook``) and reject NaN/Infinity literals; models decide
whether a duplicate is fatal, because only duplicated *named* keys are (§3.2).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

__all__ = [
    "DupDict",
    "WireDecodeError",
    "dumps",
    "format_float",
    "loads",
]

_U64_MAX = 2**64 - 1
_I64_MIN = -(2**63)


class WireDecodeError(ValueError):
    """The bytes are not a JSON document we accept (syntax, encoding, literals)."""

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


class DupDict(dict):  # type: ignore[type-arg]
    """A JSON object that repeated some keys; the last value was kept (§3.2)."""

    duplicate_keys: frozenset[str] = frozenset()


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    dups: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            dups.add(key)
        seen.add(key)
    out = DupDict(obj)
    out.duplicate_keys = frozenset(dups)
    return out


def _reject_constant(name: str) -> Any:
    raise WireDecodeError(f"non-finite number literal {name} is not JSON")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


_SPACED_KEY_END = re.compile(rb'"\s+:')


def _loads_fast(raw: bytes) -> Any:
    """orjson when the bytes provably hold no duplicate keys; ``_SLOW`` otherwise.

    Without any backslash no string can contain a quote, so every ``":`` ends a
    key: if re-serialising the parsed value keeps as many of them, no key was
    repeated. orjson already rejects invalid UTF-8 and NaN/Infinity literals;
    anything unusual (escapes, spaced colons, huge integers, errors) takes the
    stdlib path, which explains itself precisely.
    """
    if b"\\" in raw or _SPACED_KEY_END.search(raw):
        return _SLOW
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _SLOW
    if raw.count(b'":') != orjson.dumps(value).count(b'":'):
        return _SLOW
    return value


_SLOW = object()


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse one JSON document strictly: UTF-8 only, no NaN literals, no lone surrogates."""
    if isinstance(data, bytes):
        value = _loads_fast(data)
        if value is not _SLOW:
            return value
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireDecodeError(f"document is not valid UTF-8 at byte {exc.start}") from None
    else:
        text = data
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object_pairs,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as exc:
        raise WireDecodeError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if ("\\ud" in text or "\\uD" in text) and _has_lone_surrogate(value):
        raise WireDecodeError("lone surrogate escape in a string")
    return value


def format_float(x: float) -> str:
    """Shortest round-trip digits in the reference layout (§4.3)."""
    if not math.isfinite(x):
        return "null"
    text = repr(float(x))
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    exp = int(exponent)
    if exp == -5:
        negative = mantissa.startswith("-")
        digits = mantissa.lstrip("-").replace(".", "")
        return ("-" if negative else "") + "0.0000" + digits
    return f"{mantissa}e{exp}"


_encode_str = json.JSONEncoder(ensure_ascii=False).encode


def normalize_any_json(value: Any) -> Any:
    """Any-JSON values: sort object keys, turn out-of-range integers into floats (§3.6, §4.7)."""
    if isinstance(value, dict):
        return {k: normalize_any_json(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [normalize_any_json(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not _I64_MIN <= value <= _U64_MAX:
        return float(value)
    return value


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(format_float(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for k, v in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(str(k)))
            out.append(":")
            _write(v, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _write(v, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as wire JSON")


_POSITIVE_EXPONENT = re.compile(rb"([0-9])e\+")


def dumps(value: Any) -> str:
    """Compact JSON text with reference float formatting; dict order is kept as given.

    orjson writes floats with the reference layout's digits and notation except for
    positive exponents (``1e+16`` where the reference writes ``1e16``). Those are
    rewritten, and the rewrite is kept only if it changed no string (parsing both
    gives the same value); otherwise, and for anything orjson refuses, our own
    writer runs (~20 times slower). tests/unit/wire/test_wire_codec.py compares the two.
    """
    try:
        raw = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return _dumps_reference(value)
    if b"e+" in raw:
        rewritten = _POSITIVE_EXPONENT.sub(rb"\1e", raw)
        if orjson.loads(rewritten) != orjson.loads(raw):
            return _dumps_reference(value)
        raw = rewritten
    return raw.decode("utf-8")


def _dumps_reference(value: Any) -> str:
    out: list[str] = []
    _write(value, out)
    return "".join(out)
