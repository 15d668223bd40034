"""The ticket lifecycle table: every legal path, every illegal event, follow-up and overdue rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.crm.lifecycle import (
    TRANSITIONS,
    IllegalTransition,
    TicketEvent,
    TicketState,
    follow_up_due,
    is_overdue,
    transition,
)

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


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


def test_reopen_from_follow_up_goes_back_to_work() -> None:
    assert transition(1, TicketState.FOLLOW_UP, "reopen") == TicketState.IN_PROGRESS
    assert transition(1, TicketState.RESOLVED, "reopen") == TicketState.IN_PROGRESS


@pytest.mark.parametrize(
    ("state", "event"),
    [(s, e) for s in TicketState for e in TicketEvent if e not in TRANSITIONS[s]] + [(TicketState.ACCEPTED, "fly")],
)
def test_every_event_not_in_the_table_is_illegal(state: TicketState, event: str) -> None:
    with pytest.raises(IllegalTransition) as err:
        transition(42, state, event)
    assert f"ticket 42: cannot {str(event)!r} in state {str(state)!r}" in str(err.value)
    assert err.value.state == state and err.value.event == event


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
