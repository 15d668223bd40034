"""Agent state change log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from engine.store.agent_states import (
    agent_state_row,
    append_agent_state,
    insert_agent_states,
    latest_states,
    list_agent_states,
)
from engine.store.agents import create_agent, remove_agent
from engine.store.errors import InvalidInput, NotFound

pytestmark = pytest.mark.db

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def test_state_changes_are_listed_oldest_first_within_a_window(session: Session) -> None:
    create_agent(session, "1001", name="Ann", contact="user/1001")
    create_agent(session, "1002", name="Bob", contact="user/1002")
    append_agent_state(session, "1001", "available", at=T0 + timedelta(minutes=1))
    append_agent_state(session, "1001", "logged_out", at=T0)
    append_agent_state(session, "1001", "on_break", reason="lunch", at=T0 + timedelta(minutes=30))
    append_agent_state(session, "1002", "available", at=T0)
    session.commit()
    log = list_agent_states(session, "1001")
    assert [(change.state, change.reason) for change in log] == [
        ("logged_out", None),
        ("available", None),
        ("on_break", "lunch"),
    ]
    window = list_agent_states(session, "1001", since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=30))
    assert [change.state for change in window] == ["available"]


def test_times_are_stored_in_utc_and_default_to_now(session: Session) -> None:
    create_agent(session, "1001", name="Ann", contact="user/1001")
    beijing = datetime(2026, 5, 1, 17, 0, tzinfo=timezone(timedelta(hours=8)))
    append_agent_state(session, "1001", "available", at=beijing)
    before = datetime.now(UTC)
    append_agent_state(session, "1001", "busy")
    session.commit()
    session.expunge_all()
    first, second = list_agent_states(session, "1001")
    assert first.at == T0 and first.at.tzinfo is UTC
    assert second.at >= before - timedelta(seconds=1)


def test_the_log_outlives_the_agent(session: Session) -> None:
    create_agent(session, "1001", name="Ann", contact="user/1001")
    append_agent_state(session, "1001", "available", at=T0)
    remove_agent(session, "1001")
    session.commit()
    assert [change.state for change in list_agent_states(session, "1001")] == ["available"]


def test_invalid_changes_are_rejected(session: Session) -> None:
    with pytest.raises(NotFound):
        append_agent_state(session, "9999", "available")
    create_agent(session, "1001", name="Ann", contact="user/1001")
    with pytest.raises(InvalidInput) as caught:
        append_agent_state(session, "1001", "available", at=datetime(2026, 5, 1))
    assert caught.value.field == "agent_state.at"
    with pytest.raises(InvalidInput) as caught:
        append_agent_state(session, "1001", "")
    assert caught.value.field == "agent_state.state"


def test_latest_states_give_each_agents_last_change_by_time_then_by_row(session: Session) -> None:
    create_agent(session, "1001", name="Ann", contact="user/1001")
    create_agent(session, "1002", name="Bob", contact="user/1002")
    create_agent(session, "1003", name="Cy", contact="user/1003")
    append_agent_state(session, "1001", "break", reason="lunch", at=T0 + timedelta(minutes=5))
    append_agent_state(session, "1001", "ready", at=T0)  # logged later, happened earlier
    append_agent_state(session, "1002", "ready", at=T0)
    append_agent_state(session, "1002", "on_call", at=T0)  # same time: the later row wins
    session.commit()
    latest = latest_states(session, ["1001", "1002", "1003"])
    found = {a: (c.state, c.reason) for a, c in latest.items()}
    assert found == {"1001": ("break", "lunch"), "1002": ("on_call", None)}


def test_agents_found_once_are_not_asked_for_again_and_unknown_ones_are_still_refused(session: Session) -> None:
    create_agent(session, "1001", name="Ann", contact="user/1001")
    session.commit()
    known: set[str] = set()
    queries: list[str] = []
    listen = "before_cursor_execute"

    def watch(_conn, _cursor, statement: str, *_rest) -> None:
        queries.append(statement)

    event.listen(session.get_bind(), listen, watch)
    try:
        insert_agent_states(session, [agent_state_row("1001", "available", reason=None, at=T0)], known)
        asked = [q for q in queries if q.lstrip().upper().startswith("SELECT")]
        assert known == {"1001"} and len(asked) == 1
        queries.clear()
        later = T0 + timedelta(seconds=1)
        insert_agent_states(session, [agent_state_row("1001", "busy", reason=None, at=later)], known)
        assert [q for q in queries if q.lstrip().upper().startswith("SELECT")] == []
        with pytest.raises(NotFound):
            insert_agent_states(session, [agent_state_row("9999", "available", reason=None, at=T0)], known)
    finally:
        event.remove(session.get_bind(), listen, watch)
    assert known == {"1001"}
    assert [change.state for change in list_agent_states(session, "1001")] == ["available", "busy"]
