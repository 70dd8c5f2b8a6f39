"""The offset gate: in order, once, and gaps are noticed."""

from pipeline.stages.offset_gate import OffsetGate, Verdict


def test_in_order_offsets_are_admitted_and_repeats_refused() -> None:
    gate = OffsetGate()
    gate.start("p0", 5)
    assert [gate.check("p0", o) for o in (5, 6, 6, 5, 7)] == [
        Verdict.ADMIT,
        Verdict.ADMIT,
        Verdict.REPEAT,
        Verdict.REPEAT,
        Verdict.ADMIT,
    ]
    assert gate.expected("p0") == 8


def test_a_gap_is_refused_until_the_missing_offset_arrives() -> None:
    """What faust does when it drops messages during a rebalance: 20-22 never came."""
    gate = OffsetGate()
    gate.start("p0", 19)
    assert gate.check("p0", 19) is Verdict.ADMIT
    assert gate.check("p0", 23) is Verdict.GAP
    assert gate.check("p0", 24) is Verdict.GAP
    assert gate.expected("p0") == 20, "the caller seeks back here"
    verdicts = [gate.check("p0", o) for o in (20, 21, 22, 23, 24)]
    assert verdicts == [Verdict.ADMIT] * 5


def test_partitions_are_independent_and_forgotten_on_revocation() -> None:
    gate = OffsetGate()
    gate.start("a", 0)
    gate.start("b", 100)
    assert gate.check("a", 0) is Verdict.ADMIT
    assert gate.check("b", 0) is Verdict.REPEAT
    gate.forget(["a"])
    assert not gate.knows("a") and gate.knows("b")


def test_skip_to_accepts_retention_loss_and_reports_it() -> None:
    gate = OffsetGate()
    gate.start("p0", 10)
    assert gate.skip_to("p0", 40) == 30
    assert gate.check("p0", 40) is Verdict.ADMIT
    assert gate.skip_to("p0", 3) == 0 and gate.expected("p0") == 41
