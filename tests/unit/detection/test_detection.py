"""The series anomaly detector, its calibration, and `hub detect`, on synthetic series with
known incidents (ground truth from numpy, never from the detector)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.detection.episodes import ENDED, ESCALATED, STARTED, EpisodeTracker
from pipeline.detection.offline import detect_csv, parse_time
from pipeline.detection.scoring import score_from_probability
from pipeline.detection.series import DetectorConfig, SeriesDetector, point_agrees
from pipeline.detection.tail import TailModel, nominal_probability
from pipeline.models.correlation import AnomalyEvent, AnomalyType

STEP = 300  # 5-minute points
DAY = 288
T0 = 1_700_000_000
REPO = Path(__file__).resolve().parents[3]


def _series(seed: int, days: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Daily seasonality (±30 %), Gaussian noise: what a latency p95 looks like."""
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(days * DAY) * STEP
    values = 100 + 30 * np.sin(2 * np.pi * (t % 86_400) / 86_400) + rng.normal(0, 3, t.size)
    return t.astype(float), values


def _run(t: np.ndarray, values: np.ndarray, config: DetectorConfig | None = None) -> list:
    detector = SeriesDetector(config or DetectorConfig())
    return [detector.update(ts, v) for ts, v in zip(t.tolist(), values.tolist(), strict=True)]


# ---------------------------------------------------------------------- calibration
@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: np.abs(rng.normal(size=n)),
        lambda rng, n: rng.exponential(size=n),
        lambda rng, n: rng.lognormal(sigma=1.0, size=n),
    ],
)
def test_tail_probability_matches_the_empirical_share_in_the_bulk(draw) -> None:
    rng = np.random.default_rng(7)
    data = draw(rng, 4000)
    tail = TailModel(memory=100_000)  # no decay: compare with the whole sample
    for value in data:
        tail.add(float(value))
    for q in (0.5, 0.75, 0.9):
        value = float(np.quantile(data, q))
        assert tail.probability(value) == pytest.approx(float(np.mean(data >= value)), abs=0.02)


def test_tail_extrapolation_is_within_a_factor_of_the_true_tail_for_exponential_data() -> None:
    rng = np.random.default_rng(8)
    tail = TailModel(memory=100_000, precedent=0)
    for value in rng.exponential(size=5000):
        tail.add(float(value))
    for value in (6.0, 9.0, 12.0):  # true P = exp(-value): 2.5e-3, 1.2e-4, 6e-6
        ratio = tail.probability(value) / math.exp(-value)
        assert 0.3 < ratio < 3.0, (value, ratio)


def test_a_degenerate_history_falls_back_to_the_nominal_tail() -> None:
    tail = TailModel()
    for _ in range(500):
        tail.add(0.0)
    for value in (1.0, 3.0, 6.0):
        assert tail.probability(value) == pytest.approx(nominal_probability(value))


def test_a_value_seen_before_is_no_rarer_than_its_precedents_say() -> None:
    rng = np.random.default_rng(9)
    lone, repeated = TailModel(), TailModel()
    for i in range(3000):
        value = abs(float(rng.normal()))
        lone.add(value)
        repeated.add(40.0 if i % 600 == 599 else value)  # five earlier 40s
        lone.probability(value), repeated.probability(value)  # keeps the bulk's edge current
    assert lone.probability(40.0) < 1e-12
    assert repeated.probability(40.0) >= 4 / (3000 + 1) - 1e-12


def test_scores_are_minus_log10_p_over_six() -> None:
    assert score_from_probability(1e-3) == pytest.approx(0.5)
    assert score_from_probability(10**-4.8) == pytest.approx(0.8)
    assert score_from_probability(1.0) == 0.0 and score_from_probability(1e-30) == 1.0


def test_gaussian_noise_rarely_scores_above_the_alert_threshold() -> None:
    """p ≤ 1e-3 per point (Bonferroni over three statistics) on i.i.d. noise."""
    rng = np.random.default_rng(10)
    values = rng.normal(50, 4, 20_000)
    scored = _run(np.arange(values.size) * 60.0, values)
    point = np.array([s.point_score for s in scored[DetectorConfig().warmup :]])
    assert float(np.mean(point >= 0.5)) < 1e-3
    assert sum(s.episode_start for s in scored) <= 3


# ---------------------------------------------------------------------- the detector
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_injected_spikes_drops_and_shifts_are_found_where_they_start(seed: int) -> None:
    t, values = _series(seed)
    values[600] += 60
    values[900] -= 50
    values[1200:1205] += 45  # five bad points: one episode
    values[1500:] += 25  # a level shift that stays
    scored = _run(t, values)
    starts = {i: s for i, s in enumerate(scored) if s.episode_start}
    assert starts.get(600) and starts[600].anomaly_type is AnomalyType.SPIKE
    assert starts.get(900) and starts[900].anomaly_type is AnomalyType.DROP
    assert starts[600].score >= 0.8 and starts[900].score >= 0.8
    incident = [i for i in starts if 1200 <= i <= 1204]
    assert incident and incident[0] <= 1201, sorted(starts)
    assert all(starts[i].phase in (STARTED, ESCALATED) for i in incident)
    assert sum(starts[i].phase == STARTED for i in incident) == 1, "one episode"
    shift = [i for i in starts if 1500 <= i <= 1503]
    assert shift, f"the shift alerts within 3 points: {sorted(starts)}"
    assert not [i for i in starts if i > 1510], "the new level is learnt, not re-alerted"
    ends = [i for i, s in enumerate(scored) if s.episode_end]
    assert any(1205 <= i <= 1240 for i in ends), "the incident's episode ends"


def test_clean_seasonal_series_raise_no_alert() -> None:
    for seed in range(20, 24):
        t, values = _series(seed)
        assert not [i for i, s in enumerate(_run(t, values)) if s.episode_start], seed


def test_warm_up_scores_nothing() -> None:
    t, values = _series(1, days=1)
    values[100] += 500
    scored = _run(t, values)
    assert all(s.score == 0.0 for s in scored[: DetectorConfig().warmup])


def test_daily_seasonality_is_learned_per_series() -> None:
    """A square daily pattern (a batch job every night): the recent level alerts on each
    night's step; the seasonal profile, chosen once it predicts better, does not."""
    t = (T0 + np.arange(8 * DAY) * STEP).astype(float)
    night = ((t % 86_400) < 4 * 3600).astype(float)
    rng = np.random.default_rng(3)
    values = 20 + 60 * night + rng.normal(0, 1, t.size)
    starts = [i for i, s in enumerate(_run(t, values)) if s.episode_start]
    assert all(i < 3 * DAY for i in starts), starts  # nothing once two nights are known
    values[6 * DAY + 30] = 20.0  # the job did not run one night: a drop
    late = [i for i, s in enumerate(_run(t, values)) if s.episode_start and i > 3 * DAY]
    assert late and late[0] == 6 * DAY + 30


def test_a_quantised_flat_series_alerts_on_a_real_jump_only() -> None:
    """A CPU that sits at 2 % in steps of 0.01 for hours, then jumps to 40 %."""
    rng = np.random.default_rng(4)
    values = np.round(2 + rng.choice([0, 0, 0, 0.01, -0.01], size=1500), 2)
    values[1200] = 40.0
    scored = _run(np.arange(values.size) * 60.0, values)
    assert [i for i, s in enumerate(scored) if s.episode_start] == [1200]


def test_counts_have_a_poisson_floor() -> None:
    """A count of ~1.5 a window: a 4 is noise, a 25 is not."""
    rng = np.random.default_rng(5)
    counts = rng.poisson(1.5, 3000).astype(float)
    counts[2000] = 25
    detector = SeriesDetector()
    scored = [detector.update(i * 60.0, float(c), unit=1.0) for i, c in enumerate(counts)]
    starts = [i for i, s in enumerate(scored) if s.episode_start]
    assert 2000 in starts and len(starts) <= 2, starts
    assert scored[2000].score >= 0.8


def test_in_an_episode_the_row_score_stays_below_the_threshold_unless_it_escalates() -> None:
    t, values = _series(14, days=4)
    values[700:720] += 40
    scored = _run(t, values)
    cfg = DetectorConfig()
    for s in scored[701:800]:
        if s.phase != ESCALATED:
            assert s.score < cfg.alert_score
    assert (
        scored[700].score >= cfg.alert_score and max(s.point_score for s in scored[701:720]) > 0.5
    )


def test_episode_tracker_phases() -> None:
    tracker = EpisodeTracker(refractory=5, cooldown=2)
    phases = []
    for score in (0.1, 0.6, 0.7, 0.9, 0.1, 0.1, 0.6, 0.1, 0.1, 0.1, 0.1, 0.6):
        tracker.tick()
        phases.append(tracker.observe(0.0, score))
    assert phases[1] == STARTED and phases[3] == ESCALATED and phases[5] == ENDED
    assert phases[6] is None, "within the refractory period: no new episode"
    assert phases[11] == STARTED


# ---------------------------------------------------------------------- hub detect
def _csv(t: np.ndarray, values: np.ndarray) -> list[str]:
    return ["timestamp,value\n"] + [f"{int(a)},{b:.3f}\n" for a, b in zip(t, values, strict=True)]


def test_timestamps_as_real_files_write_them() -> None:
    assert parse_time("2014-04-01 00:00:00") == parse_time("2014-04-01T00:00:00Z")
    assert parse_time("2014-04-01T02:00:00+02:00") == parse_time("2014-04-01T00:00:00Z")
    assert parse_time("1396310400") == parse_time("1396310400000") == 1396310400.0
    with pytest.raises(ValueError, match="neither RFC 3339"):
        parse_time("yesterday")


def test_detect_csv_writes_anomaly_events_that_read_back() -> None:
    t, values = _series(50, days=3)
    values[700] += 80
    lines = _csv(t, values)
    lines.insert(5, "not-a-time,3\n")
    lines.insert(9, f"{int(t[10])},nan\n")
    report = detect_csv(lines, "llm_latency.p95")
    assert report.problems[0].startswith("line 6: ") and "line 10: " in report.problems[1]
    assert report.rows == t.size + 2 and report.scored == t.size
    events = [AnomalyEvent.from_wire(line) for line in report.lines]
    at_700 = [e for e in events if e.timestamp.timestamp() == t[700]]
    assert at_700 and at_700[0].anomaly_type is AnomalyType.SPIKE
    assert at_700[0].observed == pytest.approx(values[700], abs=1e-3)
    again = detect_csv(lines, "llm_latency.p95")
    assert again.lines == report.lines, "same input, same ids and scores"


def test_score_lines_align_with_every_input_row() -> None:
    """Repeated and out-of-order timestamps are scored in file order; a blank value and
    an unreadable row each get a line saying why."""
    t, values = _series(51, days=2)
    lines = ["timestamp,value\n"] + [
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(a))},{b:.3f}\n"
        for a, b in zip(t, values, strict=True)
    ]
    lines.insert(20, lines[19])  # a repeated timestamp (NAB's DST artefact)
    lines[30], lines[31] = lines[31], lines[30]  # out of order
    lines[40] = lines[40].split(",")[0] + ",\n"  # a blank value
    lines[50] = "garbage\n"
    report = detect_csv(lines, "m", scores=True)
    rows = [json.loads(line) for line in report.lines]
    assert len(rows) == len(lines) - 1 and [r["row"] for r in rows] == list(range(1, len(lines)))
    assert rows[39]["error"] == "blank value: skipped" and rows[39]["score"] is None
    assert "expected 2 columns" in rows[49]["error"]
    assert report.blank == 1 and len(report.problems) == 1
    assert rows[19]["timestamp"] == rows[18]["timestamp"]


def test_a_file_with_no_readable_row_is_an_error_that_says_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"no row could be scored.*expected a CSV"):
        detect_csv(["timestamp,value\n", "soon,1\n", "later,2\n"], "m")
    with pytest.raises(ValueError, match="timestamp,value"):
        detect_csv(["time,val\n", "1,2\n"], "m")


def test_hub_detect_command(tmp_path: Path) -> None:
    t, values = _series(60, days=2)
    values[400] -= 70
    src = tmp_path / "p95.csv"
    src.write_text("".join(_csv(t, values)))
    out = tmp_path / "alerts.jsonl"
    command = [sys.executable, "-m", "agents.cli.main", "detect", "--input", str(src)]
    done = subprocess.run(
        [*command, "--output", str(out)], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    events = [AnomalyEvent.from_wire(line) for line in out.read_text().splitlines()]
    assert any(e.timestamp.timestamp() == t[400] and e.metric == "p95" for e in events)
    assert f"{t.size} rows: {t.size} scored" in done.stderr
    src.write_text("timestamp,value\nnope,1\n")
    failed = subprocess.run(
        [*command, "--output", str(out)], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 1 and "no row could be scored" in failed.stderr


def test_a_point_that_contradicts_the_run_that_fired_does_not_open_an_episode() -> None:

    runs = (6, 24)
    after_incident = [3.0] * 20 + [0.1, -0.2, 0.0, -0.1]  # the last 24: mostly the incident
    # the 24-point mean is the rarest statistic and the point is back below the baseline
    assert not point_agrees(-0.1, after_incident, [0.5, 0.2, 1e-6], runs)
    # the same mean with a point that still lies on its side is news
    assert point_agrees(0.4, after_incident, [0.5, 0.2, 1e-6], runs)
    # the point's own residual firing needs no run to agree
    assert point_agrees(-6.0, after_incident, [1e-6, 0.2, 0.3], runs)
