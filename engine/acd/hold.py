"""Hold time per call, from FreeSWITCH's CHANNEL_HOLD / CHANNEL_UNHOLD events (pure).

A call is on hold while at least one of its legs is held: the caller's leg (``uuid_hold`` from the
API, or the caller's own phone) or the agent's leg (the agent's phone's hold button). A span starts
when the first leg is held and ends when the last one is resumed; overlapping holds of both legs
count once. Times are seconds on one clock (FreeSWITCH's event timestamps); a repeated hold of a leg
already held (FreeSWITCH fires CHANNEL_HOLD again for a non-SIP leg) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class HoldTotal:
    """A call's hold: total seconds and how many separate spans."""

    seconds: float = 0.0
    count: int = 0


@dataclass(slots=True)
class _CallHold:
    held_legs: set[str] = field(default_factory=set)
    since: float = 0.0
    seconds: float = 0.0
    count: int = 0


class HoldLog:
    """Hold spans of the calls in progress, keyed by call id."""

    def __init__(self) -> None:
        self._calls: dict[str, _CallHold] = {}

    def held(self, call_id: str, leg: str, at: float) -> bool:
        """Leg ``leg`` of ``call_id`` was put on hold at ``at``; True when this starts a hold span."""
        call = self._calls.setdefault(call_id, _CallHold())
        starts = not call.held_legs
        call.held_legs.add(leg)
        if starts:
            call.since, call.count = at, call.count + 1
        return starts

    def unheld(self, call_id: str, leg: str, at: float) -> float | None:
        """Leg ``leg`` was resumed at ``at``; the length of the hold span this ends, else None."""
        call = self._calls.get(call_id)
        if call is None or leg not in call.held_legs:
            return None
        call.held_legs.discard(leg)
        if call.held_legs:
            return None
        span = max(0.0, at - call.since)
        call.seconds += span
        return span

    def on_hold(self, call_id: str) -> bool:
        call = self._calls.get(call_id)
        return bool(call and call.held_legs)

    def held_legs(self, call_id: str) -> frozenset[str]:
        call = self._calls.get(call_id)
        return frozenset(call.held_legs) if call else frozenset()

    def so_far(self, call_id: str, at: float) -> HoldTotal:
        """The call's hold up to ``at`` (a span still open counts to ``at``); the call stays."""
        call = self._calls.get(call_id)
        if call is None:
            return HoldTotal()
        open_span = max(0.0, at - call.since) if call.held_legs else 0.0
        return HoldTotal(call.seconds + open_span, call.count)

    def close(self, call_id: str, at: float) -> HoldTotal:
        """The call is over: its total (a span still open ends at ``at``); the call is forgotten."""
        call = self._calls.pop(call_id, None)
        if call is None:
            return HoldTotal()
        if call.held_legs:
            call.seconds += max(0.0, at - call.since)
        return HoldTotal(call.seconds, call.count)
