"""Labelled incident scenarios: multi-module LLM traffic minute by minute, with known truth.

Pure and seeded. A :class:`Scenario` draws, for every minute, the requests of
three models and four tenants (diurnal load, lognormal latencies, Poisson counts,
noise) plus security and governance counts, and injects incidents whose start,
end, root cause and affected series are recorded as :class:`IncidentLabel`:

* ``prompt_injection``: threats ×15 on one model's traffic; that model's latency
  ×2.5 and spend ×3 (long attack prompts); policy violations ×10 a minute later.
  Root cause: the threat count.
* ``provider_outage``: one provider's model fails 40 % of requests; its latency
  ×3 (timeouts and retries). Root cause: its error rate.
* ``runaway_tenant``: one tenant sends ten times its requests; its spend follows.
  Root cause: that tenant's spend.
* ``latency_drift``: one model's latency creeps up by 60 % over six hours.
* ``rollout_shift``: a new version makes half the requests of one model 40 %
  faster and half 40 % slower: the mean holds, the distribution widens.

Each minute is available as events (``events``; what ``hub simulate`` writes or
produces) and as the 1-minute metrics the hub would publish for it
(``metrics``; numpy on the same samples), which the evaluation scores fast.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from pipeline.models.metrics import (
    AggregatedMetric,
    CounterValues,
    HistogramBucket,
    HistogramMetric,
    StatisticalMeasures,
    TimeWindow,
)
from pipeline.windows.histograms import HISTOGRAM_BOUNDS, OVERFLOW_BOUND

MINUTE = 60
DAY = 86_400
ENV = "production"


@dataclass(frozen=True, slots=True)
class Model:
    model_id: str
    provider: str
    rate_per_min: float
    median_ms: float
    usd_per_request: float


MODELS = (
    Model("gpt-4o", "openai", 60.0, 900.0, 0.012),
    Model("claude-3-haiku", "anthropic", 40.0, 450.0, 0.002),
    Model("llama-3-70b", "self-hosted", 30.0, 700.0, 0.004),
)
TENANTS = ("tenant-a", "tenant-b", "tenant-c", "tenant-d")
TENANT_SHARE = (0.4, 0.3, 0.2, 0.1)
INCIDENT_KINDS = (
    "prompt_injection",
    "provider_outage",
    "runaway_tenant",
    "latency_drift",
    "rollout_shift",
)

SeriesId = tuple[str, tuple[tuple[str, str], ...]]
"""(metric name as alerted, sorted tags): the unit labels and alerts are matched on."""


def latency_series(model: str) -> SeriesId:
    return ("llm_latency.total_latency_ms.p95", _tags("llm-observatory", model_id=model))


LATENCY_FIELDS_DERIVED = ("ttft_ms", "processing_time_ms", "tokens_per_second")
"""Fields of a latency event derived from its total (the simulator scales them with it)."""


def latency_consequences(model: str) -> tuple[SeriesId, ...]:
    """Every other series a change of the model's total latency moves: the derived fields'
    p95, median and histogram."""
    tags = _tags("llm-observatory", model_id=model)
    return tuple(
        (f"llm_latency.{field}.{stat}", tags)
        for field in LATENCY_FIELDS_DERIVED
        for stat in ("p95", "p50", "distribution")
    )


def median_series(model: str) -> SeriesId:
    """Where a slow drift of the model's latency is alerted (its median's CUSUM)."""
    return ("llm_latency.total_latency_ms.p50", _tags("llm-observatory", model_id=model))


def spread_series(model: str) -> SeriesId:
    """Where a distribution shift of the model's latency is alerted (its spread)."""
    return ("llm_latency.total_latency_ms.distribution", _tags("llm-observatory", model_id=model))


def error_series(model: str) -> SeriesId:
    return ("llm_errors.error_rate_percent.p95", _tags("llm-observatory", model_id=model))


def spend_series(model: str) -> SeriesId:
    return ("cost_tokens.total_cost_usd.sum", _tags("llm-cost-ops", model_id=model))


def tenant_spend_series(tenant: str) -> SeriesId:
    return ("cost_api.total_cost_usd.sum", _tags("llm-cost-ops", tenant=tenant))


THREATS: SeriesId = ("security_threats.count", (("environment", ENV),
                                               ("source_module", "llm-sentinel")))  # fmt: skip
VIOLATIONS: SeriesId = (
    "governance_policy_violations.count",
    (("environment", ENV), ("source_module", "llm-policy-engine")),
)


def _tags(module: str, **extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"environment": ENV, "source_module": module, **extra}.items()))


@dataclass(frozen=True, slots=True)
class IncidentLabel:
    kind: str
    start: float
    end: float
    root_cause: SeriesId
    affected: tuple[SeriesId, ...]
    also_root: tuple[SeriesId, ...] = ()
    """Series that name the same cause as well (a runaway tenant: its requests, whose
    spend follows; a model's latency drift or rollout: the same statistic of the fields
    derived from its total latency); a root on one of them is correct too."""

    def to_json(self) -> dict[str, object]:
        def series(s: SeriesId) -> dict[str, object]:
            return {"metric": s[0], "tags": dict(s[1])}

        return {
            "incident": self.kind,
            "start": datetime.fromtimestamp(self.start, UTC).isoformat(),
            "end": datetime.fromtimestamp(self.end, UTC).isoformat(),
            "root_cause": series(self.root_cause),
            "affected": [series(s) for s in self.affected],
        }


@dataclass(slots=True)
class MinuteTraffic:
    """One minute's samples, by series: what both the events and the metrics come from."""

    start: float
    latency_ms: dict[str, np.ndarray] = field(default_factory=dict)
    error_rate_percent: dict[str, float] = field(default_factory=dict)
    spend_usd: dict[str, np.ndarray] = field(default_factory=dict)
    tenant_spend_usd: dict[str, np.ndarray] = field(default_factory=dict)
    threats: int = 0
    violations: int = 0


def _diurnal(t: float) -> float:
    """Load relative to the daily mean: a trough at 04:00 UTC, a peak at 16:00."""
    hour = (t % DAY) / 3600.0
    return 1.0 + 0.45 * math.sin(2 * math.pi * (hour - 10.0) / 24.0)


class Scenario:
    """``days`` of minutes from ``start`` (epoch s, minute-aligned); incidents on day 2+."""

    def __init__(
        self,
        seed: int,
        days: float = 2.0,
        start: float = 1_767_225_600.0,
        incidents: tuple[str, ...] = INCIDENT_KINDS,
        quiet_days: float = 1.0,
    ) -> None:
        self.seed = seed
        self.start = start - start % MINUTE
        self.minutes = int(days * DAY / MINUTE)
        self._rng = np.random.default_rng(seed)
        self.labels = self._plan(incidents, quiet_days)

    # ------------------------------------------------------------------ plan
    def _plan(self, kinds: tuple[str, ...], quiet_days: float) -> list[IncidentLabel]:
        """Non-overlapping incidents after ``quiet_days`` (warm-up), in shuffled order."""
        rng = np.random.default_rng(self.seed + 10_000)
        first = self.start + quiet_days * DAY
        last = self.start + self.minutes * MINUTE
        order = list(kinds)
        rng.shuffle(order)
        durations = [
            {"latency_drift": 6 * 3600, "rollout_shift": 2 * 3600}.get(
                kind, int(rng.integers(10, 31)) * MINUTE
            )
            for kind in order
        ]
        gap = 1800  # at least half an hour of normal traffic around each incident
        free = last - first - sum(durations) - gap * (len(order) + 1)
        if free < 0:
            needed = (sum(durations) + gap * (len(order) + 1)) / 3600
            raise ValueError(
                f"{len(order)} incidents need {needed:.1f} h after the quiet days; the "
                f"scenario has {(last - first) / 3600:.1f} h (raise --days)"
            )
        shares = rng.dirichlet(np.ones(len(order) + 1)) if order else np.ones(1)
        labels = []
        begin = first
        for kind, duration, share in zip(order, durations, shares, strict=False):
            begin += gap + (free * share) // MINUTE * MINUTE
            labels.append(self._label(kind, begin, begin + duration, rng))
            begin += duration
        return labels

    def _label(
        self, kind: str, start: float, end: float, rng: np.random.Generator
    ) -> IncidentLabel:
        model = MODELS[int(rng.integers(0, len(MODELS)))].model_id
        if kind == "prompt_injection":
            latency = (latency_series(model), median_series(model), *latency_consequences(model))
            affected = (THREATS, *latency, spend_series(model), VIOLATIONS)
            return IncidentLabel(kind, start, end, THREATS, affected)
        if kind == "provider_outage":
            model = "claude-3-haiku"
            failed = ("llm_errors.failed_requests.p95", error_series(model)[1])
            latency = (latency_series(model), median_series(model), *latency_consequences(model))
            affected = (error_series(model), failed, *latency)
            return IncidentLabel(kind, start, end, error_series(model), affected)
        if kind == "runaway_tenant":
            tenant = TENANTS[int(rng.integers(0, len(TENANTS)))]
            series = tenant_spend_series(tenant)
            requests = ("cost_api.request_count", series[1])  # its requests are the cause
            return IncidentLabel(kind, start, end, series, (series, requests), (requests,))
        if kind == "rollout_shift":
            spread = spread_series(model)
            # half 40 % faster, half 40 % slower: the median moves too (by about -8 %)
            affected = (spread, latency_series(model), median_series(model))
            affected += latency_consequences(model)
            same = tuple(s for s in latency_consequences(model) if s[0].endswith(".distribution"))
            return IncidentLabel(kind, start, end, spread, affected, same)
        series = median_series(model)  # latency_drift: every quantile moves, the median first
        affected = (series, latency_series(model), *latency_consequences(model))
        same = tuple(s for s in latency_consequences(model) if s[0].endswith(".p50"))
        return IncidentLabel(kind, start, end, series, affected, same)

    # ------------------------------------------------------------------ traffic
    def traffic(self) -> Iterator[MinuteTraffic]:
        for i in range(self.minutes):
            yield self._minute(self.start + i * MINUTE)

    def _active(self, t: float) -> list[IncidentLabel]:
        return [label for label in self.labels if label.start <= t < label.end]

    def _minute(self, t: float) -> MinuteTraffic:
        rng = self._rng
        load = _diurnal(t) * float(rng.normal(1.0, 0.05))
        out = MinuteTraffic(t)
        active = self._active(t)
        threat_boost = violation_boost = 1.0
        tenant_boost = dict.fromkeys(TENANTS, 1.0)
        for model in MODELS:
            n = max(int(rng.poisson(model.rate_per_min * load)), 5)
            latency = rng.lognormal(math.log(model.median_ms), 0.35, n)
            error_rate = max(0.0, float(rng.normal(0.8, 0.25)))
            cost_factor = 1.0
            for label in active:
                target = _target_model(label)
                if label.kind == "prompt_injection" and target == model.model_id:
                    latency *= 2.5
                    cost_factor = 3.0
                    threat_boost = 15.0
                    if t >= label.start + MINUTE:
                        violation_boost = 10.0
                elif label.kind == "provider_outage" and target == model.model_id:
                    error_rate = float(rng.normal(40.0, 3.0))
                    latency *= 3.0
                elif label.kind == "latency_drift" and target == model.model_id:
                    latency *= 1.0 + 0.6 * (t - label.start) / (label.end - label.start)
                elif label.kind == "rollout_shift" and target == model.model_id:
                    half = n // 2
                    latency[:half] *= 0.6
                    latency[half:] *= 1.4
                elif label.kind == "runaway_tenant":
                    tenant = dict(label.root_cause[1])["tenant"]
                    tenant_boost[tenant] = 10.0
            out.latency_ms[model.model_id] = np.round(latency, 2)
            out.error_rate_percent[model.model_id] = round(error_rate, 3)
            tokens = rng.lognormal(math.log(900), 0.5, n)
            out.spend_usd[model.model_id] = np.round(
                tokens / 900 * model.usd_per_request * cost_factor, 6
            )
        for tenant, share in zip(TENANTS, TENANT_SHARE, strict=True):
            n = max(int(rng.poisson(25 * share * load * tenant_boost[tenant])), 1)
            out.tenant_spend_usd[tenant] = np.round(rng.lognormal(math.log(0.01), 0.4, n), 6)
        out.threats = int(rng.poisson(3.0 * load * threat_boost))
        out.violations = int(rng.poisson(1.5 * load * violation_boost))
        return out

    # ------------------------------------------------------------------ metrics
    def histograms(self, minute: MinuteTraffic) -> list[HistogramMetric]:
        """The 1-minute latency histograms the hub publishes for this minute (OpenTelemetry
        bounds, bucket ``i`` holding ``(bounds[i-1], bounds[i]]``, as the engine counts)."""
        bounds = np.array(HISTOGRAM_BOUNDS[("llm_latency", "total_latency_ms")])
        uppers = [*bounds.tolist(), OVERFLOW_BOUND]
        end = datetime.fromtimestamp(minute.start + MINUTE, UTC)
        out = []
        for model, latency in minute.latency_ms.items():
            counts = np.bincount(np.searchsorted(bounds, latency), minlength=len(uppers))
            out.append(
                HistogramMetric(
                    metric_type="histogram",
                    name="llm_latency.total_latency_ms",
                    stats=_stats(latency),
                    buckets=[
                        HistogramBucket(upper_bound=upper, count=count)
                        for upper, count in zip(uppers, counts.tolist(), strict=True)
                    ],
                    tags=dict(latency_series(model)[1]),
                    timestamp=end,
                )
            )
        return out

    def metrics(self, minute: MinuteTraffic) -> list[AggregatedMetric]:
        """The 1-minute metrics the hub publishes for this minute (numpy, same samples)."""
        start = datetime.fromtimestamp(minute.start, UTC)
        end = datetime.fromtimestamp(minute.start + MINUTE, UTC)

        def metric(
            name: str, tags: tuple[tuple[str, str], ...], values: object
        ) -> AggregatedMetric:
            return AggregatedMetric(
                name=name,
                window=TimeWindow.one_minute,
                window_start=start,
                window_end=end,
                values=values,
                tags=dict(tags),
            )

        out = []
        for model, latency in minute.latency_ms.items():
            out.append(metric("llm_latency.total_latency_ms", latency_series(model)[1],
                              _stats(latency)))  # fmt: skip
            errors = np.array([minute.error_rate_percent[model]])
            out.append(metric("llm_errors.error_rate_percent", error_series(model)[1],
                              _stats(errors)))  # fmt: skip
            out.append(metric("cost_tokens.total_cost_usd", spend_series(model)[1],
                              _stats(minute.spend_usd[model])))  # fmt: skip
        for tenant, spend in minute.tenant_spend_usd.items():
            out.append(metric("cost_api.total_cost_usd", tenant_spend_series(tenant)[1],
                              _stats(spend)))  # fmt: skip
        for series, count in ((THREATS, minute.threats), (VIOLATIONS, minute.violations)):
            if count:
                counter = CounterValues(value=count, rate=count / MINUTE)
                out.append(metric(series[0], series[1], counter))
        return out


def _target_model(label: IncidentLabel) -> str | None:
    for _, tags in label.affected:
        model = dict(tags).get("model_id")
        if model is not None:
            return model
    return None


def _stats(values: np.ndarray) -> StatisticalMeasures:
    return StatisticalMeasures(
        avg=float(values.mean()),
        min=float(values.min()),
        max=float(values.max()),
        p50=float(np.percentile(values, 50)),
        p95=float(np.percentile(values, 95)),
        p99=float(np.percentile(values, 99)),
        stddev=float(values.std()),
        count=int(values.size),
        sum=float(values.sum()),
    )
