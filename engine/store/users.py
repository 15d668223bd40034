"""Users who log in (admin, supervisor, agent) and their session tokens."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.crm.passwords import check_password, hash_password, new_session_token, token_digest
from engine.store import audit
from engine.store.crm_fields import choice, optional_text, text
from engine.store.crm_models import ROLES, LoginSession, User
from engine.store.errors import Conflict, InvalidInput
from engine.store.timestamps import utcnow

SESSION_HOURS = 12.0


@dataclass(frozen=True)
class Identity:
    """Who is making a request: their name for the audit log, role, agent id and team."""

    name: str
    role: str
    agent: str | None = None
    team: str | None = None


def create_user(
    session: Session,
    actor: str,
    username: str,
    password: str,
    role: str,
    *,
    agent_id: str | None = None,
    team: str | None = None,
) -> User:
    """Add a user with a scrypt-hashed password; an agent user must name their ACD agent id."""
    username = text("user.username", username, max_len=64)
    role = choice("user.role", role, ROLES)
    if role == "agent" and not agent_id:
        raise InvalidInput("user.agent_id", agent_id, "is required for role agent")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("user", username, "already exists")
    try:
        hashed = hash_password(text("user.password", password, max_len=200))
    except ValueError as exc:
        raise InvalidInput("user.password", "***", str(exc).split(": ", 1)[1]) from None
    user = User(
        username=username,
        password_hash=hashed,
        role=role,
        agent_id=optional_text("user.agent_id", agent_id, max_len=32),
        team=optional_text("user.team", team, max_len=64),
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.id, None, _view(user))
    return user


def login(session: Session, username: str, password: str, *, now: datetime | None = None) -> tuple[str, User] | None:
    """A new session token and the user when the password matches, else None."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password(password, _decoy_hash())  # same work as a real check: no timing hint that the name is unknown
        return None
    if not check_password(password, user.password_hash):
        return None
    token = new_session_token()
    now = now or utcnow()
    session.add(
        LoginSession(token_digest=token_digest(token), user_id=user.id, expires_at=now + timedelta(hours=SESSION_HOURS))
    )
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    audit.record(session, f"user:{user.username}", "user.login", "user", user.id, None, None)
    return token, user


@functools.cache
def _decoy_hash() -> str:
    return hash_password("decoy-password")


def logout(session: Session, token: str) -> None:
    """Revoke a session token."""
    session.execute(delete(LoginSession).where(LoginSession.token_digest == token_digest(token)))


def identity_for_session(session: Session, token: str, *, now: datetime | None = None) -> Identity | None:
    """Who holds this unexpired session token, or None."""
    row = session.scalar(
        select(LoginSession).where(
            LoginSession.token_digest == token_digest(token), LoginSession.expires_at > (now or utcnow())
        )
    )
    if row is None:
        return None
    return Identity(f"user:{row.user.username}", row.user.role, row.user.agent_id, row.user.team)


def team_of_agent(session: Session, agent_id: str) -> str | None:
    """The team of the user linked to ACD agent ``agent_id`` (None when no user is linked)."""
    return session.scalar(select(User.team).where(User.agent_id == agent_id))


def _view(user: User) -> dict[str, object]:
    return {"username": user.username, "role": user.role, "agent_id": user.agent_id, "team": user.team}
