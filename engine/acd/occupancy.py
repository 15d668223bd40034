"""Live occupancy and time per state, from the ACD's timestamped agent state changes (pure).

Occupancy over the last ``window`` seconds = busy time / available time, where busy is ``on_call``
(talk, hold included) + ``wrap_up``, and available is logged-in time minus break time (``ready``,
``reserved``, ``on_call``, ``wrap_up``). An agent never seen is logged out. Times are the ACD's clock.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable

BUSY = frozenset({"on_call", "wrap_up"})
AVAILABLE = frozenset({"ready", "reserved", "on_call", "wrap_up"})
UNCOUNTED = "logged_out"


class StateHistory:
    """Each agent's recent state changes (enough to cover ``window``) and all-time seconds per state."""

    def __init__(self, window: float) -> None:
        if window <= 0:
            raise ValueError(f"occupancy window: must be positive, got {window}")
        self.window = window
        self._changes: dict[str, deque[tuple[float, str]]] = {}
        self._closed: Counter[str] = Counter()

    def record(self, agent_id: str, state: str, at: float) -> None:
        """Agent ``agent_id`` entered ``state`` at ``at`` (not before their previous change)."""
        changes = self._changes.setdefault(agent_id, deque())
        if changes:
            since, previous = changes[-1]
            if at < since:
                raise ValueError(f"agent {agent_id}: state change at {at} is before the previous one at {since}")
            if previous != UNCOUNTED:
                self._closed[previous] += at - since
        changes.append((at, state))
        while len(changes) > 1 and changes[1][0] <= at - self.window:
            changes.popleft()

    def _seconds_in_window(self, agent_id: str, now: float) -> Counter[str]:
        start = now - self.window
        seconds: Counter[str] = Counter()
        changes = list(self._changes.get(agent_id, ()))
        ends = [at for at, _state in changes[1:]] + [now] if changes else []
        for (at, state), until in zip(changes, ends, strict=True):
            span = min(until, now) - max(at, start)
            if span > 0:
                seconds[state] += span
        return seconds

    def occupancy(self, agent_ids: Iterable[str], now: float) -> float | None:
        """Busy / available seconds of these agents together over the window ending at ``now``;
        None when none of them was available in it."""
        busy = available = 0.0
        for agent_id in agent_ids:
            seconds = self._seconds_in_window(agent_id, now)
            busy += sum(seconds[s] for s in BUSY)
            available += sum(seconds[s] for s in AVAILABLE)
        return busy / available if available > 0 else None

    def agents(self) -> list[str]:
        """Every agent with a recorded change, sorted."""
        return sorted(self._changes)

    def seconds_by_state(self, now: float) -> dict[str, float]:
        """All agents' seconds in each state (logged out not counted) up to ``now``, never decreasing."""
        totals = Counter(self._closed)
        for changes in self._changes.values():
            since, state = changes[-1]
            if state != UNCOUNTED:
                totals[state] += max(0.0, now - since)
        return dict(totals)
