"""Turn pydantic errors into precise (JSON path, reason) pairs users can act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from pipeline.wire.json_codec import WireDecodeError


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """Why a document was rejected; ``path`` is dotted JSON, e.g. ``payload.data.ttft_ms``."""

    path: str
    reason: str
    whole_float_for_integer: bool = field(default=False, compare=False)
    """The value is an integer written as a float (``100.0``): the wire format takes only
    integer literals, which JSON Schema cannot say (to it ``100.0`` is an integer)."""

    def __str__(self) -> str:
        return f"{self.path or '<document>'}: {self.reason}"


def _json_path(loc: tuple[int | str, ...], document: Any, missing: bool) -> str:
    """Keep only loc parts that exist in the input; drops pydantic's union tag names."""
    parts: list[str] = []
    node = document
    last = len(loc) - 1
    for i, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            parts.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            parts.append(f"[{part}]")
            node = node[part]
        elif missing and i == last and isinstance(node, dict) and _is_missing_key(part, node):
            parts.append(part)
            node = None
        # else: a union branch label or tag value; not part of the document's path
    return ".".join(parts).replace(".[", "[")


def _is_missing_key(part: int | str, node: dict[str, Any]) -> bool:
    """A trailing loc part absent from the input is a missing field, unless it is a union tag."""
    tag_values = {v for v in node.values() if isinstance(v, str)}
    return isinstance(part, str) and part not in tag_values


def _reason(error: Any) -> str:
    kind = error["type"]
    msg = str(error["msg"])
    if kind == "missing":
        return "required field is missing"
    if kind == "value_error" and msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return msg
    if "input" in error and kind not in ("model_type", "dict_type"):
        return f"{msg} (got {error['input']!r})"[:300]
    return msg


def issues_from_error(exc: Exception, document: Any = None) -> list[FieldIssue]:
    """Explain why a document was rejected, one issue per offending field."""
    if isinstance(exc, WireDecodeError):
        return [FieldIssue(exc.path, exc.reason)]
    if isinstance(exc, ValidationError):
        found: list[FieldIssue] = []
        for error in exc.errors(include_url=False):
            missing = error["type"] == "missing"
            path = _json_path(tuple(error["loc"]), document, missing)
            issue = FieldIssue(path, _reason(error), _whole_float_for_integer(error))
            if issue not in found:
                found.append(issue)
        return found
    return [FieldIssue("", str(exc))]


def _whole_float_for_integer(error: Any) -> bool:
    """An integer field (or its ``None`` branch) given a float with no fraction."""
    value = error.get("input")
    whole = isinstance(value, float) and value.is_integer()
    return whole and (str(error["type"]).startswith("int") or error["type"] == "none_required")


def only_whole_floats_for_integers(issues: list[FieldIssue] | tuple[FieldIssue, ...]) -> bool:
    """Every issue is an integer spelled ``100.0``: the document matches the JSON Schema of
    its model and breaks only the wire format's integer-literal rule (HTTP 422, not 400)."""
    return bool(issues) and all(issue.whole_float_for_integer for issue in issues)
