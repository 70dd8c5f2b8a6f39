"""Time-series models of WIRE_FORMAT.md §6 (meaning: SEED_DATA_MODELS.md, "Time-Series").

Every model here is a :class:`~pipeline.models.metrics.CodeBuiltModel`: reading JSON
turns every number of a FieldValue into a float (§6.4), while values built in Python
keep their integers and are written as integers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    TypeAdapter,
    ValidationInfo,
)

from pipeline.models.base import F64, I64, OMIT, U8, U32, U64, Bool, Str, Timestamp
from pipeline.models.metrics import (
    CODE_CONTEXT,
    CodeBuiltModel,
    TimeRange,
    reject_duplicate_keys_of,
)
from pipeline.wire.json_codec import loads

__all__ = [
    "Aggregation",
    "ContinuousQuery",
    "CostFields",
    "DownsampleConfig",
    "FieldSet",
    "FieldSetShape",
    "FieldValue",
    "FillKind",
    "FillStrategy",
    "FillValue",
    "GenericFields",
    "GovernanceFields",
    "IndexConfig",
    "Percentile",
    "PerformanceFields",
    "QueryMetadata",
    "RetentionPolicy",
    "SecurityFields",
    "TagSet",
    "TimeRange",
    "TimeSeries",
    "TimeSeriesBatch",
    "TimeSeriesPoint",
    "TimeSeriesQuery",
    "TimeSeriesResult",
    "TsAggregationFunction",
    "TsAggregationName",
    "TsDataPoint",
    "field_set_from_wire",
]

_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1
_CODE_FLAG = next(iter(CODE_CONTEXT))


# --- §6.4 FieldValue -------------------------------------------------------------------------


def _built_in_code(info: ValidationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and bool(context.get(_CODE_FLAG))


def _field_value(value: Any, info: ValidationInfo) -> float | int | str | bool:
    """Float, i64, u64, string or bool. JSON numbers all read as floats (§6.4)."""
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        if _built_in_code(info):
            if not _I64_MIN <= value <= _U64_MAX:
                raise ValueError(f"integer field value {value} is outside the i64/u64 range")
            return value
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"number {value} is too large for a float") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("field values must be finite numbers")
        return value
    raise ValueError(
        f"a field value must be a number, a string or a bool, not {type(value).__name__}"
        + (" (null is not allowed)" if value is None else "")
    )


FieldValue = Annotated[float | int | str | bool, PlainValidator(_field_value)]
"""Untagged scalar of the generic FieldSet and of time-series DataPoint values."""


# --- §6.2 TagSet -----------------------------------------------------------------------------


class TagSet(CodeBuiltModel):
    """Named tags, then custom tags as extra keys at the same level (string values only)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Str]

    source_module: Str
    environment: Str
    region: Annotated[Str | None, OMIT] = None
    model_id: Annotated[Str | None, OMIT] = None
    service: Annotated[Str | None, OMIT] = None
    version: Annotated[Str | None, OMIT] = None

    @property
    def custom(self) -> dict[str, str]:
        """The custom tags (every key other than the six named ones)."""
        return self.__pydantic_extra__ or {}


# --- §6.3 FieldSet ---------------------------------------------------------------------------


class FieldSetShape(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """Which FieldSet shape a value was read as (or built with)."""

    performance = "performance"
    security = "security"
    cost = "cost"
    governance = "governance"
    generic = "generic"


class _NumericFields(CodeBuiltModel):
    """Named optional keys, then extra keys whose values are floats."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, F64]
    SHAPE: ClassVar[FieldSetShape]

    @property
    def shape(self) -> FieldSetShape:
        return self.SHAPE

    @property
    def custom(self) -> dict[str, float]:
        """The extra (unnamed) fields."""
        return self.__pydantic_extra__ or {}

    def as_dict(self) -> dict[str, float | int]:
        """Set named fields in write order, then the extra fields."""
        named = {k: v for k, v in self if v is not None and k in type(self).model_fields}
        return {**named, **self.custom}


class PerformanceFields(_NumericFields):
    __pydantic_extra__: dict[str, F64]
    SHAPE: ClassVar[FieldSetShape] = FieldSetShape.performance

    latency_ms: Annotated[F64 | None, OMIT] = None
    throughput: Annotated[F64 | None, OMIT] = None
    error_count: Annotated[U64 | None, OMIT] = None
    success_count: Annotated[U64 | None, OMIT] = None
    token_count: Annotated[U64 | None, OMIT] = None


class SecurityFields(_NumericFields):
    __pydantic_extra__: dict[str, F64]
    SHAPE: ClassVar[FieldSetShape] = FieldSetShape.security

    threat_count: Annotated[U64 | None, OMIT] = None
    severity_score: Annotated[F64 | None, OMIT] = None
    blocked_count: Annotated[U64 | None, OMIT] = None
    vulnerability_count: Annotated[U64 | None, OMIT] = None


class CostFields(_NumericFields):
    __pydantic_extra__: dict[str, F64]
    SHAPE: ClassVar[FieldSetShape] = FieldSetShape.cost

    cost_usd: Annotated[F64 | None, OMIT] = None
    token_cost: Annotated[F64 | None, OMIT] = None
    utilization_percent: Annotated[F64 | None, OMIT] = None


class GovernanceFields(_NumericFields):
    __pydantic_extra__: dict[str, F64]
    SHAPE: ClassVar[FieldSetShape] = FieldSetShape.governance

    violation_count: Annotated[U64 | None, OMIT] = None
    compliance_score: Annotated[F64 | None, OMIT] = None
    audit_count: Annotated[U64 | None, OMIT] = None


class GenericFields(CodeBuiltModel):
    """No named keys; every key is a FieldValue (number, string or bool, never null)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, FieldValue]
    SHAPE: ClassVar[FieldSetShape] = FieldSetShape.generic

    @property
    def shape(self) -> FieldSetShape:
        return self.SHAPE

    @property
    def custom(self) -> dict[str, float | int | str | bool]:
        return self.__pydantic_extra__ or {}

    def as_dict(self) -> dict[str, float | int | str | bool]:
        return dict(self.custom)

    def _extra_to_wire(self, value: Any) -> Any:
        return value  # ints stay ints, floats are laid out by the writer (§6.4)


FieldSet = Annotated[
    PerformanceFields | SecurityFields | CostFields | GovernanceFields | GenericFields,
    Field(union_mode="left_to_right"),
    reject_duplicate_keys_of(PerformanceFields, SecurityFields, CostFields, GovernanceFields),
]
"""Untagged: the first of performance, security, cost, governance, generic that fits (§6.3)."""

_FIELD_SET: TypeAdapter[FieldSet] = TypeAdapter(FieldSet)


def field_set_from_wire(data: bytes | bytearray | str) -> FieldSet:
    """Read a bare FieldSet object; ``.shape`` tells which shape won."""
    return _FIELD_SET.validate_python(loads(data))


# --- §6.1 TimeSeriesPoint --------------------------------------------------------------------


class TimeSeriesPoint(CodeBuiltModel):
    measurement: Str
    timestamp: Timestamp
    tags: TagSet
    fields: FieldSet
    metadata: Annotated[dict[str, Str] | None, OMIT] = None


# --- §6.5 Retention and indexing -------------------------------------------------------------


class DownsampleConfig(CodeBuiltModel):
    after_days: U32
    resolution_minutes: U32


def _default_downsampling() -> list[DownsampleConfig]:
    return [
        DownsampleConfig(after_days=7, resolution_minutes=5),
        DownsampleConfig(after_days=30, resolution_minutes=60),
        DownsampleConfig(after_days=90, resolution_minutes=1440),
    ]


class RetentionPolicy(CodeBuiltModel):
    """All keys required on read; ``RetentionPolicy()`` is the default policy of §6.5."""

    name: Str
    full_resolution_days: U32
    downsample_configs: list[DownsampleConfig]
    max_retention_days: U32
    shard_duration_hours: U32

    _code_defaults: ClassVar[dict[str, Callable[[], Any]]] = {
        "name": lambda: "default",
        "full_resolution_days": lambda: 7,
        "downsample_configs": _default_downsampling,
        "max_retention_days": lambda: 365,
        "shard_duration_hours": lambda: 24,
    }

    @classmethod
    def default(cls) -> RetentionPolicy:
        """7 days full resolution, then 5 min, hourly after 30 days, daily after 90; 365 max."""
        return cls()


class IndexConfig(CodeBuiltModel):
    """All keys required on read; ``IndexConfig()`` is the default of §6.5."""

    measurement: Str
    indexed_tags: list[Str]
    shard_keys: list[Str]
    time_partitioning: Bool
    partition_interval_hours: U32

    _code_defaults: ClassVar[dict[str, Callable[[], Any]]] = {
        "measurement": lambda: "",
        "indexed_tags": lambda: ["source_module", "environment", "model_id"],
        "shard_keys": lambda: ["source_module", "environment"],
        "time_partitioning": lambda: True,
        "partition_interval_hours": lambda: 24,
    }

    @classmethod
    def default(cls) -> IndexConfig:
        return cls()


# --- §6.6 Queries ----------------------------------------------------------------------------


class TsAggregationName(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """The plain-string time-series aggregation functions."""

    mean = "mean"
    sum = "sum"
    min = "min"
    max = "max"
    count = "count"
    first = "first"
    last = "last"
    stddev = "stddev"
    median = "median"


class Percentile(CodeBuiltModel):
    """``{"percentile": u8}``; a one-key enum value, so other keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    percentile: U8


def _name_or_object(value: Any) -> str | None:
    """Strings (and str enums) are plain names; objects are the one-key forms."""
    if isinstance(value, str):
        return "name"
    if isinstance(value, (dict, BaseModel)):
        return "object"
    return None


TsAggregationFunction = Annotated[
    Annotated[TsAggregationName, Tag("name")] | Annotated[Percentile, Tag("object")],
    Discriminator(
        _name_or_object,
        custom_error_type="ts_aggregation_function",
        custom_error_message='expected an aggregation name or {"percentile": 0-255}',
    ),
]
"""A time-series aggregation: a TsAggregationName string or ``{"percentile": n}``."""


class FillKind(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """String fill strategies; ``FillKind.null`` is the string ``"null"``, not JSON null."""

    null = "null"
    previous = "previous"
    linear = "linear"
    zero = "zero"


class FillValue(CodeBuiltModel):
    """``{"value": i64}``; a one-key enum value, so other keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    value: I64


FillStrategy = Annotated[
    Annotated[FillKind, Tag("name")] | Annotated[FillValue, Tag("object")],
    Discriminator(
        _name_or_object,
        custom_error_type="fill_strategy",
        custom_error_message=('expected "null", "previous", "linear", "zero" or {"value": <i64>}'),
    ),
]
"""A FillKind string or ``{"value": n}``. JSON ``null`` is not a FillStrategy (it means unset)."""


class Aggregation(CodeBuiltModel):
    function: TsAggregationFunction
    window: Str
    fields: list[Str]


class TimeSeriesQuery(CodeBuiltModel):
    measurement: Str
    time_range: TimeRange
    tag_filters: dict[str, Str] = Field(default_factory=dict)
    select_fields: list[Str] = Field(default_factory=list)
    aggregation: Annotated[Aggregation | None, OMIT] = None
    group_by: list[Str] = Field(default_factory=list)
    fill: Annotated[FillStrategy | None, OMIT] = None
    limit: Annotated[U64 | None, OMIT] = None
    offset: Annotated[U64 | None, OMIT] = None


# --- §6.7 Other time-series objects ----------------------------------------------------------


class TimeSeriesBatch(CodeBuiltModel):
    batch_id: Str
    measurement: Str
    points: list[TimeSeriesPoint]
    created_at: Timestamp


class TsDataPoint(CodeBuiltModel):
    """Time-series DataPoint (§6.7); not the API DataPoint of §9.5."""

    timestamp: Timestamp
    values: dict[str, FieldValue]


class TimeSeries(CodeBuiltModel):
    tags: dict[str, Str]
    points: list[TsDataPoint]


class QueryMetadata(CodeBuiltModel):
    execution_time_ms: U64
    point_count: U64
    series_count: U64
    truncated: Bool
    warnings: list[Str] = Field(default_factory=list)


class TimeSeriesResult(CodeBuiltModel):
    measurement: Str
    series: list[TimeSeries]
    metadata: QueryMetadata


class ContinuousQuery(CodeBuiltModel):
    query_id: Str
    name: Str
    source_measurement: Str
    destination_measurement: Str
    query: TimeSeriesQuery
    interval: Str
    enabled: Bool
