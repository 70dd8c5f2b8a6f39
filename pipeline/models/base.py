"""The base every wire model shares: strict scalar types, presence markers, exact writing.

Pydantic validates; writing is ours, because the wire format fixes key order,
omitted-vs-null optionals, float layout and sorted any-JSON objects (§4), which
``model_dump_json`` cannot express.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    StrictBool,
    StrictStr,
    WithJsonSchema,
    model_validator,
)

from pipeline.wire.json_codec import DupDict, dumps, loads, normalize_any_json
from pipeline.wire.scalars import format_timestamp, parse_timestamp

__all__ = [
    "ANY_JSON",
    "ANY_JSON_VALUES",
    "F64",
    "I64",
    "OMIT",
    "U8",
    "U16",
    "U32",
    "U64",
    "AnyJson",
    "Bool",
    "Str",
    "Timestamp",
    "Uuid",
    "WireModel",
    "to_wire_value",
]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


OMIT = _Marker("OMIT")
"""Field metadata: an optional key left out of the output when unset (``key?: T``)."""
ANY_JSON = _Marker("ANY_JSON")
"""Field metadata: the value is arbitrary JSON (objects written with sorted keys)."""
ANY_JSON_VALUES = _Marker("ANY_JSON_VALUES")
"""Field metadata: a typed map whose values are arbitrary JSON."""

U8 = Annotated[int, Strict(), Field(ge=0, le=2**8 - 1)]
U16 = Annotated[int, Strict(), Field(ge=0, le=2**16 - 1)]
U32 = Annotated[int, Strict(), Field(ge=0, le=2**32 - 1)]
U64 = Annotated[int, Strict(), Field(ge=0, le=2**64 - 1)]
I64 = Annotated[int, Strict(), Field(ge=-(2**63), le=2**63 - 1)]
F64 = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Str = StrictStr
Bool = StrictBool
Timestamp = Annotated[
    datetime,
    PlainValidator(parse_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Uuid = Annotated[UUID, Strict(False)]
"""Native (Rust) parsing: hyphenated, bare hex, braced and urn forms, any case (§3.5)."""
AnyJson = Annotated[Any, AfterValidator(normalize_any_json), ANY_JSON]


def to_wire_value(value: Any, any_json: bool = False) -> Any:
    """Turn a validated value into plain JSON data in wire layout."""
    if isinstance(value, WireModel):
        return value.to_wire_obj()
    if any_json:
        return normalize_any_json(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: to_wire_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire_value(v) for v in value]
    return value


_Plan = tuple[tuple[str, str, bool, int], ...]
_PLANS: dict[type, _Plan] = {}
_KEYS: dict[type, frozenset[str]] = {}


class WireModel(BaseModel):
    """A model that reads and writes exactly the JSON of WIRE_FORMAT.md."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=(), populate_by_name=True)

    @classmethod
    def _plan(cls) -> _Plan:
        """Per field: attribute, wire key, omit when unset, any-JSON mode (0, 1 value, 2 values)."""
        plan = _PLANS.get(cls)
        if plan is None:
            rows = []
            for name, info in cls.model_fields.items():
                meta = info.metadata
                mode = 1 if ANY_JSON in meta else 2 if ANY_JSON_VALUES in meta else 0
                rows.append((name, info.alias or name, OMIT in meta, mode))
            plan = tuple(rows)
            _PLANS[cls] = plan
        return plan

    @classmethod
    def wire_keys(cls) -> frozenset[str]:
        keys = _KEYS.get(cls)
        if keys is None:
            keys = _KEYS[cls] = frozenset(key for _, key, _, _ in cls._plan())
        return keys

    @model_validator(mode="before")
    @classmethod
    def _reject_duplicate_named_keys(cls, data: Any) -> Any:
        if isinstance(data, DupDict):
            repeated = sorted(data.duplicate_keys & cls.wire_keys())
            if repeated:
                raise ValueError(f"duplicate key {repeated[0]!r} in object")
        return data

    def to_wire_obj(self) -> dict[str, Any]:
        """Plain dict in wire key order, ready for :func:`pipeline.wire.dumps`."""
        out: dict[str, Any] = {}
        for name, key, omit, mode in self._plan():
            value = getattr(self, name)
            if value is None:
                if not omit:
                    out[key] = None
                continue
            if mode == 2:
                out[key] = {k: normalize_any_json(v) for k, v in value.items()}
            else:
                out[key] = to_wire_value(value, any_json=mode == 1)
        extra = self.__pydantic_extra__
        if extra:
            for key, value in extra.items():
                if key in out or key in self.wire_keys():
                    raise ValueError(f"extra key {key!r} repeats a named key; refusing to write")
                out[key] = self._extra_to_wire(value)
        return out

    def _extra_to_wire(self, value: Any) -> Any:
        """Catch-all extras are written as any JSON unless a model says otherwise."""
        return normalize_any_json(to_wire_value(value))

    def to_wire(self) -> str:
        return dumps(self.to_wire_obj())

    def to_wire_bytes(self) -> bytes:
        return self.to_wire().encode("utf-8")

    @classmethod
    def from_wire(cls, data: bytes | bytearray | str) -> Self:
        """Parse and validate one JSON document (raises WireDecodeError or ValidationError)."""
        return cls.model_validate(loads(data))
