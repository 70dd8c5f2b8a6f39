"""One admission log decides which tag values are kept, for every process that reads it."""

from __future__ import annotations

import random

from pipeline.ingest.cardinality import OTHER
from pipeline.ingest.tag_admission import AdmissionLog


def _tags(tenant: str) -> tuple[tuple[str, str], ...]:
    return (("environment", "prod"), ("source_module", "llm-cost-ops"), ("tenant", tenant))


def test_the_first_cap_values_of_the_log_are_kept_and_later_ones_folded() -> None:
    log = AdmissionLog(cap=3)
    for value in ["a", "b", "a", "c", "d", "e"]:  # the log may hold more than the cap
        log.read("tenant", value)
    assert log.admit(_tags("b")) == _tags("b")
    assert log.admit(_tags("d")) == (*_tags("d")[:2], ("tenant", OTHER))
    assert log.admit(_tags("zzz"))[2] == ("tenant", OTHER)  # a full key decides at once
    assert log.folded["tenant"] == 2


def test_protected_keys_are_never_folded_nor_proposed() -> None:
    log = AdmissionLog(cap=1)
    log.read("tenant", "a")
    tags = (("environment", "e1"), ("source_module", "m"), ("tenant", "b"))
    assert log.undecided([tags]) == set()  # tenant is full, the others are protected
    assert log.admit(tags)[:2] == tags[:2]


def test_processes_that_read_one_log_fold_the_same_values() -> None:
    """Two processes meet the values in different orders and propose what they cannot
    decide; the log's order (here: proposals appended as they come) decides for both."""
    shared: list[tuple[str, str]] = []
    rng = random.Random(4)
    values = [f"t{i}" for i in range(30)]
    processes = [AdmissionLog(cap=10), AdmissionLog(cap=10)]
    read = [0, 0]
    orders = [rng.sample(values, len(values)) for _ in processes]
    decided: list[dict[str, str]] = [{}, {}]
    for step in range(len(values)):
        for i, log in enumerate(processes):
            tags = _tags(orders[i][step])
            shared.extend(sorted(log.undecided([tags])))  # propose
            for key, value in shared[read[i] :]:  # read the log past the proposal
                log.read(key, value)
            read[i] = len(shared)
            decided[i][orders[i][step]] = log.admit(tags)[2][1]
    kept = [{v for v, d in decision.items() if d != OTHER} for decision in decided]
    assert kept[0] == kept[1] and len(kept[0]) == 10
    first = list(dict.fromkeys(value for _, value in shared))[:10]  # both may propose one
    assert kept[0] == set(first)
