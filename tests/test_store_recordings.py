"""Recording metadata: stored per call, listed oldest first, blank fields refused."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.store.errors import InvalidInput
from engine.store.recordings import add_recording, recordings_for_call

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
