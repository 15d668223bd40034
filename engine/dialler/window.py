"""Counts over a rolling time window: events, each flagged or not, forgotten once older than the span.

Exact (every event is kept until it leaves the window), because a regulator's abandon rate is exact;
times are POSIX seconds and never go backwards. Pure: no clock of its own.
"""

from __future__ import annotations

from collections import deque


class RollingTally:
    """How many events, and how many of them flagged, happened in the last ``span`` seconds."""

    def __init__(self, span: float) -> None:
        if span <= 0:
            raise ValueError(f"RollingTally.span must be positive, not {span}")
        self.span = span
        self._events: deque[tuple[float, bool]] = deque()
        self._total = 0
        self._flagged = 0

    def add(self, at: float, flagged: bool) -> None:
        self._events.append((at, flagged))
        self._total += 1
        self._flagged += flagged

    def counts(self, now: float) -> tuple[int, int]:
        """(events, flagged events) in the window ending at ``now``."""
        horizon = now - self.span
        while self._events and self._events[0][0] <= horizon:
            _, flagged = self._events.popleft()
            self._total -= 1
            self._flagged -= flagged
        return self._total, self._flagged
