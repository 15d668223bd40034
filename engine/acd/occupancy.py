"""Live occupancy and time per state, from the ACD's timestamped agent state changes (pure).

Occupancy over the last ``window`` seconds = busy time / available time, where busy is ``on_call``
(talk, hold included) + ``engaged`` (the agent's own dials and consultations) + ``wrap_up``, and
available is logged-in time minus break time (``ready``, ``reserved``, ``on_call``, ``engaged``,
``wrap_up``). An agent never seen is logged out. Times are the ACD's clock.
"""

from __future__ import annotations

import sys
from collections import Counter, deque
from collections.abc import Iterable

BUSY = frozenset({"on_call", "engaged", "wrap_up"})
AVAILABLE = frozenset({"ready", "reserved", "on_call", "engaged", "wrap_up"})
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
        """Agent ``agent_id`` entered ``state`` at ``at``; a time before their previous change counts as
        that change's time (measuring must never break the ACD's command loop)."""
        changes = self._changes.setdefault(agent_id, deque())
        if changes:
            since, previous = changes[-1]
            at = max(at, since)
            if previous != UNCOUNTED:
                self._closed[previous] += at - since
        changes.append((at, sys.intern(state)))  # one string per state, not one per change (str(AgentState) is new)
        while len(changes) > 1 and changes[1][0] <= at - self.window:
            changes.popleft()

    def window_seconds(self, agent_id: str, now: float) -> tuple[float, float]:
        """The agent's (busy, available) seconds in the window ending at ``now``."""
        start = now - self.window
        busy = available = 0.0
        changes = self._changes.get(agent_id, ())
        for i, (at, state) in enumerate(changes):
            until = changes[i + 1][0] if i + 1 < len(changes) else now
            span = min(until, now) - max(at, start)
            if span > 0 and state in AVAILABLE:
                available += span
                busy += span if state in BUSY else 0.0
        return busy, available

    def window_all(self, now: float) -> dict[str, tuple[float, float]]:
        """:meth:`window_seconds` of every agent with a recorded change (one pass per scrape)."""
        return {agent_id: self.window_seconds(agent_id, now) for agent_id in self._changes}

    def occupancy(self, agent_ids: Iterable[str], now: float) -> float | None:
        """Busy / available seconds of these agents together over the window ending at ``now``;
        None when none of them was available in it."""
        return combine(self.window_seconds(agent_id, now) for agent_id in agent_ids)

    def seconds_by_state(self, now: float) -> dict[str, float]:
        """All agents' seconds in each state (logged out not counted) up to ``now``, never decreasing."""
        totals = Counter(self._closed)
        for changes in self._changes.values():
            since, state = changes[-1]
            if state != UNCOUNTED:
                totals[state] += max(0.0, now - since)
        return dict(totals)


def combine(spans: Iterable[tuple[float, float]]) -> float | None:
    """Occupancy of a group from its members' (busy, available) seconds; None if none was available."""
    busy = available = 0.0
    for b, a in spans:
        busy += b
        available += a
    return busy / available if available > 0 else None
