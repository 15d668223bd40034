"""Users: creation rules, login, session expiry and revocation, agent teams, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from engine.store import audit, users
from engine.store.crm_models import User
from engine.store.errors import Conflict, InvalidInput
from engine.store.timestamps import utcnow

pytestmark = pytest.mark.db


def test_login_issues_a_session_that_expires_and_can_be_revoked(session: Session) -> None:
    users.create_user(session, "cli", "grace", "long-password", "agent", agent_id="1001", team="support")
    assert users.login(session, "grace", "wrong-password") is None
    assert users.login(session, "nobody", "long-password") is None
    token, user = users.login(session, "grace", "long-password")
    assert user.username == "grace" and "long-password" not in session.get(User, user.id).password_hash
    assert users.identity_for_session(session, token) == users.Identity("user:grace", "agent", "1001", "support")
    later = utcnow() + timedelta(hours=users.SESSION_HOURS + 1)
    assert users.identity_for_session(session, token, now=later) is None
    users.logout(session, token)
    assert users.identity_for_session(session, token) is None
    assert users.team_of_agent(session, "1001") == "support" and users.team_of_agent(session, "9") is None
    assert [e.action for e in audit.entries(session, entity="user")] == ["user.login", "user.create"]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "field"),
    [
        (("x", "long-password", "agent"), {}, InvalidInput, "user.agent_id"),
        (("x", "short", "admin"), {}, InvalidInput, "user.password"),
        (("x", "long-password", "root"), {}, InvalidInput, "user.role"),
        (("", "long-password", "admin"), {}, InvalidInput, "user.username"),
    ],
)
def test_bad_users_are_refused(session: Session, args: tuple, kwargs: dict, error: type, field: str) -> None:
    with pytest.raises(error, match=field.replace(".", r"\.")):
        users.create_user(session, "cli", *args, **kwargs)


def test_usernames_are_unique(session: Session) -> None:
    users.create_user(session, "cli", "sue", "long-password", "supervisor")
    with pytest.raises(Conflict):
        users.create_user(session, "cli", "sue", "other-password", "admin")
