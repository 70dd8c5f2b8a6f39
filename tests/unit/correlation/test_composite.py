"""Composite (cross-module) metrics per closed window: values, completeness, wire shape.

Expected values are computed here from the input numbers, by hand, never with the
module's own helpers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.correlation.composites import (
    CompositeBuilder,
    CompositeConfig,
    CompositeResult,
    window_composites,
)
from pipeline.models.metrics import (
    AggregatedMetric,
    CompositeMetric,
    CounterValues,
    GaugeValues,
    StatisticalMeasures,
    TimeWindow,
)

T0 = 1_764_000_000  # a minute boundary (divisible by 60 and 300)
W = TimeWindow.one_minute
OBS, SEC, COST, GOV = "llm-observatory", "llm-sentinel", "llm-cost-ops", "llm-governance-dashboard"


def _stats(count: int, total: float, p95: float = 0.0, avg: float | None = None) -> object:
    return StatisticalMeasures(
        avg=total / count if avg is None else avg,
        min=0.0,
        max=max(p95, total),
        p50=p95 / 2,
        p95=p95,
        p99=p95,
        count=count,
        sum=total,
    )


def _m(
    name: str,
    values: object,
    module: str,
    env: str = "production",
    start: int = T0,
    window: TimeWindow = W,
    **tags: str,
) -> AggregatedMetric:
    return AggregatedMetric(
        name=name,
        window=window,
        window_start=datetime.fromtimestamp(start, UTC),
        window_end=datetime.fromtimestamp(start + window.seconds, UTC),
        values=values,
        tags={"source_module": module, "environment": env, **tags},
    )


def _counter(value: int, window_s: int = 60) -> CounterValues:
    return CounterValues(value=value, rate=value / window_s)


def _full_window(env: str = "production", start: int = T0) -> list[AggregatedMetric]:
    """Two models' latency and errors, token and API spend, threats, budgets, compliance."""
    return [
        _m("llm_latency.total_latency_ms", _stats(100, 150_000.0, p95=1500.0), OBS, env, start,
           model_id="gpt-4o"),
        _m("llm_latency.total_latency_ms", _stats(50, 120_000.0, p95=3000.0), OBS, env, start,
           model_id="claude"),
        _m("llm_errors.total_requests", _stats(2, 1000.0), OBS, env, start, model_id="gpt-4o"),
        _m("llm_errors.failed_requests", _stats(2, 20.0), OBS, env, start, model_id="gpt-4o"),
        _m("llm_errors.total_requests", _stats(1, 500.0), OBS, env, start, model_id="claude"),
        _m("llm_errors.failed_requests", _stats(1, 40.0), OBS, env, start, model_id="claude"),
        _m("cost_tokens.total_cost_usd", _stats(100, 0.9), COST, env, start, model_id="gpt-4o"),
        _m("cost_tokens.total_cost_usd", _stats(50, 0.3), COST, env, start, model_id="claude"),
        _m("cost_api.total_cost_usd", _stats(1, 0.3), COST, env, start, provider="openai"),
        _m("cost_api.request_count", _counter(50), COST, env, start, provider="openai"),
        _m("cost_resources.cost_usd", _stats(1, 10.0), COST, env, start, resource_type="gpu"),
        _m("security_threats.count", _counter(1), SEC, env, start, threat_level="high"),
        _m("cost_budget.spend_percent", GaugeValues(value=85.0), COST, env, start, budget_id="a"),
        _m("cost_budget.spend_percent", GaugeValues(value=60.0), COST, env, start, budget_id="b"),
        _m("governance_compliance.score", GaugeValues(value=90.0), GOV, env, start,
           framework="SOC2"),
        _m("governance_compliance.score", GaugeValues(value=70.0), GOV, env, start,
           framework="ISO27001"),
        _m("hub_events.count", _counter(7), SEC, env, start, event_type="security"),
    ]  # fmt: skip


def _trigger(env: str = "production", start: int = T0 + 60) -> AggregatedMetric:
    return _m("hub_events.count", _counter(1), OBS, env, start)


def _by_name(results: list[CompositeResult]) -> dict[str, CompositeResult]:
    names = [r.name for r in results]
    assert len(names) == len(set(names)), names
    return {r.name: r for r in results}


def _run(metrics: list[AggregatedMetric], config: CompositeConfig | None = None) -> dict:
    builder = CompositeBuilder(config)
    for metric in metrics:
        assert builder.observe(metric) == []
    return _by_name(builder.observe(_trigger()))


# Hand computation of _full_window (production):
REQUESTS = 100 + 50  # served: one latency event per request
BILLED = 100 + 50 + 50  # paid for: one token-cost event per request, plus the API's count
SPEND = 0.9 + 0.3 + 0.3  # tokens + API; resources excluded by default
ERROR_RATIO = (20 + 40) / (1000 + 500)
THREATS = 1
P95 = (100 * 1500 + 50 * 3000) / 150  # count-weighted mean of the series' p95
COMPLIANCE = (90 + 70) / 2 / 100
BUDGET_MAX = 85.0


def test_every_composite_value_from_a_hand_built_window() -> None:
    out = _run(_full_window())
    assert out["cost_per_request"].composite.value == pytest.approx(SPEND / BILLED)  # 0.0075
    throughput = REQUESTS / 60 * (1 - ERROR_RATIO)  # 2.5 req/s × 0.96
    assert out["error_adjusted_throughput"].composite.value == pytest.approx(throughput)
    efficiency = BILLED / SPEND * (1 - THREATS / REQUESTS)  # 133.3 req/USD × 149/150
    assert out["security_adjusted_cost_efficiency"].composite.value == pytest.approx(efficiency)
    assert out["compliance_weighted_performance"].composite.value == pytest.approx(
        throughput * COMPLIANCE
    )
    latency = 1.0  # p95 2000 ms = the 2000 ms SLO
    errors = 1 - ERROR_RATIO / 0.05  # 0.2
    security = 1 - (THREATS / REQUESTS) / 0.01  # 1/3
    budget = 1 - BUDGET_MAX / 100  # 0.15
    health = 100 * (0.25 * latency + 0.30 * errors + 0.20 * security + 0.15 * COMPLIANCE
                    + 0.10 * budget)  # fmt: skip
    assert out["system_health_score"].composite.value == pytest.approx(health)
    assert health == pytest.approx(51.1666666)
    components = {c.name: c for c in out["system_health_score"].composite.components}
    assert components["llm_latency.total_latency_ms.p95"].value == pytest.approx(P95)
    assert components["llm_latency.total_latency_ms.p95_max"].value == 3000.0
    assert components["score.errors"].weight == pytest.approx(0.30)
    assert sum(c.weight for c in components.values() if c.weight is not None) == pytest.approx(1)


def test_composite_object_lists_inputs_modules_formula_window_and_timestamp() -> None:
    out = _run(_full_window())
    cost = out["cost_per_request"].composite
    parts = {c.name: (c.source_module, c.value) for c in cost.components}
    assert parts == {
        "cost_tokens.total_cost_usd.sum": (COST, pytest.approx(1.2)),
        "cost_api.total_cost_usd.sum": (COST, pytest.approx(0.3)),
        "cost_tokens.total_cost_usd.count": (COST, 150.0),
        "cost_api.request_count.value": (COST, 50.0),
    }
    assert cost.source_modules == [COST]
    assert "cost_tokens.total_cost_usd" in cost.formula and "/" in cost.formula
    assert cost.window is W
    assert cost.timestamp == datetime.fromtimestamp(T0 + 60, UTC)
    security = out["security_adjusted_cost_efficiency"].composite
    assert security.source_modules == [COST, OBS, SEC]


def test_wire_round_trip_of_the_gauge_and_the_composite() -> None:
    out = _run(_full_window())
    result = out["cost_per_request"]
    metric = result.metric
    assert metric.name == "hub_composite.cost_per_request"
    assert metric.tags == {"environment": "production", "source_module": "llm-analytics-hub"}
    assert (metric.window, metric.window_start.timestamp(), metric.window_end.timestamp()) == (
        W,
        T0,
        T0 + 60,
    )
    assert isinstance(metric.values, GaugeValues)
    assert metric.values.value == pytest.approx(0.0075) and metric.values.delta is None
    wire = metric.to_wire_bytes()
    assert b'"delta":null' in wire
    back = AggregatedMetric.from_wire(wire)
    assert back == metric and isinstance(back.values, GaugeValues)
    for r in out.values():
        again = CompositeMetric.from_wire(r.composite.to_wire_bytes())
        assert again == r.composite
        assert CompositeMetric.model_validate(r.composite.to_wire_obj()) == r.composite


def test_a_window_is_complete_only_when_a_later_window_of_its_size_arrives() -> None:
    builder = CompositeBuilder()
    for metric in _full_window():
        assert builder.observe(metric) == []
    # a later 5-minute result says nothing about 1-minute windows
    assert builder.observe(_m("hub_events.count", _counter(1), OBS, start=T0 + 300,
                              window=TimeWindow.five_minutes)) == []  # fmt: skip
    # a later 1-minute result from another environment completes every environment
    results = builder.observe(_trigger(env="staging"))
    assert {r.environment for r in results} == {"production"}
    assert len(results) == 5
    assert builder.stats.groups_closed == 1


def test_flush_emits_quiet_windows_after_the_settle_delay_only() -> None:
    builder = CompositeBuilder(CompositeConfig(settle_s=30.0))
    end = T0 + 60
    for metric in _full_window():
        builder.observe(metric, now_epoch_s=end + 2)  # published 2 s after the window ended
    assert builder.flush(end + 31.9) == []
    assert len(builder.flush(end + 32.0)) == 5
    assert builder.flush(end + 1_000) == [], "emitted once"
    assert builder.open_groups == 0


def test_flush_waits_until_a_window_has_stopped_receiving_inputs() -> None:
    """A backlog of an old window keeps arriving: its age alone does not settle it."""
    builder = CompositeBuilder(CompositeConfig(settle_s=30.0))
    now = T0 + 10_000.0
    first, *rest = _full_window()
    builder.observe(first, now_epoch_s=now)
    assert builder.flush(now + 10) == []
    for metric in rest:
        builder.observe(metric, now_epoch_s=now + 20)
    assert builder.flush(now + 40) == []
    assert len(builder.flush(now + 50)) == 5


def test_without_close_after_windows_only_quiet_windows_complete() -> None:
    """Results of window T0 arriving after window T0+60's (another partition read
    later) still count: completeness is by quiet arrival, not by a later window."""
    builder = CompositeBuilder(CompositeConfig(settle_s=10.0, close_after_windows=None))
    now = T0 + 10_000.0
    later = _full_window(start=T0 + 60)
    first, *rest = _full_window()
    assert builder.observe(first, now_epoch_s=now) == []
    for metric in later:
        assert builder.observe(metric, now_epoch_s=now + 1) == []
    for metric in rest:
        assert builder.observe(metric, now_epoch_s=now + 2) == []
    assert builder.stats.late_inputs == 0
    results = builder.flush(now + 12)
    assert [r.metric.window_start.timestamp() for r in results] == [T0] * 5 + [T0 + 60] * 5
    full = {r.name: r.composite.value for r in builder_of(_full_window())}
    assert {r.name: r.composite.value for r in results[:5]} == full


def builder_of(metrics: list[AggregatedMetric]) -> list:
    """The composites of one complete window, closed by a later window's result."""
    builder = CompositeBuilder()
    for metric in metrics:
        builder.observe(metric)
    return builder.observe(_trigger(start=T0 + 60))


def test_no_double_emission_and_late_inputs_are_ignored_and_counted() -> None:
    builder = CompositeBuilder()
    for metric in _full_window():
        builder.observe(metric)
    assert len(builder.observe(_trigger())) == 5
    assert builder.observe(_trigger(start=T0 + 60)) == []
    late = _m("security_threats.count", _counter(50), SEC)
    assert builder.observe(late) == []
    assert builder.stats.late_inputs == 1
    assert builder.flush(T0 + 100_000) == []  # the T0 + 60 window has no composite inputs
    assert builder.stats.groups_closed == 2
    assert builder.stats.composites_emitted == 5


def test_environments_are_separate_groups_with_their_own_values() -> None:
    staging = [
        _m("llm_latency.total_latency_ms", _stats(30, 30_000.0, p95=1000.0), OBS, "staging"),
        _m("cost_tokens.total_cost_usd", _stats(30, 0.6), COST, "staging"),
    ]
    builder = CompositeBuilder()
    for metric in _full_window() + staging:
        builder.observe(metric)
    results = builder.observe(_trigger())
    prod = _by_name([r for r in results if r.environment == "production"])
    stage = _by_name([r for r in results if r.environment == "staging"])
    assert prod["cost_per_request"].composite.value == pytest.approx(SPEND / BILLED)
    assert stage["cost_per_request"].composite.value == pytest.approx(0.6 / 30)
    assert set(stage) == {"cost_per_request", "system_health_score"}
    assert stage["system_health_score"].composite.value == pytest.approx(100.0)  # p95 1000 ms
    assert stage["cost_per_request"].metric.tags["environment"] == "staging"
    assert (
        stage["cost_per_request"].composite.metric_id
        != prod["cost_per_request"].composite.metric_id
    )


def test_missing_inputs_mean_no_composite_rather_than_a_zero() -> None:
    only_latency = [_m("llm_latency.total_latency_ms", _stats(10, 10_000.0, p95=900.0), OBS)]
    assert set(_run(only_latency)) == {"system_health_score"}
    only_cost = [_m("cost_tokens.total_cost_usd", _stats(10, 1.0), COST)]
    assert set(_run(only_cost)) == {"cost_per_request"}  # no telemetry, no health component
    only_errors = [
        _m("llm_errors.total_requests", _stats(1, 100.0), OBS),
        _m("llm_errors.failed_requests", _stats(1, 2.0), OBS),
    ]
    assert set(_run(only_errors)) == {"system_health_score"}  # no request rate to adjust
    unrelated = [_m("hub_events.count", _counter(9), OBS), _m("hub_events.count", _counter(2), SEC)]
    assert _run(unrelated) == {}


def test_threats_count_as_zero_only_when_the_security_module_reported() -> None:
    base = [
        _m("llm_latency.total_latency_ms", _stats(200, 200_000.0, p95=900.0), OBS),
        _m("cost_tokens.total_cost_usd", _stats(200, 4.0), COST),
    ]
    assert "security_adjusted_cost_efficiency" not in _run(base)
    sentinel_spoke = [*base, _m("security_auth.attempts", _counter(3), SEC, action="login")]
    out = _run(sentinel_spoke)
    assert out["security_adjusted_cost_efficiency"].composite.value == pytest.approx(200 / 4.0)


def test_health_score_renormalises_weights_over_the_components_present() -> None:
    metrics = [
        _m("llm_latency.total_latency_ms", _stats(10, 30_000.0, p95=3000.0), OBS),
        _m("cost_budget.spend_percent", GaugeValues(value=40.0), COST, budget_id="a"),
    ]
    out = _run(metrics)
    latency_score = 2 - 3000 / 2000  # 0.5: half way between the SLO and twice it
    budget_score = 1 - 40 / 100
    expected = 100 * (0.25 * latency_score + 0.10 * budget_score) / (0.25 + 0.10)
    health = out["system_health_score"].composite
    assert health.value == pytest.approx(expected)
    weights = {c.name: c.weight for c in health.components if c.weight is not None}
    assert weights == {
        "score.latency": pytest.approx(0.25 / 0.35),
        "score.budget": pytest.approx(0.10 / 0.35),
    }
    assert health.source_modules == [COST, OBS]


def test_custom_health_weights_are_used_and_validated() -> None:
    weights = {"latency": 0.5, "errors": 0.5, "security": 0, "compliance": 0, "budget": 0}
    metrics = [
        _m("llm_latency.total_latency_ms", _stats(10, 10_000.0, p95=1000.0), OBS),
        _m("llm_errors.total_requests", _stats(1, 100.0), OBS),
        _m("llm_errors.failed_requests", _stats(1, 1.0), OBS),
        _m("cost_budget.spend_percent", GaugeValues(value=99.0), COST),
    ]
    out = _run(metrics, CompositeConfig(health_weights=weights))
    assert out["system_health_score"].composite.value == pytest.approx(
        100 * (0.5 * 1.0 + 0.5 * (1 - 0.01 / 0.05))
    )
    with pytest.raises(ValueError):
        CompositeConfig(health_weights={"latency": 0.5, "errors": 0.4})
    with pytest.raises(ValueError):
        CompositeConfig(health_weights={"latency": 0.5, "uptime": 0.5})


def test_fallbacks_when_there_is_no_latency_telemetry() -> None:
    metrics = [
        _m("cost_api.total_cost_usd", _stats(2, 3.0), COST, provider="openai"),
        _m("cost_api.request_count", _counter(600), COST, provider="openai"),
        _m("llm_throughput.requests_per_second", _stats(3, 30.0, avg=10.0), OBS, model_id="a"),
        _m("llm_throughput.requests_per_second", _stats(3, 15.0, avg=5.0), OBS, model_id="b"),
        _m("llm_errors.total_requests", _stats(1, 1000.0), OBS),
        _m("llm_errors.failed_requests", _stats(1, 100.0), OBS),
        _m("security_threats.count", _counter(6), SEC),
    ]
    out = _run(metrics)
    assert out["cost_per_request"].composite.value == pytest.approx(3.0 / 600)
    assert out["error_adjusted_throughput"].composite.value == pytest.approx((10 + 5) * 0.9)
    # no served count: threats are a share of the billed requests
    assert out["security_adjusted_cost_efficiency"].composite.value == pytest.approx(
        600 / 3.0 * (1 - 6 / 600)
    )
    names = {c.name for c in out["cost_per_request"].composite.components}
    assert "cost_api.request_count.value" in names


def test_resource_cost_is_added_to_spend_only_when_configured() -> None:
    out = _run(_full_window(), CompositeConfig(include_resource_cost=True))
    assert out["cost_per_request"].composite.value == pytest.approx((SPEND + 10.0) / BILLED)


def test_delta_is_the_change_from_the_previous_window_and_null_after_a_gap() -> None:
    builder = CompositeBuilder()

    def window(start: int, spend: float) -> list[CompositeResult]:
        builder.observe(_m("llm_latency.total_latency_ms", _stats(10, 1.0, p95=1.0), OBS,
                           start=start))  # fmt: skip
        builder.observe(_m("cost_tokens.total_cost_usd", _stats(10, spend), COST, start=start))
        return [r for r in builder.flush(start + 60 + 30) if r.name == "cost_per_request"]

    first, second, after_gap = window(T0, 1.0), window(T0 + 60, 2.5), window(T0 + 180, 3.0)
    assert first[0].metric.values.delta is None
    assert second[0].metric.values.delta == pytest.approx(2.5 / 10 - 1.0 / 10)
    assert after_gap[0].metric.values.delta is None


def test_own_outputs_and_duplicate_series_do_not_count_twice() -> None:
    builder = CompositeBuilder()
    metrics = _full_window()
    for metric in metrics + metrics[:3]:  # an at-least-once republish of three results
        builder.observe(metric)
    first = builder.observe(_trigger())
    assert builder.stats.duplicate_inputs == 3
    assert _by_name(first)["cost_per_request"].composite.value == pytest.approx(SPEND / BILLED)
    for result in first:
        assert builder.observe(result.metric) == []
    assert builder.stats.own_outputs == 5


def test_close_after_two_windows_tolerates_partitions_read_apart() -> None:
    builder = CompositeBuilder(CompositeConfig(close_after_windows=2))
    metrics = _full_window()
    builder.observe(metrics[0])
    assert builder.observe(_trigger(start=T0 + 60)) == []
    for metric in metrics[1:]:
        builder.observe(metric)  # T0 is still open: not late
    assert builder.stats.late_inputs == 0
    out = _by_name(builder.observe(_trigger(start=T0 + 120)))
    assert out["cost_per_request"].composite.value == pytest.approx(SPEND / BILLED)


def test_open_state_is_bounded_by_emitting_the_oldest_window_early() -> None:
    builder = CompositeBuilder(CompositeConfig(max_open_groups=2))
    for env in ("a", "b"):
        builder.observe(_m("llm_latency.total_latency_ms", _stats(1, 1.0, p95=1.0), OBS, env))
    forced = builder.observe(
        _m("llm_latency.total_latency_ms", _stats(1, 1.0), OBS, "c", window=TimeWindow.one_hour)
    )
    assert {r.environment for r in forced} == {"a", "b"}
    assert builder.stats.forced_closes == 1 and builder.open_groups == 1


def test_ids_are_deterministic_and_the_stateless_helper_agrees() -> None:
    first = _run(_full_window())
    second = _run(list(reversed(_full_window())))
    assert {n: r.composite.metric_id for n, r in first.items()} == {
        n: r.composite.metric_id for n, r in second.items()
    }
    assert {n: r.composite for n, r in first.items()} == {
        c.name: c for c in window_composites(_full_window())
    }
    with pytest.raises(ValueError):
        window_composites(_full_window() + _full_window(env="staging"))


def test_a_state_gauge_holds_in_windows_without_a_report_while_fresh() -> None:
    """The compliance score is reported now and then; the health score of the windows in
    between keeps it (its make-up does not change with which reports fall in a window),
    until it is older than the staleness limit."""
    config = CompositeConfig(gauge_staleness_s=600.0, close_after_windows=None)
    builder = CompositeBuilder(config)
    latency = "llm_latency.total_latency_ms"
    health = []
    for minute in range(15):
        start = T0 + 60 * minute
        builder.observe(_m(latency, _stats(30, 30_000.0, p95=3000.0), OBS, start=start))
        if minute == 0:
            score = GaugeValues(value=20.0, delta=None)
            builder.observe(_m("governance_compliance.score", score, GOV, start=start))
        for result in builder.close_through(start + 60):
            if result.name == "system_health_score":
                health.append(round(result.composite.value, 6))
    with_report, without = health[0], health[-1]
    assert health[:11] == [with_report] * 11  # minutes 0-10: the report is at most 600 s old
    assert health[11:] == [without] * 4 and without != with_report


def test_a_quiet_minute_of_the_security_module_has_no_threats_while_it_reports_lately() -> None:
    """The security module reports threats only when it sees them; a window without any of
    its events, while it reported within the staleness limit, counts 0 threats (a perfect
    security score), as the windows with its events do, until it has been silent longer."""
    config = CompositeConfig(gauge_staleness_s=600.0, close_after_windows=None)
    builder = CompositeBuilder(config)
    latency, requests = "llm_latency.total_latency_ms", "llm_errors.total_requests"
    health, components = [], []
    for minute in range(15):
        start = T0 + 60 * minute
        builder.observe(_m(latency, _stats(30, 30_000.0, p95=3000.0), OBS, start=start))
        builder.observe(_m(requests, _stats(1, 30.0), OBS, start=start))
        if minute == 0:
            attempts = _m("security_auth.attempts", _counter(3), SEC, start=start, action="login")
            builder.observe(attempts)
        for result in builder.close_through(start + 60):
            if result.name == "system_health_score":
                health.append(round(result.composite.value, 6))
                names = {c.name for c in result.composite.components}
                components.append(any(n.startswith("security_threats") for n in names))
    assert components[:11] == [True] * 11  # minutes 0-10: it reported at most 600 s ago
    assert components[11:] == [False] * 4
    assert health[:11] == [health[0]] * 11 and health[11] != health[0]


def test_each_budget_holds_its_own_last_report_and_the_use_is_their_maximum() -> None:
    """Budgets report now and then, each on its own: the budget use of a window is the
    highest of every budget's latest spend, not of the reports that fell in it."""
    config = CompositeConfig(gauge_staleness_s=600.0, close_after_windows=None)
    builder = CompositeBuilder(config)
    latency = "llm_latency.total_latency_ms"
    reports = {0: ("budget-001", 90.0), 2: ("budget-002", 40.0), 4: ("budget-001", 50.0)}
    use = []
    for minute in range(6):
        start = T0 + 60 * minute
        builder.observe(_m(latency, _stats(30, 30_000.0, p95=3000.0), OBS, start=start))
        if minute in reports:
            budget, percent = reports[minute]
            spend = GaugeValues(value=percent, delta=None)
            builder.observe(
                _m("cost_budget.spend_percent", spend, COST, start=start, budget_id=budget)
            )
        for result in builder.close_through(start + 60):
            if result.name == "system_health_score":
                parts = {c.name: c.value for c in result.composite.components}
                use.append(parts["cost_budget.spend_percent.max"])
    # budget-001 at 90 holds through minute 3 although budget-002 reported 40 at minute 2;
    # from minute 4 budget-001's latest is 50, and budget-002's 40 still holds
    assert use == [90.0, 90.0, 90.0, 90.0, 50.0, 50.0]
