"""Threshold rules from YAML: loading errors, and each rule kind's episodes.

Expected values are computed here from the input numbers (ratios, rolling sums,
sums across series), never with the engine's own helpers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from pipeline.correlation.rules import (
    DEFAULT_RULES_FILE,
    KNOWN_METRICS,
    EngineLimits,
    RuleEngine,
    RuleError,
    load_rules,
    parse_rules,
    rule_name,
)
from pipeline.detection.metric_detection import Alert, Phase
from pipeline.ingest.normalize import MAPPED_VARIANTS, points_from_event
from pipeline.models.correlation import AnomalyEvent, AnomalyType
from pipeline.models.events import SourceModule
from pipeline.models.metrics import (
    AggregatedMetric,
    CounterValues,
    GaugeValues,
    MetricValues,
    StatisticalMeasures,
    TimeWindow,
)
from pipeline.sim.simulate import EventSimulator

T0 = 1_700_000_100  # a multiple of 300: 1m and 5m windows start here
FIVE = TimeWindow.five_minutes
ONE = TimeWindow.one_minute


def _result(
    name: str, window: TimeWindow, n: int, values: MetricValues, **tags: str
) -> AggregatedMetric:
    """The closed result of the n-th window of that size from T0."""
    start = T0 + n * window.seconds
    return AggregatedMetric(
        name=name,
        window=window,
        window_start=datetime.fromtimestamp(start, UTC),
        window_end=datetime.fromtimestamp(start + window.seconds, UTC),
        values=values,
        tags=tags,
    )


def _total(total: float, count: int = 10) -> StatisticalMeasures:
    """A statistics result whose window sum is ``total`` (other stats are noise)."""
    return StatisticalMeasures(
        avg=total / count, min=0.0, max=total, p50=total / count, p95=total, p99=total,
        stddev=1.0, count=count, sum=total,
    )  # fmt: skip


def _at(window: TimeWindow, n: int) -> datetime:
    return datetime.fromtimestamp(T0 + n * window.seconds, UTC)


def _engine(text: str, limits: EngineLimits | None = None) -> RuleEngine:
    return RuleEngine(parse_rules(text), limits)


def _load_error(text: str) -> str:
    with pytest.raises(RuleError) as caught:
        parse_rules(text, source="test.yaml")
    return str(caught.value)


# --- loading ---------------------------------------------------------------------------------

BUDGET = """
rules:
  - name: budget_spend
    metric: cost_budget.spend_percent
    stat: value
    window: 5m
    by: [budget_id]
    above: {warning: 80, critical: 100}
"""


def test_the_shipped_rules_file_loads_with_the_documented_rules() -> None:
    rules = {rule.name: rule for rule in load_rules(DEFAULT_RULES_FILE)}
    assert set(rules) == {"budget_spend", "model_outage", "tenant_hourly_spend"}
    budget = rules["budget_spend"]
    assert (budget.kind, budget.inputs, budget.stat, budget.window, budget.by) == (
        "threshold", ("cost_budget.spend_percent",), "value", FIVE, ("budget_id",)
    )  # fmt: skip
    assert [(lv.value, t) for lv, t in budget.levels] == [("warning", 80.0), ("critical", 100.0)]
    outage = rules["model_outage"]
    assert outage.kind == "ratio" and outage.by == ("model_id",) and outage.window is FIVE
    assert outage.inputs == ("llm_errors.failed_requests", "llm_errors.total_requests")
    assert [t for _, t in outage.levels] == [5.0, 20.0] and outage.min_denominator == 20
    spend = rules["tenant_hourly_spend"]
    assert spend.kind == "rolling" and spend.by == ("tenant",) and spend.window is ONE
    assert spend.over_s == 3600 and spend.span == 60 and spend.stat == "sum"


def test_an_unknown_field_is_named_with_the_rule_and_a_suggestion() -> None:
    message = _load_error(BUDGET.replace("window: 5m", "windw: 5m"))
    assert "test.yaml" in message
    assert "rule 'budget_spend' (#1): windw: unknown field (did you mean 'window'?)" in message
    assert "rule 'budget_spend' (#1): window: missing" in message


def test_a_bad_window_lists_the_valid_ones() -> None:
    message = _load_error(BUDGET.replace("window: 5m", "window: 7m"))
    assert "rule 'budget_spend' (#1): window: '7m' is not a window; use one of 1m, 5m" in message


def test_a_missing_threshold_says_what_to_add() -> None:
    message = _load_error(BUDGET.replace("    above: {warning: 80, critical: 100}\n", ""))
    assert "rule 'budget_spend' (#1): above: missing: give exactly one of above or below" in (
        message
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("cost_budget.spend_percent", "cost_budget.spend_percnt"),
         "metric: unknown metric 'cost_budget.spend_percnt' (did you mean "
         "'cost_budget.spend_percent'?)"),
        (("stat: value", "stat: p95"),
         "stat: 'p95' does not apply to cost_budget.spend_percent, published as gauge (value)"),
        (("stat: value", "stat: p90"), "stat: 'p90' is not a stat"),
        (("critical: 100", "critical: 70"), "above: warning (80) must be below critical (70)"),
        (("critical: 100", "critcal: 100"),
         "above.critcal: unknown level (did you mean 'critical'?)"),
        (("critical: 100", "critical: 100%"), "above.critical: '100%' must be a number"),
        (("by: [budget_id]", "by: budget_id"), "by: 'budget_id' must be a list of tag names"),
        (("by: [budget_id]", "by: [budget_id]\n    where: {version: 2}"),
         "where.version: 2 is not text; tag values are strings: quote it"),
        (("by: [budget_id]", "by: [budget_id]\n    min_denominator: 5"),
         "min_denominator: only applies to a ratio rule"),
        (("by: [budget_id]", "by: [budget_id]\n    over: 1h"),
         "over: a rolling sum needs a stat that adds up over windows"),
        (("by: [budget_id]", "by: [budget_id]\n    below: {warning: 1}"),
         "above: both given: give exactly one of above or below"),
        (("by: [budget_id]", "by: [budget_id]\n    stat: value"), "duplicate key 'stat'"),
        (("name: budget_spend", "name: budget spend"), "rule #1: name: 'budget spend' must be"),
    ],
)  # fmt: skip
def test_mistakes_fail_at_load_naming_rule_and_field(
    change: tuple[str, str], expected: str
) -> None:
    message = _load_error(BUDGET.replace(*change))
    assert expected in message, message
    if "rule #1" not in expected and "duplicate key" not in expected:
        assert "rule 'budget_spend' (#1)" in message


def test_ratio_and_rolling_mistakes() -> None:
    ratio = """
rules:
  - name: outage
    ratio: {numerator: llm_errors.failed_requests, denomintor: llm_errors.total_requests}
    stat: p95
    window: 5m
    above: {critical: 20}
"""
    message = _load_error(ratio)
    assert "rule 'outage' (#1): ratio.denomintor: unknown field (did you mean 'denominator'?)" in (
        message
    )
    assert "rule 'outage' (#1): ratio.denominator: missing" in message
    rolling = """
rules:
  - name: spend
    metric: cost_api.total_cost_usd
    stat: sum
    window: 5m
    over: 12m
    above: {critical: 20}
"""
    assert "over: 12m must be a multiple of the window (5m)" in _load_error(rolling)
    assert "over: 5m must be a multiple" in _load_error(rolling.replace("12m", "5m"))


def test_every_problem_is_reported_at_once_and_names_are_unique() -> None:
    text = BUDGET + BUDGET.split("rules:\n", 1)[1].replace("window: 5m", "window: 2m")
    text += BUDGET.split("rules:\n", 1)[1]
    message = _load_error(text)
    assert "rule 'budget_spend' (#2): window: '2m' is not a window" in message
    assert "rule 'budget_spend' (#3): name: also the name of rule #1" in message
    assert "2 problem(s)" in message
    assert "expected a mapping with a 'rules:' list" in _load_error("- name: x\n")
    assert parse_rules("rules: []\n") == []


def test_known_metrics_match_what_the_normaliser_publishes() -> None:
    """The load-time metric check must not reject a real metric nor accept a stale one."""
    sim = EventSimulator(seed=11)
    published: set[str] = set()
    for variant in MAPPED_VARIANTS:
        for i in range(40):
            event = sim.make(variant, datetime.fromtimestamp(T0 + i, UTC))
            for point in points_from_event(event):
                published |= {f"{point.measurement}.{name}" for name in point.fields}
    custom = {name for name in published if name.startswith("llm_model_performance.custom.")}
    assert published - custom == set(KNOWN_METRICS)


# --- threshold rules -------------------------------------------------------------------------


def _budget(n: int, percent: float, budget: str = "b1", **tags: str) -> AggregatedMetric:
    tags = {"source_module": "llm-cost-ops", "alert_type": "threshold"} | tags
    return _result(
        "cost_budget.spend_percent", FIVE, n, GaugeValues(value=percent), budget_id=budget, **tags
    )


def test_budget_rule_starts_escalates_and_ends_one_episode() -> None:
    engine = _engine(BUDGET)
    out = [(n, engine.observe(_budget(n, p))) for n, p in enumerate([50, 85, 95, 120, 90, 60])]
    alerts = [(n, a) for n, found in out for a in found]
    assert [(n, a.phase) for n, a in alerts] == [
        (1, Phase.STARTED), (3, Phase.ESCALATED), (5, Phase.ENDED)
    ]  # fmt: skip
    started, escalated, ended = (a for _, a in alerts)
    expected = AnomalyEvent(
        event_id=started.event.event_id,
        source_module=SourceModule.LLM_COST_OPS,
        anomaly_type=AnomalyType.SPIKE,
        anomaly_score=0.6,
        baseline=80.0,
        observed=85.0,
        deviation=85.0 - 80.0,
        timestamp=_at(FIVE, 1),
        metric="rule:budget_spend",
    )
    assert started.event == expected
    assert started.key == ("rule:budget_spend@five_minutes", (("budget_id", "b1"),))
    assert started.window_s == 300 and started.raised_at == _at(FIVE, 1)
    assert rule_name(started) == "budget_spend"
    e = escalated.event
    assert (e.anomaly_score, e.baseline, e.observed, e.deviation) == (0.9, 100.0, 120.0, 20.0)
    assert e.event_id == started.event.event_id and e.timestamp == _at(FIVE, 1)
    e = ended.event
    assert (e.anomaly_score, e.baseline, e.observed, e.deviation) == (0.9, 100.0, 60.0, -40.0)
    assert e.event_id == started.event.event_id and e.timestamp == _at(FIVE, 1)
    assert ended.ended_at == _at(FIVE, 5) and ended.key == started.key


def test_event_ids_are_deterministic_per_rule_group_and_start() -> None:
    def ids(budget: str) -> list[uuid.UUID]:
        engine = _engine(BUDGET)
        seq = [engine.observe(_budget(n, p, budget)) for n, p in enumerate([90, 95, 10])]
        return [a.event.event_id for found in seq for a in found]

    first = ids("b1")
    assert len(first) == 2 and first[0] == first[1] == ids("b1")[0]
    assert ids("b2")[0] != first[0]


def test_a_critical_start_does_not_escalate_and_a_below_rule_is_a_drop() -> None:
    engine = _engine(BUDGET)
    assert [a.phase for a in engine.observe(_budget(0, 130))] == [Phase.STARTED]
    assert engine.observe(_budget(1, 140)) == []
    below = _engine("""
rules:
  - name: compliance
    metric: governance_compliance.score
    stat: value
    window: 1m
    by: [framework]
    below: {warning: 0.8, critical: 0.5}
""")
    got = []
    for n, score in enumerate([0.9, 0.7, 0.4, 0.95]):
        metric = _result("governance_compliance.score", ONE, n, GaugeValues(value=score),
                         framework="soc2", source_module="llm-governance-dashboard")  # fmt: skip
        got += [(n, a.phase, a.event) for a in below.observe(metric)]
    assert [(n, phase) for n, phase, _ in got] == [
        (1, Phase.STARTED), (2, Phase.ESCALATED), (3, Phase.ENDED)
    ]  # fmt: skip
    start = got[0][2]
    assert start.anomaly_type is AnomalyType.DROP and start.anomaly_score == 0.6
    assert start.deviation == pytest.approx(0.7 - 0.8)
    assert got[1][2].baseline == 0.5 and got[2][2].observed == 0.95


def test_series_of_one_group_combine_sum_for_totals_and_worst_for_levels() -> None:
    # two series of one budget: the highest counts, not their sum
    engine = _engine(BUDGET)
    assert engine.observe(_budget(0, 70, alert_type="threshold")) == []
    (alert,) = engine.observe(_budget(0, 85, alert_type="exceeded"))
    assert alert.event.observed == 85.0
    # spend of one tenant across providers adds up; another tenant is its own group
    spend = _engine("""
rules:
  - name: tenant_spend
    metric: cost_api.total_cost_usd
    stat: sum
    window: 5m
    by: [tenant]
    where: {environment: production}
    above: {critical: 10}
""")

    def cost(n: int, usd: float, tenant: str, provider: str, env: str = "production") -> list:
        tags = {"tenant": tenant, "provider": provider, "environment": env}
        metric = _result("cost_api.total_cost_usd", FIVE, n, _total(usd), **tags)
        return spend.observe(metric)

    assert cost(0, 6.0, "tenant-a", "openai") == []
    assert cost(0, 100.0, "tenant-a", "openai", env="staging") == [], "where filters it out"
    (started,) = cost(0, 5.0, "tenant-a", "anthropic")
    assert started.event.observed == 6.0 + 5.0 and started.phase is Phase.STARTED
    assert started.key[1] == (("tenant", "tenant-a"),)
    assert cost(0, 4.0, "tenant-b", "openai") == []
    # the next window waits for both providers of tenant-a before it can end the episode
    assert cost(1, 3.0, "tenant-a", "openai") == []
    (ended,) = cost(1, 2.0, "tenant-a", "anthropic")
    assert ended.phase is Phase.ENDED and ended.event.observed == 3.0 + 2.0
    assert spend.groups == 2


def test_a_window_missing_an_expected_series_is_judged_when_the_next_arrives() -> None:
    engine = _engine("""
rules:
  - name: tenant_spend
    metric: cost_api.total_cost_usd
    stat: sum
    window: 5m
    by: [tenant]
    above: {critical: 10}
""")

    def cost(n: int, usd: float, provider: str) -> list[Alert]:
        values = _total(usd)
        return engine.observe(
            _result("cost_api.total_cost_usd", FIVE, n, values, tenant="t", provider=provider)
        )

    assert cost(0, 1.0, "openai") + cost(0, 1.0, "anthropic") == []
    assert cost(1, 20.0, "openai") == [], "anthropic's result for window 1 may still come"
    started, ended = cost(2, 1.0, "openai")
    assert (started.phase, started.event.timestamp, started.event.observed) == (
        Phase.STARTED, _at(FIVE, 1), 20.0
    )  # fmt: skip
    assert (ended.phase, ended.ended_at, ended.event.observed) == (Phase.ENDED, _at(FIVE, 2), 1.0)


def test_a_result_without_a_by_tag_is_skipped_and_counted() -> None:
    engine = _engine(BUDGET)
    metric = _result("cost_budget.spend_percent", FIVE, 0, GaugeValues(value=99.0))
    assert engine.observe(metric) == [] and engine.groups == 0
    assert engine.skipped == {"budget_spend: missing a 'by' tag": 1}
    other_window = _result(
        "cost_budget.spend_percent", ONE, 0, GaugeValues(value=99.0), budget_id="b1"
    )
    assert engine.observe(other_window) == [] and engine.groups == 0


# --- ratio rules -----------------------------------------------------------------------------

OUTAGE = """
rules:
  - name: model_outage
    ratio: {numerator: llm_errors.failed_requests, denominator: llm_errors.total_requests}
    stat: sum
    window: 5m
    by: [model_id]
    min_denominator: 20
    above: {warning: 5, critical: 20}
"""


def _errors(engine: RuleEngine, n: int, half: str, total: float, **tags: str) -> list[Alert]:
    tags = {"model_id": "gpt-4o", "source_module": "llm-observatory"} | tags
    name = f"llm_errors.{half}_requests"
    return engine.observe(_result(name, FIVE, n, _total(total), **tags))


def test_ratio_waits_for_both_halves_then_starts_escalates_and_ends() -> None:
    engine = _engine(OUTAGE)
    assert _errors(engine, 0, "failed", 3) == [], "the denominator has not arrived"
    (started,) = _errors(engine, 0, "total", 40)
    assert started.phase is Phase.STARTED
    assert started.event.observed == pytest.approx(100 * 3 / 40)
    assert started.event.baseline == 5.0 and started.event.anomaly_score == 0.6
    assert started.event.source_module is SourceModule.LLM_OBSERVATORY
    assert started.key == ("rule:model_outage@five_minutes", (("model_id", "gpt-4o"),))
    assert _errors(engine, 1, "total", 100) == [], "halves arrive in either order"
    (escalated,) = _errors(engine, 1, "failed", 30)
    assert escalated.phase is Phase.ESCALATED
    assert escalated.event.observed == pytest.approx(100 * 30 / 100)
    assert _errors(engine, 2, "failed", 0) == []
    (ended,) = _errors(engine, 2, "total", 100)
    assert ended.phase is Phase.ENDED and ended.event.observed == 0.0
    assert ended.event.event_id == started.event.event_id


def test_ratio_sums_both_halves_over_a_models_series() -> None:
    engine = _engine(OUTAGE)
    assert _errors(engine, 0, "failed", 1, region="a") == []
    assert _errors(engine, 0, "total", 100, region="a") == []  # 1 %
    assert _errors(engine, 0, "failed", 9, region="b") == [], "b's total is not there yet"
    (started,) = _errors(engine, 0, "total", 100, region="b")
    assert started.event.observed == pytest.approx(100 * (1 + 9) / (100 + 100))


def test_min_denominator_keeps_a_few_requests_from_paging() -> None:
    engine = _engine(OUTAGE)
    assert _errors(engine, 0, "failed", 1) + _errors(engine, 0, "total", 1) == []
    assert _errors(engine, 1, "failed", 10) + _errors(engine, 1, "total", 19) == []
    (started,) = _errors(engine, 2, "failed", 10) + _errors(engine, 2, "total", 20)
    assert started.event.observed == pytest.approx(100 * 10 / 20)
    assert started.event.anomaly_score == 0.9, "straight into critical"
    # too little traffic to call it an outage any more: the episode ends
    (ended,) = _errors(engine, 3, "failed", 5) + _errors(engine, 3, "total", 6)
    assert ended.phase is Phase.ENDED


# --- rolling sums ----------------------------------------------------------------------------

ROLLING = """
rules:
  - name: tenant_spend
    metric: cost_api.total_cost_usd
    stat: sum
    window: 1m
    over: 5m
    by: [tenant]
    above: {warning: 1.0, critical: 2.0}
"""


def _spend(engine: RuleEngine, minute: int, usd: float, tenant: str = "t1") -> list[Alert]:
    metric = _result("cost_api.total_cost_usd", ONE, minute, _total(usd), tenant=tenant)
    return engine.observe(metric)


def _rolling(truth: dict[int, float], minute: int, span: int = 5) -> float:
    return sum(usd for m, usd in truth.items() if minute - span < m <= minute)


def test_rolling_sum_with_a_gap_and_a_duplicate_window() -> None:
    engine = _engine(ROLLING)
    truth: dict[int, float] = {}
    got = []
    # minute 3 never comes (counts as 0); minute 2 comes twice, the second replacing the first
    for minute, usd in [(0, 0.4), (1, 0.4), (2, 0.4), (2, 1.0), (4, 0.1), (5, 0.9),
                        (6, 0.2), (7, 0.1), (8, 0.1), (9, 0.1), (10, 0.1)]:  # fmt: skip
        truth[minute] = usd
        got += [(minute, a) for a in _spend(engine, minute, usd)]
    assert [(m, a.phase) for m, a in got] == [
        (2, Phase.STARTED), (5, Phase.ESCALATED), (10, Phase.ENDED)
    ], [(m, a.phase, a.event.observed) for m, a in got]  # fmt: skip
    started, escalated, ended = (a for _, a in got)
    assert started.event.observed == pytest.approx(0.4 + 0.4 + 0.4)
    assert escalated.event.observed == pytest.approx(_rolling(truth, 5))
    assert escalated.event.observed == pytest.approx(0.4 + 1.0 + 0 + 0.1 + 0.9)
    assert ended.event.observed == pytest.approx(_rolling(truth, 10))
    assert _rolling(truth, 9) >= 1.0 > _rolling(truth, 10)


def test_a_late_result_within_the_span_counts_when_the_group_is_next_judged() -> None:
    engine = _engine(ROLLING)
    assert _spend(engine, 0, 0.5) + _spend(engine, 2, 0.3) == []
    assert _spend(engine, 1, 0.4) == [], "older than the newest window: buffered only"
    # minute 3 closes minute 2, which is judged again with minute 1 in it
    (started,) = _spend(engine, 3, 0.1)
    assert started.event.timestamp == _at(ONE, 2) and started.raised_at == _at(ONE, 2)
    assert started.event.observed == pytest.approx(0.5 + 0.4 + 0.3)
    (escalated,) = _spend(engine, 4, 0.9)
    assert escalated.event.observed == pytest.approx(0.5 + 0.4 + 0.3 + 0.1 + 0.9)


# --- bounded state ---------------------------------------------------------------------------


def test_state_is_bounded_and_dropped_groups_end_their_episodes() -> None:
    engine = _engine(BUDGET, EngineLimits(max_groups=2, idle_windows=3))
    assert [a.phase for a in engine.observe(_budget(0, 90, "b1"))] == [Phase.STARTED]
    assert engine.observe(_budget(0, 10, "b2")) == []
    (ended,) = engine.observe(_budget(0, 10, "b3"))  # b1 is the least recently seen
    assert (ended.phase, ended.key[1], ended.event.observed) == (
        Phase.ENDED, (("budget_id", "b1"),), 90.0
    )  # fmt: skip
    assert engine.groups == 2
    # b2 and b3 go quiet; b4 reports on; after 3 quiet windows they are dropped
    for n in range(1, 5):
        engine.observe(_budget(n, 10, "b4"))
    assert engine.groups == 1
    # a rolling group keeps only its span of windows
    rolling = _engine(ROLLING)
    for minute in range(100):
        _spend(rolling, minute, 0.001)
    (state,) = rolling._states  # white box: the buffer itself
    assert [len(group.slots) for group in state.groups.values()] == [5]


def test_series_beyond_the_cap_are_summed_not_lost() -> None:
    engine = _engine(ROLLING.replace("    over: 5m\n", ""), EngineLimits(max_series=2))
    alerts = []
    for provider in ("p1", "p2", "p3", "p4"):
        metric = _result("cost_api.total_cost_usd", ONE, 0, _total(0.3), tenant="t1",
                         provider=provider)  # fmt: skip
        alerts += engine.observe(metric)
    assert [a.event.observed for a in alerts] == [pytest.approx(0.3 * 4)]


def test_counter_stats_and_flush() -> None:
    engine = _engine("""
rules:
  - name: threats
    metric: security_threats.count
    stat: rate
    window: 1m
    above: {critical: 1}
""")
    x = CounterValues(value=30, rate=0.5)
    y = CounterValues(value=42, rate=0.7)
    assert engine.observe(_result("security_threats.count", ONE, 0, x, threat_type="x")) == []
    (started,) = engine.observe(_result("security_threats.count", ONE, 0, y, threat_type="y"))
    assert started.event.observed == pytest.approx(0.5 + 0.7) and started.key[1] == ()
    assert started.event.source_module is SourceModule.LLM_ANALYTICS_HUB
    assert engine.flush() == [], "the latest window was judged already"
