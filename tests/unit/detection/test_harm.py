"""Which way each metric's move is worth an alert (pipeline.detection.harm)."""

from __future__ import annotations

import pytest

from pipeline.detection.harm import Harm, harm, hurts


@pytest.mark.parametrize(
    ("metric", "direction"),
    [
        ("llm_latency.total_latency_ms.p95", Harm.RISE),
        ("llm_latency.ttft_ms.p50", Harm.RISE),
        ("llm_errors.error_rate_percent.p95", Harm.RISE),
        ("cost_tokens.total_cost_usd.sum", Harm.RISE),
        ("security_threats.count", Harm.RISE),
        ("governance_policy_violations.count", Harm.RISE),
        ("hub_composite.cost_per_request", Harm.RISE),
        ("hub_composite.system_health_score", Harm.FALL),
        ("governance_compliance.score", Harm.FALL),
        ("llm_throughput.requests_per_second.p95", Harm.EITHER),
        ("cost_api.request_count", Harm.EITHER),
        ("hub_events.count", Harm.EITHER),
        ("llm_errors.total_requests.p95", Harm.EITHER),
        ("my_custom.metric", Harm.EITHER),
    ],
)
def test_each_metric_has_the_direction_that_hurts(metric: str, direction: Harm) -> None:
    assert harm(metric) is direction


def test_a_move_hurts_only_in_its_metrics_direction() -> None:
    assert hurts("llm_latency.ttft_ms.p95", 10.0) and not hurts("llm_latency.ttft_ms.p95", -10.0)
    assert hurts("hub_composite.system_health_score", -5.0)
    assert not hurts("hub_composite.system_health_score", 5.0)
    assert hurts("hub_events.count", -5.0) and hurts("hub_events.count", 5.0)
