"""Ticket repository: creation, every transition stored, illegal moves, visibility, overdue, callbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine.crm.lifecycle import IllegalTransition
from engine.store import audit, calls, customers, tickets
from engine.store.errors import InvalidInput, NotFound
from engine.store.visibility import CENTRE, Viewer

pytestmark = pytest.mark.db
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_every_transition_is_stored_with_actor_time_and_note(session: Session) -> None:
    c = customers.create_customer(session, "Ada", region="CN", numbers=["13900139000"])
    t = tickets.create_ticket(session, "agent:1001", title="Router broken", category="complaint", customer_id=c.id)
    assert t.state == "accepted"
    for i, (event, kwargs) in enumerate(
        [
            ("assign", {"assignee": "1001", "team": "support"}),
            ("start", {}),
            ("resolve", {"follow_up_hours": 2}),
            ("follow_up", {"note": "customer happy"}),
            ("close", {}),
        ]
    ):
        tickets.apply_event(session, t.id, "agent:1001", event, now=T0 + timedelta(minutes=i), **kwargs)
    assert [(e.event, e.from_state, e.to_state) for e in t.events] == [
        ("create", None, "accepted"),
        ("assign", "accepted", "assigned"),
        ("start", "assigned", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("follow_up", "resolved", "follow_up"),
        ("close", "follow_up", "closed"),
    ]
    assert t.events[4].note == "customer happy" and all(e.actor == "agent:1001" for e in t.events)
    assert t.follow_up_due_at == T0 + timedelta(minutes=2, hours=2)
    assert t.assignee == "1001" and t.team == "support"
    trail = audit.entries(session, entity="ticket", entity_id=t.id)
    assert [e.action for e in reversed(trail)] == [
        "ticket.create", "ticket.assign", "ticket.start", "ticket.resolve", "ticket.follow_up", "ticket.close",
    ]  # fmt: skip
    assert trail[0].before["state"] == "follow_up" and trail[0].after["state"] == "closed"


def test_illegal_transition_changes_nothing_and_names_the_ticket(session: Session) -> None:
    t = tickets.create_ticket(session, "admin", title="x")
    with pytest.raises(IllegalTransition, match=f"ticket {t.id}: cannot 'resolve' in state 'accepted'"):
        tickets.apply_event(session, t.id, "admin", "resolve")
    assert t.state == "accepted" and len(t.events) == 1


def test_bad_fields_are_refused_naming_the_field(session: Session) -> None:
    with pytest.raises(InvalidInput, match=r"ticket\.category"):
        tickets.create_ticket(session, "admin", title="x", category="rant")
    with pytest.raises(InvalidInput, match=r"ticket\.title"):
        tickets.create_ticket(session, "admin", title="x" * 201)
    with pytest.raises(InvalidInput, match=r"ticket\.due_at.*timezone"):
        tickets.create_ticket(session, "admin", title="x", due_at="2026-11-23T10:00:00")
    with pytest.raises(NotFound):
        tickets.create_ticket(session, "admin", title="x", customer_id=999)
    t = tickets.create_ticket(session, "admin", title="x")
    with pytest.raises(InvalidInput, match="assignee"):
        tickets.apply_event(session, t.id, "admin", "assign")


def test_visibility_overdue_and_open_tickets(session: Session) -> None:
    c = customers.create_customer(session, "Bo", region="CN", numbers=["13900139001"])
    mine = tickets.create_ticket(session, "a", title="mine", assignee="1001", due_at=T0, customer_id=c.id)
    team = tickets.create_ticket(session, "a", title="team", team="support", due_at=T0 + timedelta(days=1))
    other = tickets.create_ticket(session, "a", title="other", team="sales", assignee="1002")
    visible = {t.title for t in tickets.list_tickets(session, viewer=Viewer.agent_of("1001", "support"))}
    assert visible == {"mine", "team"}
    assert tickets.overdue_count(session, T0 + timedelta(minutes=1)) == 1
    assert [t.id for t in tickets.list_tickets(session, overdue_at=T0 + timedelta(days=2))] == [team.id, mine.id]
    tickets.apply_event(session, other.id, "a", "start")
    tickets.apply_event(session, other.id, "a", "resolve", now=T0)
    assert tickets.overdue_count(session, T0 + timedelta(hours=25)) == 3
    assert [t["title"] for t in tickets.customer_tickets(session, CENTRE, c.id)] == ["mine"]


def test_a_callback_request_becomes_a_ticket(session: Session) -> None:
    c = customers.create_customer(session, "Cy", region="CN", numbers=["13900139002"])
    record = calls.CallRecord("u1", "13900139002", "4000", T0, T0 + timedelta(seconds=30), "voicemail", queue="support")
    _, interaction = calls.record_finished_call(
        session, record, kind="callback", customer_id=c.id, recording_path="/rec/u1.wav"
    )
    t = tickets.ticket_from_callback(session, interaction, "13900139002")
    assert (t.category, t.state, t.team, t.created_by) == ("callback", "assigned", "support", "ivr")
    assert "/rec/u1.wav" in t.description and t.interaction_id == interaction.id and t.customer_id == c.id
