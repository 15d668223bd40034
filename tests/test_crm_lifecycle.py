"""The ticket lifecycle against docs/crm.md ("Lifecycle"): every (state, event) pair, follow-up and overdue rules.

The expected table is written by hand from the diagram in docs/crm.md, not read from
``engine.crm.lifecycle``: a wrong, missing or extra row in the engine fails here.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from engine.crm.lifecycle import (
    IllegalTransition,
    TicketEvent,
    TicketState,
    follow_up_due,
    is_overdue,
    transition,
)

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

STATES = ["accepted", "assigned", "in_progress", "resolved", "follow_up", "closed"]
EVENTS = ["assign", "start", "resolve", "follow_up", "close", "reopen", "comment"]
# docs/crm.md's diagram, one row per arrow: the main line, "assign ↺" on assigned, "assign (hand over)"
# from in_progress, "reopen" from resolved and follow_up; "comment: any state but closed, no state change".
ROWS = {
    ("accepted", "assign"): "assigned",
    ("assigned", "assign"): "assigned",
    ("assigned", "start"): "in_progress",
    ("in_progress", "assign"): "assigned",
    ("in_progress", "resolve"): "resolved",
    ("resolved", "follow_up"): "follow_up",
    ("resolved", "reopen"): "in_progress",
    ("follow_up", "close"): "closed",
    ("follow_up", "reopen"): "in_progress",
} | {(state, "comment"): state for state in STATES if state != "closed"}


def test_the_engine_has_exactly_the_documented_states_and_events() -> None:
    assert sorted(s.value for s in TicketState) == sorted(STATES)
    assert sorted(e.value for e in TicketEvent) == sorted(EVENTS)


@pytest.mark.parametrize(("state", "event"), list(itertools.product(STATES, EVENTS)))
def test_every_pair_of_state_and_event(state: str, event: str) -> None:
    if (state, event) in ROWS:
        assert transition(42, TicketState(state), event) == ROWS[(state, event)]
        return
    with pytest.raises(IllegalTransition) as err:
        transition(42, TicketState(state), event)
    message = str(err.value)
    assert message.startswith(f"ticket 42: cannot {event!r} in state {state!r}; allowed: ")
    allowed = message.split("; allowed: ", 1)[1]
    documented = sorted(e for e in EVENTS if (state, e) in ROWS)
    assert (sorted(allowed.split(", ")) if documented else allowed) == (documented or "nothing (final state)")
    assert err.value.state == state and err.value.event == event


def test_the_documented_error_message_and_an_unknown_event() -> None:
    with pytest.raises(IllegalTransition) as err:
        transition(7, TicketState.ASSIGNED, "close")
    assert str(err.value) == "ticket 7: cannot 'close' in state 'assigned'; allowed: assign, start, comment"
    with pytest.raises(IllegalTransition, match="ticket 1: cannot 'fly' in state 'accepted'"):
        transition(1, TicketState.ACCEPTED, "fly")


def test_the_whole_life_of_a_ticket() -> None:
    state = TicketState.ACCEPTED
    for event, expected in [
        ("assign", "assigned"),
        ("start", "in_progress"),
        ("resolve", "resolved"),
        ("follow_up", "follow_up"),
        ("close", "closed"),
    ]:
        state = transition(7, state, event)
        assert state == expected


def test_closed_is_final() -> None:
    with pytest.raises(IllegalTransition, match="nothing \\(final state\\)"):
        transition(3, TicketState.CLOSED, "comment")


def test_follow_up_due_defaults_to_a_day_and_refuses_nonsense() -> None:
    assert follow_up_due(T0) == T0 + timedelta(hours=24)
    assert follow_up_due(T0, 2) == T0 + timedelta(hours=2)
    with pytest.raises(ValueError, match="positive"):
        follow_up_due(T0, 0)


def test_overdue_rules() -> None:
    late, early = T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)
    assert is_overdue(TicketState.IN_PROGRESS, late, None, T0)
    assert not is_overdue(TicketState.IN_PROGRESS, early, None, T0)
    assert not is_overdue(TicketState.ACCEPTED, None, None, T0)
    assert is_overdue(TicketState.RESOLVED, late, late, T0)
    assert not is_overdue(TicketState.RESOLVED, late, early, T0)
    assert not is_overdue(TicketState.CLOSED, late, late, T0)
    assert not is_overdue(TicketState.FOLLOW_UP, late, late, T0)
