"""The same input through differently deployed workers publishes the same conclusions:
one worker twice, two processes of one group, and two workers of which one is killed
with SIGKILL halfway and replaced by one on an empty data directory (``hub evaluate
--live --compare``, compact: ~4 hours of event time, one labelled incident)."""

from __future__ import annotations

from agents.bench.compare_runs import compare


def test_one_worker_twice_two_processes_and_a_killed_worker_agree(kafka_bootstrap: str) -> None:
    result = compare(
        ["single", "single", "processes2", "kill"],
        seed=701,
        days=0.17,
        quiet_days=0.105,
        kinds=("prompt_injection",),
        timeout_s=600,
    )
    reference = result.runs[0]
    assert len(reference.started) >= 5, "too few alerts for the comparison to mean much"
    assert reference.correlations, "no incident to compare"
    assert result.runs[3].killed, "the kill run never reached its halfway point"
    assert result.score.incidents and all(i.detected for i in result.score.incidents)
    for run in result.runs[1:]:
        assert run.anomalies == reference.anomalies, (run.mode, result.table())
        assert run.correlations == reference.correlations, (run.mode, result.table())
