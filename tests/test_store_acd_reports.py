"""What the ACD reports read: queued calls with their waits, agents' state logs and talk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine.store import acd_reports
from engine.store.agent_states import append_agent_state
from engine.store.agents import create_agent
from engine.store.calls import CallRecord, record_finished_call

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def call(uuid: str, outcome: str, queued: float, end: float, bridged: float | None = None) -> CallRecord:
    return CallRecord(
        uuid=uuid,
        caller_number="+1",
        destination="4000",
        created_at=at(queued - 5),
        ended_at=at(end),
        outcome=outcome,
        queue="sales",
        agent_id="1001" if bridged is not None else None,
        queued_at=at(queued),
        bridged_at=at(bridged) if bridged is not None else None,
    )


def test_queued_calls_and_agent_history_are_read_for_the_window(session: Session) -> None:
    create_agent(session, "1001", name="Grace", contact="user/1001")
    record_finished_call(session, call("a", "answered", 10, 200, bridged=25))
    record_finished_call(session, call("b", "abandoned", 20, 50))
    record_finished_call(session, call("late", "abandoned", 4000, 4010))
    append_agent_state(session, "1001", "ready", at=at(-100))
    append_agent_state(session, "1001", "reserved", at=at(20))
    append_agent_state(session, "1001", "on_call", at=at(25))
    session.commit()

    facts = acd_reports.queued_calls(session, T0, at(3600))
    assert [(f.outcome, f.wait_seconds, f.talk_seconds) for f in facts] == [("answered", 15, 175), ("abandoned", 30, 0)]
    assert acd_reports.agent_ids(session, T0, at(3600)) == ["1001"]
    assert acd_reports.agent_states(session, "1001", T0, at(3600)) == [
        (T0, "ready", None),
        (at(20), "reserved", None),
        (at(25), "on_call", None),
    ]
    assert acd_reports.agent_talk(session, "1001", T0, at(3600)) == [175]
