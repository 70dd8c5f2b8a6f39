"""One cardinality decision for every ingest process: the admission log of tag values.

Each tag key may have at most ``cap`` distinct values; the rest are folded into
``__other__``. Which values are the admitted ones must not depend on which process
read them, so the decision is a function of one shared, ordered log (the compacted
``hub.tag-values`` topic, keyed by tag key): a value is admitted when it is among the
first ``cap`` distinct values of its key in the log. A process that meets a value the
log does not hold yet proposes it (appends it) and decides once it has read the log
past its proposal; a key whose log already holds ``cap`` values folds new ones at
once. Every process reads the same log, so all fold the same values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.ingest.cardinality import OTHER, PROTECTED_KEYS

Tags = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class AdmissionLog:
    cap: int
    admitted: dict[str, set[str]] = field(default_factory=dict)
    """Tag key -> its first ``cap`` distinct values in log order."""
    full: set[str] = field(default_factory=set)
    """Keys whose log reached the cap: any value not admitted is folded."""
    folded: Counter[str] = field(default_factory=Counter)
    _admitted_tags: set[Tags] = field(default_factory=set)

    def read(self, key: str, value: str) -> None:
        """One record of the log, in log order."""
        values = self.admitted.setdefault(key, set())
        if key in self.full or value in values:
            return
        values.add(value)
        if len(values) >= self.cap:
            self.full.add(key)

    def undecided(self, tags: Iterable[Tags]) -> set[tuple[str, str]]:
        """The (key, value) pairs of these tag sets that the log cannot decide yet."""
        out: set[tuple[str, str]] = set()
        for tag_set in tags:
            if tag_set in self._admitted_tags:
                continue
            for key, value in tag_set:
                if key in PROTECTED_KEYS or key in self.full:
                    continue
                if value not in self.admitted.get(key, ()):
                    out.add((key, value))
        return out

    def admit(self, tags: Tags) -> Tags:
        """The tag set within the caps (the same object when nothing is folded); a value
        the log has not decided is kept (the caller proposes first, then admits)."""
        if tags in self._admitted_tags:
            return tags
        folded = False
        out = []
        for key, value in tags:
            if key in self.full and key not in PROTECTED_KEYS and value not in self.admitted[key]:
                self.folded[key] += 1
                out.append((key, OTHER))
                folded = True
            else:
                out.append((key, value))
        if not folded:
            if len(self._admitted_tags) < 100_000 and all(
                key in PROTECTED_KEYS or value in self.admitted.get(key, ()) for key, value in tags
            ):
                self._admitted_tags.add(tags)
            return tags
        return tuple(out)
