"""One partition of the causal-chain stage: traced events keyed by ``correlation_id``,
assembled in event time.

``hub chains`` re-keys every event that carries a ``correlation_id`` to the chain topic
(one chain → one partition, whichever module topic its events came from) and marks each
chain partition with every input partition's progress (the highest event time it has
read, less the chains' lateness). A :class:`ChainStage` holds the events until every
input partition has marked past them, then feeds them to the assembler in (time, id)
order, closing first the chains that settled before each event (``due`` at the
event's time): which events form a chain, where segments split and when a chain is
dated are functions of the events alone, whatever the number of processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.correlation.chains import ChainConfig, ChainResult, EventChainAssembler
from pipeline.models.events import AnalyticsEvent
from pipeline.stages.event_time import ReleaseBuffer, SourceMarks


@dataclass(slots=True)
class ChainStage:
    sources: int
    """Input partitions (every module topic's) that mark this one."""
    config: ChainConfig = field(default_factory=ChainConfig)
    marks: SourceMarks = field(init=False)
    buffer: ReleaseBuffer = field(default_factory=ReleaseBuffer)
    assembler: EventChainAssembler = field(init=False)
    late: int = 0
    """Events that arrived after the stage had released their time (counted, dropped)."""

    def __post_init__(self) -> None:
        self.marks = SourceMarks(self.sources)
        self.assembler = EventChainAssembler(self.config, event_time=True)

    def offer(self, event: AnalyticsEvent) -> None:
        moment = event.timestamp.timestamp()
        if moment <= self.buffer.released_through:
            self.late += 1
            return
        self.buffer.offer(moment, (moment, str(event.event_id)), event)

    def mark(self, source: int, through: float) -> list[ChainResult]:
        """An input partition has been read through ``through``: the chains it settles."""
        self.marks.mark(source, through)
        watermark = self.marks.watermark
        out: list[ChainResult] = []
        for moment, events in self.buffer.release(watermark):
            out += self.assembler.due(moment)
            for event in events:
                out += self.assembler.add(event, moment)
        if watermark > -float("inf"):
            out += self.assembler.due(watermark)
        return out
