"""Time-series queries over the stored windows (pure): parsing, grouping, aggregating, filling.

The sink stores one ``values`` object per series, resolution and window (see
:mod:`pipeline.store.layout`). A query picks a stored resolution, one or more fields
of those values (``p95``, ``avg``, ``count`` ... of a stats metric, ``value``/``rate``
of a counter, ``value``/``delta`` of a gauge) and returns, per field:

* without ``aggregate``: one series per stored series (its tags), or
* with ``aggregate``: one series per ``group_by`` tag combination (all matching series
  in one group without ``group_by``), each point combining the values of the group's
  series that have a window at that start (cross-series, like InfluxQL's ``GROUP BY``).

Time buckets are the stored windows themselves: a 5-minute p95 comes from the merged
5-minute sketch, never from averaging 1-minute p95s. Gaps (windows without data) are
then filled by the fill strategy, and ``limit``/``offset`` page each series' points.
Every error is a :class:`QueryError` naming the parameter and what to send instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline.models.metrics import TimeRange, TimeWindow
from pipeline.models.timeseries import (
    Aggregation,
    FillKind,
    FillValue,
    Percentile,
    TimeSeriesQuery,
    TsAggregationName,
)

__all__ = [
    "COUNTER_FIELDS",
    "GAUGE_FIELDS",
    "KNOWN_FIELDS",
    "MAX_BUCKETS",
    "RESOLUTIONS",
    "STATS_FIELDS",
    "Aggregate",
    "Fill",
    "OutPoint",
    "OutSeries",
    "QueryConflict",
    "QueryError",
    "QueryOutput",
    "QuerySpec",
    "SeriesRows",
    "aggregate_values",
    "align_down",
    "auto_resolution",
    "fill_series",
    "parse_aggregate",
    "parse_csv",
    "parse_fill",
    "parse_resolution",
    "parse_tag_filters",
    "parse_time",
    "percentile",
    "run_query",
    "timeline",
]

STATS_FIELDS = ("avg", "min", "max", "p50", "p95", "p99", "stddev", "count", "sum")
COUNTER_FIELDS = ("value", "rate")
GAUGE_FIELDS = ("value", "delta")
KNOWN_FIELDS = frozenset(STATS_FIELDS + COUNTER_FIELDS + GAUGE_FIELDS)

RESOLUTIONS: dict[str, TimeWindow] = {
    "1m": TimeWindow.one_minute,
    "5m": TimeWindow.five_minutes,
    "15m": TimeWindow.fifteen_minutes,
    "1h": TimeWindow.one_hour,
    "6h": TimeWindow.six_hours,
    "1d": TimeWindow.one_day,
    "1w": TimeWindow.one_week,
    "30d": TimeWindow.one_month,
}
"""The resolutions the sink stores (the worker's windows), by the labels the CLI uses."""

MAX_BUCKETS = 20_000
"""Windows per series a query may span: bounds the work of fills and the response size."""

AUTO_TARGET_BUCKETS = 1_500
"""``resolution=auto`` picks the finest resolution giving at most this many windows."""


class QueryError(ValueError):
    """A bad query parameter: ``param`` is the query-string name, the message says what to do."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


class QueryConflict(QueryError):
    """Parameters each valid on its own (the OpenAPI schema admits them) that the query
    cannot answer together: an end before the start, a range of too many windows, a
    ``group_by`` without an aggregate, a field the metric does not have (HTTP 422)."""


# --- the accepted forms, as JSON Schema (the API's OpenAPI document uses these) -----------

MIN_TIME_MS = -62_135_596_800_000 + 86_400_000
"""0001-01-02T00:00:00Z: times are clamped into what a datetime can hold (a day of margin
for offsets)."""
MAX_TIME_MS = 253_402_300_799_999 - 86_400_000
RELATIVE_TIME_PATTERN = r"^(now|(now)?-[0-9]{1,5}(\.[0-9]{1,3})?(ms|s|m|h|d|w))$"
EPOCH_MS_PATTERN = r"^[0-9]{1,13}$"
TIME_SCHEMA: dict[str, object] = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "pattern": RELATIVE_TIME_PATTERN},
        {"type": "string", "pattern": EPOCH_MS_PATTERN},
    ],
    "description": "RFC 3339 with an offset, epoch milliseconds, `now`, `now-1h` or `-15m`",
}
TAG_FILTER_PATTERN = r"^[^:]*[^\s:][^:]*:.*$"
"""``key:value``: a key with a non-blank character, then ``:`` (the value may hold ``:``)."""
AGGREGATE_PATTERN = r"^(avg|mean|sum|min|max|count|median|stddev|p([0-9]|[1-9][0-9]|100))$"
FILL_PATTERN = r"^(none|null|previous|linear|zero|(value:)?-?[0-9]{1,18})$"


# --- parsing ---------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def _duration_ms(text: str) -> int | None:
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    return int(float(match.group(1)) * _UNIT_MS[match.group(2)])


def parse_time(param: str, text: str, now_ms: int) -> int:
    """Epoch ms of ``now``, ``now-1h``, ``-15m``, an RFC 3339 timestamp with offset, or epoch ms
    (clamped to years 1-9999)."""
    return min(max(_parse_time(param, text, now_ms), MIN_TIME_MS), MAX_TIME_MS)


def _parse_time(param: str, text: str, now_ms: int) -> int:
    raw = text.strip()
    if raw == "now":
        return now_ms
    for head in ("now-", "-"):
        if raw.startswith(head):
            span = _duration_ms(raw[len(head) :])
            if span is not None:
                return now_ms - span
    if raw.isdigit():
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise QueryError(
            param,
            f"{param}={text!r} is not a time; give an RFC 3339 timestamp with an offset "
            "(2026-11-28T10:00:00Z), epoch milliseconds, 'now', or a relative time "
            "such as 'now-1h' or '-15m'",
        )
    return int(moment.timestamp() * 1000)


def parse_resolution(text: str | None, start_ms: int, end_ms: int) -> TimeWindow:
    """A stored resolution by label (``5m``) or spec name (``five_minutes``); ``auto`` picks one."""
    if text is None or text.strip() in ("", "auto"):
        return auto_resolution(start_ms, end_ms)
    raw = text.strip()
    if raw in RESOLUTIONS:
        return RESOLUTIONS[raw]
    if raw == "1M":
        return TimeWindow.one_month
    try:
        return TimeWindow(raw)
    except ValueError:
        pass
    raise QueryError(
        "resolution",
        f"resolution={text!r} is not a stored resolution; use one of "
        f"{', '.join(RESOLUTIONS)} (or 'auto')",
    )


def auto_resolution(start_ms: int, end_ms: int, target: int = AUTO_TARGET_BUCKETS) -> TimeWindow:
    """The finest stored resolution that spans ``[start, end)`` in at most ``target`` windows."""
    span_ms = max(end_ms - start_ms, 1)
    for window in RESOLUTIONS.values():
        if span_ms / (window.seconds * 1000) <= target:
            return window
    return TimeWindow.one_month


def parse_csv(values: Iterable[str]) -> list[str]:
    """Repeated and/or comma-separated parameters, in order, without blanks or repeats."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            item = part.strip()
            if item and item not in out:
                out.append(item)
    return out


def parse_tag_filters(values: Iterable[str]) -> dict[str, str]:
    """``tag=key:value`` (repeatable); the value may itself contain ``:``."""
    filters: dict[str, str] = {}
    for raw in values:
        key, sep, value = raw.partition(":")
        if not sep or not key.strip():
            raise QueryError(
                "tag", f"tag={raw!r} needs the form key:value, e.g. tag=model_id:gpt-4o"
            )
        key = key.strip()
        if key in filters and filters[key] != value:
            raise QueryConflict(
                "tag", f"tag key {key!r} is given twice with different values; give it once"
            )
        filters[key] = value
    return filters


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A cross-series function: a spec :class:`TsAggregationName` or a percentile."""

    name: str
    """``mean``, ``sum``, ``min``, ``max``, ``count``, ``median``, ``stddev`` or ``percentile``."""
    q: float | None = None

    def to_spec(self) -> TsAggregationName | Percentile:
        if self.name == "percentile":
            return Percentile(percentile=int(self.q or 0))
        return TsAggregationName(self.name)

    @property
    def label(self) -> str:
        return f"p{self.q:g}" if self.name == "percentile" else self.name


_AGGREGATES = ("mean", "sum", "min", "max", "count", "median", "stddev")
_PERCENTILE = re.compile(r"(?:p|percentile[:(]?)(\d{1,3})\)?")


def parse_aggregate(text: str | None) -> Aggregate | None:
    """``avg``/``mean``, ``sum``, ``min``, ``max``, ``count``, ``median``, ``stddev``, ``pNN``."""
    if text is None or not text.strip():
        return None
    raw = text.strip().lower()
    if raw == "avg":
        raw = "mean"
    if raw in _AGGREGATES:
        return Aggregate(raw)
    match = _PERCENTILE.fullmatch(raw)
    if match is not None and 0 <= int(match.group(1)) <= 100:
        return Aggregate("percentile", float(match.group(1)))
    hint = ""
    if raw in ("first", "last"):
        hint = (
            " (first/last order points in time, but the series of a group share each "
            "window: pick the resolution instead)"
        )
    raise QueryError(
        "aggregate",
        f"aggregate={text!r} is not supported{hint}; use one of avg (mean), sum, min, max, "
        "count, median, stddev, or a percentile such as p95",
    )


@dataclass(frozen=True, slots=True)
class Fill:
    """``null``, ``previous``, ``linear``, ``zero``, or a constant ``value`` (spec FillStrategy)."""

    kind: str
    value: int | None = None

    def to_spec(self) -> FillKind | FillValue:
        if self.kind == "value":
            return FillValue(value=int(self.value or 0))
        return FillKind(self.kind)


_I64 = (-(2**63), 2**63 - 1)


def parse_fill(text: str | None) -> Fill | None:
    """A fill kind, or an integer (the spec's ``{"value": i64}``), also written ``value:N``."""
    if text is None or not text.strip() or text.strip() == "none":
        return None
    raw = text.strip().lower()
    if raw in ("null", "previous", "linear", "zero"):
        return Fill(raw)
    number = raw.removeprefix("value:").strip()
    if re.fullmatch(r"-?\d+", number) and _I64[0] <= int(number) <= _I64[1]:
        return Fill("value", int(number))
    raise QueryError(
        "fill",
        f"fill={text!r} is not a fill strategy; use null, previous, linear, zero, "
        "or an integer constant (fill=0, fill=-1)",
    )


# --- the query -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesRows:
    """One stored series as read: its tags and its windows ``(start ms, values)``, oldest first."""

    tags: Mapping[str, str]
    points: Sequence[tuple[int, Mapping[str, object]]]


@dataclass(frozen=True, slots=True)
class QuerySpec:
    metric: str
    start_ms: int
    end_ms: int
    resolution: TimeWindow
    fields: tuple[str, ...]
    tag_filters: Mapping[str, str] = field(default_factory=dict)
    aggregate: Aggregate | None = None
    group_by: tuple[str, ...] = ()
    fill: Fill | None = None
    limit: int | None = None
    offset: int = 0

    @property
    def step_ms(self) -> int:
        return self.resolution.seconds * 1000

    @property
    def aligned_start_ms(self) -> int:
        """The start of the window containing ``start``: windows overlapping the range count."""
        return align_down(self.start_ms, self.step_ms)

    def to_spec(self) -> TimeSeriesQuery:
        """The spec's §6.6 TimeSeriesQuery this query answers (echoed in the result)."""
        aggregation = None
        if self.aggregate is not None:
            aggregation = Aggregation(
                function=self.aggregate.to_spec(),
                window=self.resolution.label,
                fields=list(self.fields),
            )
        return TimeSeriesQuery(
            measurement=self.metric,
            time_range=TimeRange(start=_dt(self.start_ms), end=_dt(self.end_ms)),
            tag_filters=dict(self.tag_filters),
            select_fields=list(self.fields),
            aggregation=aggregation,
            group_by=list(self.group_by),
            fill=None if self.fill is None else self.fill.to_spec(),
            limit=self.limit,
            offset=self.offset or None,
        )

    def check(self) -> None:
        """Raise :class:`QueryError` for a range, field or paging the query cannot answer."""
        if self.end_ms <= self.start_ms:
            raise QueryConflict(
                "end", f"end ({_iso(self.end_ms)}) must be after start ({_iso(self.start_ms)})"
            )
        buckets = (self.end_ms - self.aligned_start_ms + self.step_ms - 1) // self.step_ms
        if buckets > MAX_BUCKETS:
            raise QueryConflict(
                "resolution",
                f"{buckets} windows of {self.resolution.label} in this range; the limit is "
                f"{MAX_BUCKETS}: use a coarser resolution or a shorter range",
            )
        if not self.fields:
            raise QueryError("fields", "select at least one field, e.g. fields=p95,avg")
        unknown = [f for f in self.fields if f not in KNOWN_FIELDS]
        if unknown:
            raise QueryError(
                "fields",
                f"unknown field(s) {', '.join(unknown)}; stats metrics have "
                f"{', '.join(STATS_FIELDS)}, counters value, rate, gauges value, delta",
            )
        if self.group_by and self.aggregate is None:
            raise QueryConflict(
                "group_by",
                "group_by combines series, so it needs an aggregate (e.g. aggregate=avg); "
                "without one every series is returned on its own",
            )
        if self.limit is not None and self.limit < 1:
            raise QueryError("limit", "limit must be at least 1 (leave it out for every point)")
        if self.offset < 0:
            raise QueryError("offset", "offset must not be negative")


@dataclass(slots=True)
class OutPoint:
    timestamp_ms: int
    value: float | None
    filled: bool = False
    series: int | None = None
    """With an aggregate: how many series had a value in this window."""


@dataclass(slots=True)
class OutSeries:
    name: str
    tags: dict[str, str]
    points: list[OutPoint]


@dataclass(slots=True)
class QueryOutput:
    series: list[OutSeries]
    series_scanned: int
    records_scanned: int
    records_returned: int
    warnings: list[str] = field(default_factory=list)


def align_down(ms: int, step_ms: int) -> int:
    """Windows are aligned to the Unix epoch (1w on Thursdays, 30d in 30-day blocks)."""
    return ms - ms % step_ms


def timeline(start_ms: int, end_ms: int, step_ms: int) -> list[int]:
    """Starts of the windows overlapping ``[start_ms, end_ms)``."""
    return list(range(align_down(start_ms, step_ms), end_ms, step_ms))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _stddev(values: Sequence[float]) -> float:
    """Population standard deviation (ddof 0), as the stored ``stddev`` of a window."""
    mean = _mean(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))


_FUNCTIONS: dict[str, Callable[[Sequence[float]], float]] = {
    "mean": _mean,
    "sum": math.fsum,
    "min": min,
    "max": max,
    "count": lambda values: float(len(values)),
    "median": lambda values: percentile(values, 50.0),
    "stddev": _stddev,
}


def aggregate_values(aggregate: Aggregate, values: Sequence[float]) -> float:
    """One cross-series value; ``values`` is never empty."""
    if aggregate.name == "percentile":
        return percentile(values, aggregate.q or 0.0)
    return _FUNCTIONS[aggregate.name](values)


def fill_series(
    known: Mapping[int, float], starts: Sequence[int], fill: Fill | None
) -> list[OutPoint]:
    """The known values on the timeline, gaps filled by ``fill``.

    Without a fill strategy only known windows are returned. ``null`` returns a
    ``None`` value for every gap; ``previous`` carries the last known value forward;
    ``linear`` interpolates in time between the known neighbours; neither invents a
    value before the first or after the last known window (those stay ``None``).
    """
    if fill is None:
        return [OutPoint(ts, known[ts]) for ts in starts if ts in known]
    out: list[OutPoint] = []
    previous: tuple[int, float] | None = None
    known_times = sorted(ts for ts in starts if ts in known)
    following = 0  # index into known_times of the next known window at or after ts
    for ts in starts:
        if ts in known:
            value = known[ts]
            out.append(OutPoint(ts, value))
            previous = (ts, value)
            following += 1
            continue
        filled: float | None = None
        if fill.kind == "zero":
            filled = 0.0
        elif fill.kind == "value":
            filled = float(fill.value or 0)
        elif fill.kind == "previous" and previous is not None:
            filled = previous[1]
        elif fill.kind == "linear" and previous is not None and following < len(known_times):
            t1 = known_times[following]
            t0, v0 = previous
            v1 = known[t1]
            filled = v0 + (v1 - v0) * (ts - t0) / (t1 - t0)
        out.append(OutPoint(ts, filled, filled=True))
    return out


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _shape_fields(values: Mapping[str, object]) -> tuple[str, str]:
    """(kind, available fields) of one stored values object, for error messages."""
    if "p95" in values:
        return "stats", ", ".join(STATS_FIELDS)
    if "rate" in values and "delta" not in values:
        return "counter", ", ".join(COUNTER_FIELDS)
    return "gauge", ", ".join(GAUGE_FIELDS)


def _group_key(tags: Mapping[str, str], group_by: Sequence[str]) -> tuple[str | None, ...]:
    return tuple(tags.get(key) for key in group_by)


def run_query(spec: QuerySpec, rows: Sequence[SeriesRows]) -> QueryOutput:
    """Answer ``spec`` from the series read from the store (already filtered by tags)."""
    spec.check()
    starts = timeline(spec.start_ms, spec.end_ms, spec.step_ms)
    first, end = starts[0], spec.end_ms
    in_range = [
        SeriesRows(row.tags, [(ts, v) for ts, v in row.points if first <= ts < end]) for row in rows
    ]
    scanned = sum(len(row.points) for row in in_range)
    _check_fields_exist(spec, in_range)
    ordered = sorted(in_range, key=lambda row: sorted(row.tags.items()))

    out: list[OutSeries] = []
    for name_field in spec.fields:
        name = f"{spec.metric}.{name_field}"
        if spec.aggregate is None:
            for row in ordered:
                known = _field_values(row, name_field)
                out.append(OutSeries(name, dict(row.tags), fill_series(known, starts, spec.fill)))
            continue
        groups: dict[tuple[str | None, ...], list[SeriesRows]] = {}
        for row in ordered:
            groups.setdefault(_group_key(row.tags, spec.group_by), []).append(row)
        for key in sorted(groups, key=lambda k: tuple("" if v is None else v for v in k)):
            per_time: dict[int, list[float]] = {}
            for row in groups[key]:
                for ts, value in _field_values(row, name_field).items():
                    per_time.setdefault(ts, []).append(value)
            known = {ts: aggregate_values(spec.aggregate, vs) for ts, vs in per_time.items()}
            points = fill_series(known, starts, spec.fill)
            for point in points:
                if not point.filled:
                    point.series = len(per_time[point.timestamp_ms])
            tags = {k: v for k, v in zip(spec.group_by, key, strict=True) if v is not None}
            out.append(OutSeries(name, tags, points))

    returned = 0
    for series in out:
        series.points = series.points[spec.offset :]
        if spec.limit is not None:
            series.points = series.points[: spec.limit]
        returned += len(series.points)
    warnings = []
    if not rows:
        warnings.append(
            f"no series of {spec.metric!r} match the tag filters; check the name with "
            "GET /api/v1/metrics/names and the tags with GET /api/v1/metrics/series"
        )
    return QueryOutput(out, len(rows), scanned, returned, warnings)


def _field_values(row: SeriesRows, name: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for ts, values in row.points:
        number = _number(values.get(name))
        if number is not None:
            out[ts] = number
    return out


def _check_fields_exist(spec: QuerySpec, rows: Sequence[SeriesRows]) -> None:
    """A field no stored window has (``p95`` of a counter) is a mistake, not an empty answer."""
    sample: Mapping[str, object] | None = None
    present: set[str] = set()
    for row in rows:
        for _ts, values in row.points:
            sample = sample or values
            present.update(values)
    if sample is None:
        return
    missing = [f for f in spec.fields if f not in present]
    if missing:
        kind, available = _shape_fields(sample)
        raise QueryConflict(
            "fields",
            f"{spec.metric!r} is a {kind} metric without {', '.join(missing)}; "
            f"its fields are {available}",
        )


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _iso(ms: int) -> str:
    return _dt(ms).isoformat().replace("+00:00", "Z")
