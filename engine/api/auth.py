"""Who is calling: config tokens, and session tokens of database users issued by ``POST /api/login``.

:class:`Credentials` is the token lookup ``make_app`` authenticates with: a config token is found
in the config's ``tokens`` (as before); any other bearer token is looked up as an unexpired login
session (only its SHA-256 digest is stored); 503 when the database cannot be asked.
:func:`identity` turns a request's token into the name written to the audit log, with the role,
agent id and team that authorisation checks, and :func:`viewer` into the
:class:`~engine.store.visibility.Viewer` every CRM read takes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.api.http import ApiError, Request
from engine.config.model import Token
from engine.store import users
from engine.store.users import Identity
from engine.store.visibility import Viewer

log = logging.getLogger(__name__)


class Principal(Token):
    """A database user's session, carrying the user's audit name and team."""

    user: str
    team: str | None = None


class Credentials:
    """Bearer token -> Token (config) or Principal (login session); ``get`` returns None when unknown."""

    def __init__(self, tokens: Mapping[str, Token], sessions: sessionmaker[Session]) -> None:
        self._tokens = tokens
        self._sessions = sessions

    def get(self, secret: str) -> Token | None:
        if not secret:
            return None
        if secret in self._tokens:
            token = self._tokens[secret]
            if token.role != "agent" or token.agent is None:
                return token
            try:  # a config agent token: the team is on the user row of that agent
                with self._sessions() as s:
                    team = users.team_of_agent(s, token.agent)
            except SQLAlchemyError:  # the agent's own call control must not need the database
                log.warning("agent %s: team unknown (database unavailable); own work only", token.agent)
                team = None
            return Principal(role=token.role, agent=token.agent, user=f"agent:{token.agent}", team=team)
        try:
            with self._sessions() as s:
                who = users.identity_for_session(s, secret)
        except SQLAlchemyError:  # not "unknown token": the client should retry, not log in again
            log.warning("login session: not checked (database unavailable)")
            raise ApiError(503, "login sessions cannot be checked: database unavailable") from None
        if who is None:
            return None
        return Principal(role=who.role, agent=who.agent, user=who.name, team=who.team)  # type: ignore[arg-type]


def identity(req: Request, session: Session, *roles: str) -> Identity:
    """The caller's identity if their role is one of ``roles``; raises 401/403 like ``Request.require``."""
    token = req.require(*roles)
    if isinstance(token, Principal):
        return Identity(token.user, token.role, token.agent, token.team)
    if token.agent is not None:
        return Identity(f"agent:{token.agent}", token.role, token.agent, users.team_of_agent(session, token.agent))
    return Identity(f"token:{token.role}", token.role)


def viewer(token: Token) -> Viewer:
    """The viewer behind an authenticated token (no database read: a Principal carries its team)."""
    if isinstance(token, Principal):
        return Viewer.of(Identity(token.user, token.role, token.agent, token.team))
    name = f"agent:{token.agent}" if token.agent is not None else f"token:{token.role}"
    return Viewer.of(Identity(name, token.role, token.agent))
