"""Dashboards as the spec's ``DashboardConfig`` (§8): the built-in default, and the checks
a user's own config must pass before it is stored (pure: no Redis, no HTTP).

§8 leaves a Widget's shape open, so this module fixes the one the dashboard page draws::

    {"id": "latency_p95", "title": "p95 latency by model", "type": "line_chart",
     "span": 6, "unit": "ms",
     "query": {"metric": "llm_latency.total_latency_ms", "fields": "p95",
               "aggregate": "max", "group_by": "model_id", "resolution": "1m"}}

* ``type`` is a :class:`~pipeline.models.metadata.WidgetType` value.
* ``query`` holds ``GET /api/v1/query`` parameters (``metric``, ``fields`` — one field —,
  ``aggregate``, ``group_by``, ``tag``, ``resolution``, ``fill``, ``start``); the time
  range defaults to the dashboard's ``default_time_range``. ``queries`` (a list, each
  with an optional ``label``) draws several metrics in one widget, e.g. stacked costs.
* ``timeline`` widgets read ``"source": "anomalies"``, ``graph`` widgets
  ``"source": "correlations"`` (the latest incident, drawn as alerts and causal links).
* ``span`` is the width in columns of ``layout.columns`` (12 by default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline.models.metadata import DashboardConfig, WidgetType

DEFAULT_ID = "default"
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Dashboard and widget ids: safe in a URL, a Redis hash field and an HTML id."""
TIME_RANGE = re.compile(r"[1-9][0-9]{0,4}(m|h|d|w)")
"""``default_time_range``: a span back from now, e.g. ``15m``, ``1h``, ``7d``."""
MIN_REFRESH_S = 5
"""Polling faster than this would eat a read key's rate limit; 0 means live streams only."""
MAX_WIDGETS = 50

QUERY_TYPES = frozenset(
    {
        WidgetType.LINE_CHART,
        WidgetType.BAR_CHART,
        WidgetType.PIE_CHART,
        WidgetType.TABLE,
        WidgetType.STAT,
        WidgetType.HEATMAP,
        WidgetType.GAUGE,
    }
)
SOURCES: Mapping[WidgetType, str] = {
    WidgetType.TIMELINE: "anomalies",
    WidgetType.GRAPH: "correlations",
}
QUERY_KEYS = frozenset(
    {"metric", "fields", "aggregate", "group_by", "tag", "resolution", "fill", "start", "label"}
)


def _query(
    metric: str,
    field: str,
    aggregate: str,
    group_by: str | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    query: dict[str, Any] = {
        "metric": metric,
        "fields": field,
        "aggregate": aggregate,
        "resolution": "1m",
    }
    if group_by:
        query["group_by"] = group_by
    if label:
        query["label"] = label
    return query


def default_dashboard() -> DashboardConfig:
    """The LLM operations overview of issue 5: latency, TTFT, errors, cost, tokens, health,
    anomalies and the latest incident."""
    widgets: list[dict[str, Any]] = [
        {
            "id": "latency_p95",
            "title": "p95 latency by model (worst series)",
            "type": WidgetType.LINE_CHART.value,
            "span": 6,
            "unit": "ms",
            "query": _query("llm_latency.total_latency_ms", "p95", "max", "model_id"),
        },
        {
            "id": "ttft_p95",
            "title": "p95 time to first token by model",
            "type": WidgetType.LINE_CHART.value,
            "span": 6,
            "unit": "ms",
            "query": _query("llm_latency.ttft_ms", "p95", "max", "model_id"),
        },
        {
            "id": "error_rate",
            "title": "Error rate by model",
            "type": WidgetType.LINE_CHART.value,
            "span": 4,
            "unit": "%",
            "query": _query("llm_errors.error_rate_percent", "avg", "avg", "model_id"),
        },
        {
            "id": "cost",
            "title": "Cost per window",
            "type": WidgetType.BAR_CHART.value,
            "span": 4,
            "unit": "USD",
            "stacked": True,
            "queries": [
                _query("cost_tokens.total_cost_usd", "sum", "sum", label="tokens"),
                _query("cost_api.total_cost_usd", "sum", "sum", label="API calls"),
            ],
        },
        {
            "id": "tokens",
            "title": "Token usage by model",
            "type": WidgetType.BAR_CHART.value,
            "span": 4,
            "unit": "tokens",
            "stacked": True,
            "query": _query("llm_token_usage.total_tokens", "sum", "sum", "model_id"),
        },
        {
            "id": "health",
            "title": "System health (worst environment)",
            "type": WidgetType.GAUGE.value,
            "span": 3,
            "min": 0,
            "max": 100,
            "query": _query("hub_composite.system_health_score", "value", "min"),
        },
        {
            "id": "anomalies",
            "title": "Anomaly timeline",
            "type": WidgetType.TIMELINE.value,
            "span": 9,
            "source": "anomalies",
        },
        {
            "id": "incident",
            "title": "Latest incident",
            "type": WidgetType.GRAPH.value,
            "span": 12,
            "source": "correlations",
        },
    ]
    return DashboardConfig(
        dashboard_id=DEFAULT_ID,
        name="LLM operations",
        layout={"columns": 12},
        widgets=widgets,
        refresh_interval=30,
        default_time_range="1h",
        visibility={"public": False, "role": "read"},
    )


def query_metrics(widget: Mapping[str, Any]) -> list[str]:
    """The metric names a widget queries (empty for timeline and graph widgets)."""
    queries = widget.get("queries")
    if queries is None:
        queries = [widget["query"]] if isinstance(widget.get("query"), dict) else []
    return [
        q["metric"] for q in queries if isinstance(q, dict) and isinstance(q.get("metric"), str)
    ]


def _query_problems(where: str, query: Any) -> list[str]:
    if not isinstance(query, dict):
        return [f"{where}: a query is an object of /api/v1/query parameters"]
    problems = []
    metric = query.get("metric")
    if not isinstance(metric, str) or "." not in metric.strip(". "):
        problems.append(
            f"{where}.metric: give a stored metric name <measurement>.<field>, "
            "e.g. llm_latency.total_latency_ms"
        )
    unknown = sorted(set(query) - QUERY_KEYS)
    if unknown:
        problems.append(f"{where}: unknown key {unknown[0]!r}; keys are {sorted(QUERY_KEYS)}")
    fields = query.get("fields")
    if fields is not None and (not isinstance(fields, str) or "," in fields or not fields):
        problems.append(f"{where}.fields: one field per query, e.g. 'p95' (got {fields!r})")
    for key in ("aggregate", "resolution", "fill", "start", "label"):
        if key in query and not isinstance(query[key], str | int):
            problems.append(f"{where}.{key}: must be a string")
    for key in ("group_by", "tag"):
        value = query.get(key)
        items = value if isinstance(value, list) else [value]
        if value is not None and not all(isinstance(v, str) and v for v in items):
            problems.append(f"{where}.{key}: a string or a list of strings")
    if query.get("group_by") and not query.get("aggregate"):
        problems.append(f"{where}.group_by: needs an aggregate (avg, sum, max, ...)")
    return problems


def _widget_problems(index: int, widget: Mapping[str, Any], seen: set[str]) -> list[str]:
    where = f"widgets[{index}]"
    problems = []
    wid = widget.get("id")
    if not isinstance(wid, str) or not ID_PATTERN.fullmatch(wid):
        problems.append(f"{where}.id: letters, digits, '_', '-', '.', at most 64 (got {wid!r})")
    elif wid in seen:
        problems.append(f"{where}.id: {wid!r} is used by an earlier widget; ids are unique")
    else:
        seen.add(wid)
    if not isinstance(widget.get("title"), str):
        problems.append(f"{where}.title: a string")
    try:
        kind = WidgetType(widget.get("type"))
    except ValueError:
        return [
            *problems,
            f"{where}.type: one of {[t.value for t in WidgetType]} (got {widget.get('type')!r})",
        ]
    span = widget.get("span", 12)
    if not isinstance(span, int) or isinstance(span, bool) or not 1 <= span <= 12:
        problems.append(f"{where}.span: columns out of 12, an integer from 1 to 12")
    if kind in SOURCES:
        if widget.get("source") != SOURCES[kind]:
            problems.append(f"{where}.source: a {kind.value} widget reads {SOURCES[kind]!r}")
        return problems
    has_one, has_many = "query" in widget, "queries" in widget
    if has_one == has_many:
        problems.append(f"{where}: give 'query' (one) or 'queries' (a list), not both or neither")
        return problems
    queries = widget["queries"] if has_many else [widget["query"]]
    if not isinstance(queries, list) or not queries:
        return [*problems, f"{where}.queries: a non-empty list of queries"]
    for n, query in enumerate(queries):
        place = f"{where}.queries[{n}]" if has_many else f"{where}.query"
        problems += _query_problems(place, query)
    return problems


def problems(config: DashboardConfig) -> list[str]:
    """What keeps the dashboard page from drawing ``config`` (empty when it is fine)."""
    found = []
    if not ID_PATTERN.fullmatch(config.dashboard_id):
        found.append("dashboard_id: letters, digits, '_', '-', '.', at most 64 characters")
    if not TIME_RANGE.fullmatch(config.default_time_range):
        found.append(
            "default_time_range: a span back from now such as 15m, 1h, 6h, 7d or 2w "
            f"(got {config.default_time_range!r})"
        )
    if 0 < config.refresh_interval < MIN_REFRESH_S:
        found.append(f"refresh_interval: 0 (live streams only) or at least {MIN_REFRESH_S} seconds")
    columns = config.layout.get("columns", 12)
    if columns != 12:
        found.append("layout.columns: the page lays widgets out on 12 columns")
    if not config.widgets:
        found.append("widgets: at least one widget")
    if len(config.widgets) > MAX_WIDGETS:
        found.append(f"widgets: at most {MAX_WIDGETS}")
    seen: set[str] = set()
    for index, widget in enumerate(config.widgets):
        found += _widget_problems(index, widget, seen)
    return found
