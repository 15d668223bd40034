"""What the ACD reports read: queued calls with their waits, hold and wrap-up, agents' state logs and calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine.acd.reports import AgentCallFact
from engine.store import acd_reports
from engine.store.agent_states import append_agent_state
from engine.store.agents import create_agent
from engine.store.calls import CallRecord, record_finished_call
from engine.store.segments import SegmentRecord, record_segments

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def call(
    uuid: str, outcome: str, queued: float, end: float, bridged: float | None = None, hold: float = 0, holds: int = 0
) -> CallRecord:
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
        hold_seconds=hold,
        hold_count=holds,
    )


def test_queued_calls_and_agent_history_are_read_for_the_window(session: Session) -> None:
    create_agent(session, "1001", name="Grace", contact="user/1001")
    record_finished_call(session, call("a", "answered", 10, 200, bridged=25, hold=42.5, holds=2))
    record_finished_call(session, call("b", "abandoned", 20, 50))
    record_finished_call(session, call("late", "abandoned", 4000, 4010))
    append_agent_state(session, "1001", "ready", at=at(-100))
    append_agent_state(session, "1001", "reserved", at=at(20))
    append_agent_state(session, "1001", "on_call", at=at(25))
    append_agent_state(session, "1001", "wrap_up", at=at(200))
    append_agent_state(session, "1001", "ready", at=at(212))
    session.commit()

    facts = acd_reports.queued_calls(session, T0, at(3600))
    assert [(f.outcome, f.wait_seconds, f.talk_seconds, f.hold_seconds, f.wrap_seconds) for f in facts] == [
        ("answered", 15, 175, 42.5, 12),
        ("abandoned", 30, 0, 0, 0),
    ]
    assert acd_reports.agent_ids(session, T0, at(3600)) == ["1001"]
    assert acd_reports.agent_states(session, "1001", T0, at(3600)) == [
        (T0, "ready", None),
        (at(20), "reserved", None),
        (at(25), "on_call", None),
        (at(200), "wrap_up", None),
        (at(212), "ready", None),
    ]
    assert acd_reports.agent_calls(session, "1001", T0, at(3600)) == [AgentCallFact(175, 42.5, 2)]


def test_a_wrap_up_still_going_on_counts_up_to_now_not_to_the_horizon(session: Session) -> None:
    """Issue 17: during an agent's wrap-up, `report queues` showed WRAP 3603 s (the one-hour horizon)."""
    create_agent(session, "1001", name="Grace", contact="user/1001")
    record_finished_call(session, call("a", "answered", 10, 200, bridged=25))
    append_agent_state(session, "1001", "on_call", at=at(25))
    append_agent_state(session, "1001", "wrap_up", at=at(200))
    session.commit()

    facts = acd_reports.queued_calls(session, T0, at(3600), now=at(203))
    assert [(f.talk_seconds, f.wrap_seconds) for f in facts] == [(175, 3)]
    later = acd_reports.queued_calls(session, T0, at(300), now=at(86400))
    assert [f.wrap_seconds for f in later] == [3600 + 100]  # never past the report's end plus the horizon


def test_a_negative_hold_is_refused_naming_the_field(session: Session) -> None:
    with pytest.raises(ValueError, match=r"call\.hold_seconds"):
        record_finished_call(session, call("n", "answered", 10, 200, bridged=25, hold=-1))


def test_agent_calls_come_from_segments_so_a_transferred_to_agent_counts_the_call(session: Session) -> None:
    record_finished_call(session, call("t", "answered", 10, 300, bridged=20, hold=30, holds=1))
    parts = [
        SegmentRecord("1001", "answered", at(20), at(100), "transferred", queue="sales", hold_seconds=30, hold_count=1),
        SegmentRecord("1002", "consult", at(100), at(250), "left_conference", queue="sales"),
        SegmentRecord("1002", "conference", at(260), at(300), "hangup", queue="sales"),
    ]
    record_segments(session, "t", parts)
    record_finished_call(session, call("old", "answered", 400, 500, bridged=410))  # no segments: from its CDR
    assert acd_reports.agent_calls(session, "1001", T0, at(3600)) == [AgentCallFact(80, 30, 1), AgentCallFact(90)]
    assert acd_reports.agent_calls(session, "1002", T0, at(3600)) == [AgentCallFact(190)]  # one call, twice
    assert acd_reports.agent_calls(session, "1002", at(3600), at(7200)) == []
