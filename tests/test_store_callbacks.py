"""Keep-your-place callbacks in the database: requested, followed, listed, cancelled, and a ticket
opened when every dial failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine.store import callbacks
from engine.store.errors import Conflict, InvalidInput, NotFound
from engine.store.tickets import get_ticket

pytestmark = pytest.mark.db

JOINED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def ask(session: Session, uuid: str = "c1", number: str = "13900000001", queue: str = "sales"):
    return callbacks.request_callback(
        session, uuid, queue, number, caller_number="13900000001", priority=2, queued_at=JOINED
    )


def test_a_request_is_open_until_done_and_keeps_its_place(session: Session) -> None:
    first = ask(session)
    second = ask(session, "c2", queue="support")
    session.commit()
    assert (first.status, first.attempts, first.queued_at, first.priority) == ("pending", 0, JOINED, 2)
    callbacks.set_status(session, first.id, "retry", attempts=1, retry_at=JOINED + timedelta(minutes=5),
                         last_result="no_answer")  # fmt: skip
    assert [c.id for c in callbacks.open_callbacks(session)] == [first.id, second.id]
    assert [c.id for c in callbacks.list_callbacks(session, queue="support")] == [second.id]
    callbacks.set_status(session, first.id, "completed", agent_id="1001")
    assert [c.id for c in callbacks.open_callbacks(session)] == [second.id]
    view = callbacks.view(callbacks.get_callback(session, first.id))
    assert (view["status"], view["attempts"], view["agent"], view["last_result"]) == (
        "completed",
        1,
        "1001",
        "no_answer",
    )
    assert len(callbacks.list_callbacks(session, include_done=True)) == 2


def test_bad_requests_are_refused_naming_the_field(session: Session) -> None:
    with pytest.raises(InvalidInput, match=r"callback\.number"):
        ask(session, number="12a")
    ask(session)
    with pytest.raises(Conflict):
        ask(session)
    with pytest.raises(InvalidInput, match=r"callback\.status"):
        callbacks.set_status(session, 1, "maybe")
    with pytest.raises(NotFound):
        callbacks.cancel_callback(session, 99)


def test_cancel_only_an_open_callback(session: Session) -> None:
    row = ask(session)
    assert callbacks.cancel_callback(session, row.id).status == "cancelled"
    with pytest.raises(Conflict, match="not open"):
        callbacks.cancel_callback(session, row.id)


def test_a_failed_callback_opens_a_ticket_for_the_queue(session: Session) -> None:
    row = ask(session)
    callbacks.set_status(session, row.id, "dialling", attempts=3, last_result="busy")
    ticket = callbacks.ticket_for_failed(session, row.id)
    session.commit()
    assert (row.status, row.ticket_id) == ("failed", ticket.id)
    stored = get_ticket(session, ticket.id)
    assert (stored.category, stored.team) == ("callback", "sales")
    assert "3 callback attempt(s) to 13900000001" in stored.description and "busy" in stored.description
