"""Call segments in the store: stored in order with their CDR, validated field by field, read back per
call and per agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine.store import segments
from engine.store.calls import CallRecord, record_finished_call
from engine.store.errors import Conflict, InvalidInput, NotFound
from engine.store.segments import SegmentRecord

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def cdr(session: Session, uuid: str = "c1") -> None:
    record = CallRecord(
        uuid=uuid, caller_number="+1", destination="4000", created_at=at(0), ended_at=at(300),
        outcome="answered", queue="sales", agent_id="1001", queued_at=at(5), bridged_at=at(20),
    )  # fmt: skip
    record_finished_call(session, record)


def test_segments_are_numbered_in_order_with_talk_from_their_times(session: Session) -> None:
    cdr(session)
    first = SegmentRecord("1001", "answered", at(20), at(100), "transferred", queue="sales", hold_seconds=12.5)
    second = SegmentRecord("1002", "consult", at(100), at(300), "hangup", queue="sales", hold_count=0)
    outside = SegmentRecord(None, "conference", at(150), at(200), "left_conference", number="13900000042")
    segments.record_segments(session, "c1", [first, second, outside])
    rows = segments.segments_of(session, "c1")
    assert [(r.seq, r.agent_id, r.number, str(r.how), str(r.ended_by)) for r in rows] == [
        (1, "1001", None, "answered", "transferred"),
        (2, "1002", None, "consult", "hangup"),
        (3, None, "13900000042", "conference", "left_conference"),
    ]
    assert [r.talk_seconds for r in rows] == [80.0, 200.0, 50.0]
    assert rows[0].hold_seconds == 12.5 and rows[0].started_at == at(20)
    assert segments.view(rows[1]) == {
        "seq": 2, "agent": "1002", "number": None, "queue": "sales", "how": "consult",
        "started_at": at(100).isoformat(), "ended_at": at(300).isoformat(), "talk_seconds": 200.0,
        "hold_seconds": 0.0, "hold_count": 0, "ended_by": "hangup",
    }  # fmt: skip
    assert segments.segments_of(session, "nothing") == []


def test_bad_segments_are_refused_naming_the_segment_and_field(session: Session) -> None:
    cdr(session)
    cases = [
        (SegmentRecord(None, "answered", at(20), at(30), "hangup"), "segment[1].agent_id"),
        (SegmentRecord("1001", "picked", at(20), at(30), "hangup"), "segment[1].how"),
        (SegmentRecord("1001", "answered", at(20), at(30), "vanished"), "segment[1].ended_by"),
        (SegmentRecord("1001", "answered", at(30), at(20), "hangup"), "segment[1].ended_at"),
        (SegmentRecord("1001", "answered", at(20).replace(tzinfo=None), at(30), "hangup"), "segment[1].started_at"),
        (SegmentRecord("1001", "answered", at(20), at(30), "hangup", hold_seconds=-1), "segment[1].hold_seconds"),
    ]
    for bad, field in cases:
        with pytest.raises(InvalidInput) as err:
            segments.record_segments(session, "c1", [bad])
        assert err.value.field == field
    with pytest.raises(NotFound):  # segments belong to a recorded call
        segments.record_segments(session, "unknown", [SegmentRecord("1001", "answered", at(20), at(30), "hangup")])
    segments.record_segments(session, "c1", [SegmentRecord("1001", "answered", at(20), at(30), "hangup")])
    with pytest.raises(Conflict):
        segments.record_segments(session, "c1", [SegmentRecord("1002", "answered", at(20), at(30), "hangup")])


def test_an_agents_segments_are_those_that_started_in_the_window(session: Session) -> None:
    for uuid in ("c1", "c2", "c3"):
        cdr(session, uuid)
    segments.record_segments(session, "c1", [SegmentRecord("1001", "answered", at(20), at(100), "transferred")])
    segments.record_segments(session, "c2", [SegmentRecord("1002", "answered", at(50), at(90), "transferred")])
    segments.record_segments(
        session,
        "c3",
        [
            SegmentRecord("1002", "answered", at(10), at(60), "transferred"),
            SegmentRecord("1001", "consult", at(60), at(4000), "hangup"),
        ],
    )
    found = segments.agent_segments(session, "1001", at(0), at(3600))
    assert [(r.call_uuid, r.seq) for r in found] == [("c1", 1), ("c3", 2)]
    assert [r.call_uuid for r in segments.agent_segments(session, "1001", at(30), at(3600))] == ["c3"]
    with pytest.raises(InvalidInput):
        segments.agent_segments(session, "1001", at(0).replace(tzinfo=None), at(10))
