"""The ticket (work order) lifecycle.

Modelled on h11's ``_state.py``: the rules are stated here in prose, every legal transition is
one row of :data:`TRANSITIONS`, and anything not in the table raises :class:`IllegalTransition`.
The store moves a ticket's state only through :func:`transition` and records every move.

A ticket is created ``accepted`` (by an agent, by the IVR from a callback request, or through the
API). ``assign`` gives it to an agent or a team (``assigned``); assigning again re-assigns it.
The assignee ``start``\\ s work (``in_progress``); work in progress can be handed over by
assigning it again. ``resolve`` marks it ``resolved`` and sets a follow-up due time (24 h after
resolution unless configured otherwise). ``follow_up`` records that someone contacted the customer
(``follow_up``); from there ``close`` ends the ticket (``closed``, final). A resolved or
followed-up ticket whose customer is not satisfied is ``reopen``\\ ed (back to ``in_progress``).
``comment`` adds a note in any state but ``closed`` and does not change the state.

A ticket is *overdue* when it is not closed and either its due time has passed while it is not
yet resolved, or its follow-up due time has passed while it is still ``resolved``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_FOLLOW_UP_HOURS = 24.0


class TicketState(StrEnum):
    """Where a ticket is in its life."""

    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"


class TicketEvent(StrEnum):
    """Something done to a ticket."""

    ASSIGN = "assign"
    START = "start"
    RESOLVE = "resolve"
    FOLLOW_UP = "follow_up"
    CLOSE = "close"
    REOPEN = "reopen"
    COMMENT = "comment"


S, E = TicketState, TicketEvent
TRANSITIONS: dict[TicketState, dict[TicketEvent, TicketState]] = {
    S.ACCEPTED: {E.ASSIGN: S.ASSIGNED, E.COMMENT: S.ACCEPTED},
    S.ASSIGNED: {E.ASSIGN: S.ASSIGNED, E.START: S.IN_PROGRESS, E.COMMENT: S.ASSIGNED},
    S.IN_PROGRESS: {E.ASSIGN: S.ASSIGNED, E.RESOLVE: S.RESOLVED, E.COMMENT: S.IN_PROGRESS},
    S.RESOLVED: {E.FOLLOW_UP: S.FOLLOW_UP, E.REOPEN: S.IN_PROGRESS, E.COMMENT: S.RESOLVED},
    S.FOLLOW_UP: {E.CLOSE: S.CLOSED, E.REOPEN: S.IN_PROGRESS, E.COMMENT: S.FOLLOW_UP},
    S.CLOSED: {},
}
"""state -> event -> next state; a missing row is an illegal transition."""


class IllegalTransition(Exception):
    """An event that the ticket's current state does not allow."""

    def __init__(self, ticket: object, state: TicketState, event: str) -> None:
        allowed = ", ".join(TRANSITIONS[state]) or "nothing (final state)"
        super().__init__(f"ticket {ticket}: cannot {str(event)!r} in state {str(state)!r}; allowed: {allowed}")
        self.ticket, self.state, self.event = ticket, state, event


def transition(ticket: object, state: TicketState, event: str) -> TicketState:
    """The state after ``event``; raises IllegalTransition naming ``ticket``, ``state`` and ``event``."""
    try:
        return TRANSITIONS[state][TicketEvent(event)]
    except (KeyError, ValueError):
        raise IllegalTransition(ticket, state, event) from None


def follow_up_due(resolved_at: datetime, hours: float = DEFAULT_FOLLOW_UP_HOURS) -> datetime:
    """When the follow-up of a ticket resolved at ``resolved_at`` is due."""
    if hours <= 0:
        raise ValueError(f"follow-up hours must be positive, got {hours}")
    return resolved_at + timedelta(hours=hours)


def is_overdue(state: TicketState, due_at: datetime | None, follow_up_due_at: datetime | None, now: datetime) -> bool:
    """Whether a ticket in ``state`` with these due times is overdue at ``now`` (see the module rules)."""
    if state == S.RESOLVED and follow_up_due_at is not None:
        return now > follow_up_due_at
    if state in (S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS) and due_at is not None:
        return now > due_at
    return False
