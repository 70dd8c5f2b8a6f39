"""Alert discipline for one series: one alert per episode, escalation, refractory period.

An alerting point (score ≥ the alert threshold) opens an episode unless one opened
within the last ``refractory`` points. While an episode is open, a point that lifts the
score into the critical band above the peak so far *escalates* it (once); a critical
rise just after an episode ended, still within the refractory period, opens a new one
(a minor blip must not hide the incident that follows). The episode ends after
``cooldown`` points in a row below the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

STARTED, ESCALATED, OPEN, ENDED = "started", "escalated", "open", "ended"


@dataclass(slots=True)
class EpisodeTracker:
    alert_score: float = 0.5
    critical_score: float = 0.8
    refractory: int = 100
    cooldown: int = 3
    since_opened: int = -1
    """Points since the last episode opened (-1: none yet)."""
    open: bool = False
    peak: float = 0.0
    peak_level: float = 0.0
    """The peak on the scale rises are judged on (``surprise`` when given)."""
    quiet: int = 0
    started_at: float = 0.0

    @property
    def refractory_now(self) -> bool:
        return 0 <= self.since_opened <= self.refractory

    @property
    def disturbed(self) -> bool:
        """In an episode or its refractory period: recent values describe an incident."""
        return self.open or self.refractory_now

    def tick(self) -> None:
        """A new point arrived (call before ``observe``)."""
        if self.since_opened >= 0:
            self.since_opened += 1

    def observe(
        self,
        timestamp: float,
        score: float,
        holding: float | None = None,
        surprise: float | None = None,
    ) -> str | None:
        """The phase this point's score brings: STARTED, ESCALATED, OPEN, ENDED or None.

        ``holding``: the score that keeps an open episode open (default ``score``): a
        detector whose score also weighs the last points' mean (a shift) passes the point's
        own, so that an episode ends once the points are back, not a whole run later.
        ``surprise``: −log10 of the point's tail probability, uncapped (scores stop at
        1.0); within the refractory period only a point at least twice as surprising as
        the episode's peak (p ≤ peak p²) counts as a rise above it."""
        alerting = score >= self.alert_score
        holds = alerting if holding is None else holding >= self.alert_score
        level = score if surprise is None else surprise
        if alerting and not self.refractory_now:
            self._open(timestamp, score, level)
            return STARTED
        rises = level > (self.peak_level if surprise is None else 2.0 * self.peak_level)
        if alerting and score >= self.critical_score and rises:
            escalates = self.peak < self.critical_score
            self.peak, self.peak_level = max(self.peak, score), level
            if not self.open:
                self._open(timestamp, score, level)
                return STARTED
            if escalates:
                self.quiet = 0
                return ESCALATED
        if not self.open:
            return None
        if alerting:
            self.peak = max(self.peak, score)
            self.peak_level = max(self.peak_level, level)
        if holds:
            self.quiet = 0
            return OPEN
        self.quiet += 1
        if self.quiet >= self.cooldown:
            self.open = False
            return ENDED
        return OPEN

    def _open(self, timestamp: float, score: float, level: float) -> None:
        self.since_opened = 0
        self.open, self.peak, self.peak_level, self.quiet = True, score, level, 0
        self.started_at = timestamp
