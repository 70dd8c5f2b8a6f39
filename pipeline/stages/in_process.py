"""The detection and correlation stages wired in process, as the worker wires them on Kafka.

``StagePipeline`` routes each window result to a detection partition by its family key
(as the aggregation agent routes it on the detection topic), marks every partition
when a window closes, and passes what the partitions forward to the correlation stage
with their marks. ``hub evaluate`` scores through it, and the unit tests use it to show
that the conclusions do not depend on how many partitions there are or how their
records interleave (``interleave``: a random order of delivery, per-partition order
kept, as the broker guarantees).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.correlation.composites import COMPOSITE_INPUTS, CompositeResult
from pipeline.correlation.rules import RuleEngine
from pipeline.correlation.stage import CorrelateStage
from pipeline.detection.metric_detection import Alert
from pipeline.detection.stage import DetectStage, family_key
from pipeline.models.correlation import AnomalyCorrelation
from pipeline.models.metrics import AggregatedMetric, HistogramMetric, TimeWindow
from pipeline.stages.records import decode


def partition_of(key: bytes, partitions: int) -> int:
    """A stable partition for a key (crc32: the same in every process and run)."""
    return zlib.crc32(key) % partitions


MODULE_EVENTS = "hub_events.count"
"""Every module's event counts: which modules reported in a window (a composite counts a
module's silence on threats as 0 threats only if the module reported something)."""


def forward_names(rules: RuleEngine) -> frozenset[str]:
    """The results the correlation stage needs whole: composite and rule inputs."""
    names = {MODULE_EVENTS, *(name for rule in rules.rules for name in rule.inputs)}
    return COMPOSITE_INPUTS | frozenset(names)


@dataclass(slots=True)
class StagePipeline:
    partitions: int = 1
    sizes: frozenset[int] = frozenset({60})
    rules: RuleEngine = field(default_factory=lambda: RuleEngine(()))
    interleave: random.Random | None = None
    with_composites: bool = True
    """False: no composites (a source without the modules' event counts cannot say
    whether a module was silent or absent, e.g. the evaluation scenarios)."""
    detect: list[DetectStage] = field(init=False)
    correlate: CorrelateStage = field(init=False)
    alerts: list[Alert] = field(default_factory=list)
    correlations: list[AnomalyCorrelation] = field(default_factory=list)
    composites: list[CompositeResult] = field(default_factory=list)
    _queues: list[list[bytes]] = field(init=False)

    def __post_init__(self) -> None:
        names = forward_names(self.rules) if self.with_composites else frozenset()
        self.detect = [DetectStage(1, self.sizes, names) for _ in range(self.partitions)]
        self.correlate = CorrelateStage(self.partitions, self.sizes, self.rules)
        self._queues = [[] for _ in range(self.partitions)]

    def window(
        self,
        through: float,
        metrics: Iterable[AggregatedMetric],
        histograms: Iterable[HistogramMetric] = (),
    ) -> None:
        """One closed window: its results and histograms, then the mark ``through`` its end."""
        records: list[tuple[int, object]] = []
        for metric in metrics:
            key = family_key(metric.name, metric.window.value, metric.tags)
            records.append((partition_of(key, self.partitions), metric))
        for histogram in histograms:
            window = TimeWindow.one_minute
            key = family_key(histogram.name, window.value, histogram.tags)
            records.append((partition_of(key, self.partitions), histogram))
        if self.interleave is not None:
            self.interleave.shuffle(records)
        for partition, item in records:
            stage = self.detect[partition]
            if isinstance(item, AggregatedMetric):
                stage.offer_metric(item, item.to_wire_bytes())
            else:
                assert isinstance(item, HistogramMetric)
                stage.offer_histogram(item, TimeWindow.one_minute)
        for partition, stage in enumerate(self.detect):
            out = stage.mark(0, through)
            self.alerts += out.alerts
            self._queues[partition] += out.forwards
        self._deliver()

    def _deliver(self) -> None:
        queues = self._queues
        while any(queues):
            ready = [p for p, q in enumerate(queues) if q]
            partition = self.interleave.choice(ready) if self.interleave else ready[0]
            out = self.correlate.offer(partition, decode(queues[partition].pop(0)))
            self.alerts += out.alerts
            self.correlations += out.correlations
            self.composites += out.composites
