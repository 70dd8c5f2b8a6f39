"""Metrics models of WIRE_FORMAT.md §5 (meaning: SEED_DATA_MODELS.md, "Metrics Aggregation").

Also home of :class:`TimeRange` (§5.1), which §6 to §9 import from here, and of
:class:`CodeBuiltModel`, the base for models whose constructor fills values that
stay required on read (§3.1 "constructor defaults").
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, TypeAdapter

from pipeline.models.base import F64, OMIT, U32, U64, Str, Timestamp, WireModel
from pipeline.wire.json_codec import DupDict, loads

__all__ = [
    "CODE_CONTEXT",
    "AggregatedMetric",
    "AggregationFunction",
    "CodeBuiltModel",
    "ComponentMetric",
    "CompositeMetric",
    "CounterMetric",
    "CounterValues",
    "CrossModuleMetrics",
    "GaugeMetric",
    "GaugeValues",
    "HistogramBucket",
    "HistogramMetric",
    "Metric",
    "MetricQuery",
    "MetricRollup",
    "MetricValues",
    "StatType",
    "StatisticalMeasures",
    "SummaryMetric",
    "TimeRange",
    "TimeWindow",
    "metric_from_wire",
    "metric_values_from_wire",
    "reject_duplicate_keys_of",
]

CODE_CONTEXT: dict[str, Any] = {"built_in_code": True}
"""Validation context of Python constructors; reading JSON validates without it."""


class CodeBuiltModel(WireModel):
    """A wire model whose Python constructor may fill keys that are required on read.

    Pydantic normally routes ``model_validate`` (and so every JSON read, including
    nested ones) through a custom ``__init__``. Marking ``__init__`` as the base
    init keeps reads on the plain validator, so ``_code_defaults`` only apply to
    objects built in code, and the constructor can pass :data:`CODE_CONTEXT` to
    validators that must tell code values from wire values (FieldValue, §6.4).
    """

    _code_defaults: ClassVar[dict[str, Callable[[], Any]]] = {}

    def __init__(self, /, **data: Any) -> None:
        for key, make in self._code_defaults.items():
            if key not in data:
                data[key] = make()
        __tracebackhide__ = True
        self.__pydantic_validator__.validate_python(data, self_instance=self, context=CODE_CONTEXT)

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


def reject_duplicate_keys_of(*shapes: type[WireModel]) -> BeforeValidator:
    """For untagged unions: a repeated key that any shape names is an error (§3.2).

    Each shape's own check only sees its own named keys, so without this a repeated
    ``rate`` would silently turn a counter into a gauge, and a repeated
    ``latency_ms`` a performance FieldSet into a security one.
    """
    named = frozenset().union(*(shape.wire_keys() for shape in shapes))

    def check(data: Any) -> Any:
        if isinstance(data, DupDict):
            repeated = sorted(data.duplicate_keys & named)
            if repeated:
                raise ValueError(f"duplicate key {repeated[0]!r} in object")
        return data

    return BeforeValidator(check)


# --- §5.1 TimeWindow, TimeRange ------------------------------------------------------------


class TimeWindow(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """Aggregation window; only these snake_case values are valid on the wire."""

    one_minute = "one_minute"
    five_minutes = "five_minutes"
    fifteen_minutes = "fifteen_minutes"
    one_hour = "one_hour"
    six_hours = "six_hours"
    one_day = "one_day"
    one_week = "one_week"
    one_month = "one_month"

    @property
    def seconds(self) -> int:
        """Window length in seconds (a month is 30 days)."""
        return _WINDOW_SECONDS[self.value]

    @property
    def label(self) -> str:
        """Short display label: ``1m`` … ``1M`` (``1M`` is a month, ``1m`` a minute)."""
        return _WINDOW_LABELS[self.value]

    @classmethod
    def from_label(cls, label: str) -> TimeWindow:
        """The window of a short label such as ``"5m"`` (case-sensitive)."""
        for value, known in _WINDOW_LABELS.items():
            if known == label:
                return cls(value)
        raise ValueError(
            f"unknown time window label {label!r}; expected one of "
            + ", ".join(_WINDOW_LABELS.values())
        )


_WINDOW_SECONDS = {
    "one_minute": 60,
    "five_minutes": 300,
    "fifteen_minutes": 900,
    "one_hour": 3_600,
    "six_hours": 21_600,
    "one_day": 86_400,
    "one_week": 604_800,
    "one_month": 2_592_000,
}
_WINDOW_LABELS = {
    "one_minute": "1m",
    "five_minutes": "5m",
    "fifteen_minutes": "15m",
    "one_hour": "1h",
    "six_hours": "6h",
    "one_day": "1d",
    "one_week": "1w",
    "one_month": "1M",
}


class TimeRange(WireModel):
    start: Timestamp
    end: Timestamp


# --- §5.2 StatisticalMeasures ----------------------------------------------------------------


def _zero() -> float:
    return 0.0


def _zero_count() -> int:
    return 0


class StatisticalMeasures(CodeBuiltModel):
    """All keys but ``stddev`` are required on read; ``StatisticalMeasures()`` is all zero."""

    avg: F64
    min: F64
    max: F64
    p50: F64
    p95: F64
    p99: F64
    stddev: Annotated[F64 | None, OMIT] = None
    count: U64
    sum: F64

    _code_defaults: ClassVar[dict[str, Callable[[], Any]]] = {
        "avg": _zero,
        "min": _zero,
        "max": _zero,
        "p50": _zero,
        "p95": _zero,
        "p99": _zero,
        "count": _zero_count,
        "sum": _zero,
    }


# --- §5.3 Metric (tag key metric_type) -------------------------------------------------------


class HistogramBucket(WireModel):
    upper_bound: F64
    count: U64

    def to_wire_obj(self) -> dict[str, Any]:
        """Two plain numbers: the generic writer costs more than the rest of a histogram."""
        return {"upper_bound": self.upper_bound, "count": self.count}


def _tag(value: str) -> dict[str, Callable[[], Any]]:
    return {"metric_type": lambda: value}


class CounterMetric(CodeBuiltModel):
    metric_type: Literal["counter"]
    name: Str
    value: U64
    rate: Annotated[F64 | None, OMIT] = None
    tags: dict[str, Str] = Field(default_factory=dict)
    timestamp: Timestamp

    _code_defaults: ClassVar[dict[str, Callable[[], Any]]] = _tag("counter")


class GaugeMetric(CodeBuiltModel):
    metric_type: Literal["gauge"]
    name: Str
    value: F64
    previous_value: Annotated[F64 | None, OMIT] = None
    tags: dict[str, Str] = Field(default_factory=dict)
    timestamp: Timestamp

    _code_defaults: ClassVar[dict[str, Callable[[], Any]]] = _tag("gauge")


class HistogramMetric(CodeBuiltModel):
    metric_type: Literal["histogram"]
    name: Str
    stats: StatisticalMeasures
    buckets: list[HistogramBucket]
    tags: dict[str, Str] = Field(default_factory=dict)
    timestamp: Timestamp

    _code_defaults: ClassVar[dict[str, Callable[[], Any]]] = _tag("histogram")


class SummaryMetric(CodeBuiltModel):
    metric_type: Literal["summary"]
    name: Str
    stats: StatisticalMeasures
    percentiles: Annotated[dict[str, F64] | None, OMIT] = None
    tags: dict[str, Str] = Field(default_factory=dict)
    timestamp: Timestamp

    _code_defaults: ClassVar[dict[str, Callable[[], Any]]] = _tag("summary")


Metric = Annotated[
    CounterMetric | GaugeMetric | HistogramMetric | SummaryMetric,
    Field(discriminator="metric_type"),
]
"""A metric, tagged by ``metric_type`` (written first; the tag is required on read)."""

_METRIC: TypeAdapter[Metric] = TypeAdapter(Metric)


def metric_from_wire(data: bytes | bytearray | str) -> Metric:
    """Read one Metric document (any of the four kinds)."""
    return _METRIC.validate_python(loads(data))


# --- §5.4 AggregatedMetric and the untagged MetricValues -------------------------------------


class CounterValues(WireModel):
    """Counter shape of MetricValues: both keys required, ``value`` a u64."""

    value: U64
    rate: F64


class GaugeValues(WireModel):
    """Gauge shape of MetricValues: ``delta`` is written as ``null`` when unset."""

    value: F64
    delta: F64 | None = None


MetricValues = Annotated[
    StatisticalMeasures | CounterValues | GaugeValues,
    Field(union_mode="left_to_right"),
    reject_duplicate_keys_of(StatisticalMeasures, CounterValues, GaugeValues),
]
"""Untagged: read as stats, else counter, else gauge; the first shape that fits wins (§5.4)."""

_METRIC_VALUES: TypeAdapter[MetricValues] = TypeAdapter(MetricValues)


def metric_values_from_wire(data: bytes | bytearray | str) -> MetricValues:
    """Read a bare MetricValues object (the value of ``AggregatedMetric.values``)."""
    return _METRIC_VALUES.validate_python(loads(data))


class AggregatedMetric(WireModel):
    name: Str
    window: TimeWindow
    window_start: Timestamp
    window_end: Timestamp
    values: MetricValues
    tags: dict[str, Str] = Field(default_factory=dict)


# --- §5.5 Composite and cross-module metrics -------------------------------------------------


class ComponentMetric(WireModel):
    name: Str
    source_module: Str
    value: F64
    weight: F64 | None = None


class CompositeMetric(WireModel):
    metric_id: Str
    name: Str
    description: Str
    source_modules: list[Str]
    components: list[ComponentMetric]
    value: F64
    formula: Str
    window: TimeWindow
    timestamp: Timestamp


class CrossModuleMetrics(WireModel):
    cost_per_request: F64 | None = None
    error_adjusted_throughput: F64 | None = None
    compliance_weighted_performance: F64 | None = None
    security_adjusted_cost_efficiency: F64 | None = None
    system_health_score: F64 | None = None


# --- §5.6 MetricQuery ------------------------------------------------------------------------


class StatType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    avg = "avg"
    min = "min"
    max = "max"
    p50 = "p50"
    p95 = "p95"
    p99 = "p99"
    stddev = "stddev"
    count = "count"
    sum = "sum"
    rate = "rate"


class MetricQuery(WireModel):
    metric_name: Str
    time_range: TimeRange
    window: TimeWindow | None = None
    tag_filters: dict[str, Str] = Field(default_factory=dict)
    include_stats: list[StatType] = Field(default_factory=list)
    group_by: list[Str] = Field(default_factory=list)


# --- §5.7 MetricRollup -----------------------------------------------------------------------


class AggregationFunction(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """Rollup aggregation; not the time-series function of §6.6."""

    avg = "avg"
    sum = "sum"
    min = "min"
    max = "max"
    last = "last"
    first = "first"


class MetricRollup(WireModel):
    source_window: TimeWindow
    target_window: TimeWindow
    aggregation: AggregationFunction
    retention_days: U32
