"""Which way a metric's move is harm: what an alert is for.

The detector is two-sided (``hub detect`` knows nothing of a CSV's meaning), but the
hub's own series have a meaning: latency that falls back after an incident, spend that
drops, a health score that rises are good news, and an alert about them is noise a user
learns to ignore (on labelled scenarios most "drops" of latency were the end of a
drift the baseline had adapted to). The worker still *detects* both ways (the episode
keeps the series' baseline from learning an incident, whatever its sign); it only
publishes the episodes whose direction can hurt. Where either way can hurt (request
rates and counts, token volumes, a module's event count: a collapse or a surge), both
are alerted. Silences have no direction and are always alerted; a latency histogram's
shape hurts when it widens or moves mass into its upper buckets
(``pipeline.detection.distribution_shift.shape_worse``), not when it narrows back.
"""

from __future__ import annotations

from enum import Enum


class Harm(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    RISE = "rise"
    FALL = "fall"
    EITHER = "either"


RISE_HURTS: tuple[str, ...] = (
    "llm_latency.",
    "llm_errors.error_rate_percent",
    "llm_errors.failed_requests",
    "cost_tokens.total_cost_usd",
    "cost_api.total_cost_usd",
    "cost_resources.cost_usd",
    "cost_budget.spend_percent",
    "cost_budget.current_spend_usd",
    "security_threats.",
    "security_vulnerabilities.",
    "security_compliance_violations.",
    "security_auth.failures",
    "security_privacy.without_consent",
    "governance_policy_violations.",
    "hub_composite.cost_per_request",
)
"""Metric name prefixes (as alerted) whose fall is good news."""

FALL_HURTS: tuple[str, ...] = (
    "governance_compliance.score",
    "hub_composite.system_health_score",
    "hub_composite.error_adjusted_throughput",
    "hub_composite.security_adjusted_cost_efficiency",
    "hub_composite.compliance_weighted_performance",
)
"""Metric name prefixes whose rise is good news (scores where higher is better)."""


def harm(metric: str) -> Harm:
    """The direction in which ``metric`` (the alerted name, e.g. ``...p95``) hurts."""
    if metric.startswith(RISE_HURTS):
        return Harm.RISE
    if metric.startswith(FALL_HURTS):
        return Harm.FALL
    return Harm.EITHER


def hurts(metric: str, deviation: float) -> bool:
    """Is a move of ``deviation`` (observed − baseline) of ``metric`` worth an alert?"""
    direction = harm(metric)
    if direction is Harm.RISE:
        return deviation > 0
    if direction is Harm.FALL:
        return deviation < 0
    return True
