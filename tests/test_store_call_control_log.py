"""The call-control audit log: rows as written, newest first, filtered by agent, blank fields refused."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.store.call_control_log import list_actions, log_action
from engine.store.errors import InvalidInput

pytestmark = pytest.mark.db


def test_actions_are_logged_and_listed_newest_first(session: Session) -> None:
    log_action(session, "agent:1001", "hold", "1001", result="ok", call_uuid="c1")
    log_action(session, "admin", "force_break", "1002", result="refused: on_call", detail="coaching")
    log_action(session, "supervisor", "whisper", "1001", result="ok", call_uuid="c1", detail="user/1009")
    session.commit()
    assert [(r.actor, r.action) for r in list_actions(session)] == [
        ("supervisor", "whisper"),
        ("admin", "force_break"),
        ("agent:1001", "hold"),
    ]
    mine = list_actions(session, agent_id="1001", limit=1)
    assert [(r.action, r.detail, r.call_uuid, r.at.tzinfo is not None) for r in mine] == [
        ("whisper", "user/1009", "c1", True)
    ]


def test_blank_actor_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match=r"call_control\.actor"):
        log_action(session, "", "hold", "1001", result="ok")
