"""Recording metadata (stored per call, oldest first, blank fields refused) and recording rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from engine.store.errors import InvalidInput, NotFound
from engine.store.recordings import add_recording, add_rule, recordings_for_call, remove_rule, rules_for

pytestmark = pytest.mark.db


def test_recordings_are_found_by_call(session: Session) -> None:
    add_recording(session, "c1", "/r/c1.wav", reason="policy", agent_id="1001", queue="sales")
    add_recording(session, "c2", "/r/c2.wav", reason="agent:1002", agent_id="1002", queue=None)
    add_recording(session, "c1", "/r/c1-b.wav", reason="supervisor", agent_id="1001", queue="sales")
    session.commit()
    assert [(r.path, r.reason) for r in recordings_for_call(session, "c1")] == [
        ("/r/c1.wav", "policy"),
        ("/r/c1-b.wav", "supervisor"),
    ]
    assert recordings_for_call(session, "nope") == []


def test_blank_path_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match=r"recording\.path"):
        add_recording(session, "c1", "", reason="policy", agent_id=None, queue=None)


def test_rules_are_found_by_agent_and_time_and_removed(session: Session) -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    rule = add_rule(session, "1001", start, start + timedelta(hours=8), created_by="supervisor:1009", note="QA")
    add_rule(session, "1002", start, start + timedelta(hours=1), created_by="admin")
    assert [r.id for r in rules_for(session, "1001", active_at=start + timedelta(hours=2))] == [rule.id]
    assert rules_for(session, "1001", active_at=start + timedelta(hours=8)) == []  # the end is exclusive
    assert [r.agent_id for r in rules_for(session, active_at=start)] == ["1001", "1002"]
    remove_rule(session, rule.id)
    assert rules_for(session, "1001") == []
    with pytest.raises(NotFound):
        remove_rule(session, rule.id)


def test_rule_windows_must_be_aware_and_not_empty(session: Session) -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    with pytest.raises(InvalidInput, match=r"recording_rule\.ends_at"):
        add_rule(session, "1001", start, start, created_by="admin")
    with pytest.raises(InvalidInput, match=r"recording_rule\.starts_at"):
        add_rule(session, "1001", datetime(2026, 11, 23, 9), start + timedelta(hours=1), created_by="admin")
