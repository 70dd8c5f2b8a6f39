"""The default dashboard is a valid DashboardConfig whose widgets query metrics the hub
really publishes (docs/MEASUREMENTS.md, docs/COMPOSITES.md), and user configs the page
cannot draw are refused with the field to fix."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.models.metadata import DashboardConfig, WidgetType
from pipeline.store import dashboards

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _measurement_fields() -> dict[str, set[str]]:
    """``measurement -> fields`` from the table of docs/MEASUREMENTS.md."""
    found: dict[str, set[str]] = {}
    for line in (DOCS / "MEASUREMENTS.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4:
            continue
        names = re.findall(r"`([a-z_]+)`", cells[1])
        if len(names) == 1:
            found.setdefault(names[0], set()).update(re.findall(r"`([a-z_.]+)`", cells[3]))
    return found


def _composites() -> set[str]:
    text = (DOCS / "COMPOSITES.md").read_text()
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))


def _default_doc() -> dict[str, Any]:
    return dashboards.default_dashboard().to_wire_obj()


def test_default_validates_as_dashboard_config_and_round_trips() -> None:
    config = dashboards.default_dashboard()
    again = DashboardConfig.from_wire(config.to_wire())
    assert again == config and again.to_wire() == config.to_wire()
    assert config.dashboard_id == dashboards.DEFAULT_ID
    assert dashboards.problems(config) == []


def test_every_widget_has_an_id_a_title_and_a_known_type() -> None:
    widgets = dashboards.default_dashboard().widgets
    assert len({w["id"] for w in widgets}) == len(widgets)
    assert all(isinstance(w["title"], str) and w["title"] for w in widgets)
    kinds = {WidgetType(w["type"]) for w in widgets}
    assert {WidgetType.LINE_CHART, WidgetType.TIMELINE, WidgetType.GRAPH} <= kinds


def test_each_widget_query_names_a_real_metric() -> None:
    measurements = _measurement_fields()
    assert {"llm_latency", "cost_api", "llm_token_usage"} <= set(measurements)
    composites = _composites()
    assert "system_health_score" in composites
    queried = []
    for widget in dashboards.default_dashboard().widgets:
        metrics = dashboards.query_metrics(widget)
        if WidgetType(widget["type"]) in dashboards.SOURCES:
            assert metrics == [] and widget["source"] in ("anomalies", "correlations")
            continue
        assert metrics, widget["id"]
        for metric in metrics:
            measurement, _, field = metric.partition(".")
            if measurement == "hub_composite":
                assert field in composites, metric
            else:
                assert field in measurements.get(measurement, set()), metric
        queried += metrics
    assert {
        "llm_latency.total_latency_ms",
        "llm_latency.ttft_ms",
        "llm_errors.error_rate_percent",
        "cost_tokens.total_cost_usd",
        "cost_api.total_cost_usd",
        "llm_token_usage.total_tokens",
        "hub_composite.system_health_score",
    } == set(queried)


def test_per_model_widgets_group_by_model_id() -> None:
    widgets = {w["id"]: w for w in dashboards.default_dashboard().widgets}
    latency = widgets["latency_p95"]["query"]
    assert (latency["fields"], latency["group_by"]) == ("p95", "model_id")
    assert widgets["ttft_p95"]["query"]["fields"] == "p95"
    assert [q["fields"] for q in widgets["cost"]["queries"]] == ["sum", "sum"]


def _problems(doc: dict[str, Any]) -> list[str]:
    return dashboards.problems(DashboardConfig.model_validate(doc))


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: d["widgets"][0].update(type="sparkline"), "widgets[0].type"),
        (lambda d: d["widgets"][1].update(id=d["widgets"][0]["id"]), "widgets[1].id"),
        (lambda d: d["widgets"][0]["query"].pop("metric"), "widgets[0].query.metric"),
        (lambda d: d["widgets"][0]["query"].update(fields="p50,p95"), "widgets[0].query.fields"),
        (lambda d: d["widgets"][0]["query"].update(colour="red"), "widgets[0].query"),
        (lambda d: d["widgets"][0]["query"].pop("aggregate"), "widgets[0].query.group_by"),
        (lambda d: d["widgets"][0].update(queries=[]), "widgets[0]"),
        (lambda d: d["widgets"][0].update(span=13), "widgets[0].span"),
        (lambda d: d["widgets"][6].update(source="correlations"), "widgets[6].source"),
        (lambda d: d.update(default_time_range="yesterday"), "default_time_range"),
        (lambda d: d.update(refresh_interval=1), "refresh_interval"),
        (lambda d: d.update(dashboard_id="a b"), "dashboard_id"),
        (lambda d: d.update(widgets=[]), "widgets"),
    ],
)
def test_configs_the_page_cannot_draw_are_refused(change: Any, expected: str) -> None:
    doc = copy.deepcopy(_default_doc())
    change(doc)
    found = _problems(doc)
    assert found and found[0].startswith(expected + ":"), found


def test_a_minimal_user_dashboard_passes() -> None:
    doc = {
        "dashboard_id": "team-a",
        "name": "Team A",
        "layout": {},
        "widgets": [
            {
                "id": "rps",
                "title": "Requests per second",
                "type": "stat",
                "query": {"metric": "llm_throughput.requests_per_second"},
            },
            {"id": "alerts", "title": "Alerts", "type": "timeline", "source": "anomalies"},
        ],
        "refresh_interval": 0,
        "default_time_range": "6h",
        "visibility": {},
    }
    assert _problems(doc) == []
