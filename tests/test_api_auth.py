"""engine/api/auth.py over HTTP on a real database: config tokens and login sessions as make_app
authenticates them (Credentials), the audit name, role, agent and team a route sees (identity), and the
viewer a read takes (viewer), including a config agent token while the database is down."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.api.auth import Credentials, identity, viewer
from engine.api.http import Request, Router
from engine.store import users
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade
from engine.store.timestamps import utcnow
from tests.api_client import ADMIN, AGENT_1001, AGENT_1002, SUPERVISOR, TOKENS, serve

pytestmark = pytest.mark.db
PASSWORD = "s3cret-pass"


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(db_url)
    engine = make_engine(db_url)
    factory = session_factory(engine)
    with factory.begin() as s:
        users.create_user(s, "seed", "grace", PASSWORD, "agent", agent_id="1001", team="support")
        users.create_user(s, "seed", "sue", PASSWORD, "supervisor")
    yield factory
    engine.dispose()


def _who(sessions: sessionmaker[Session]):
    def register(router: Router) -> None:
        @router.route("GET", "/t/who")
        def who(req: Request) -> Any:
            with sessions() as s:
                found = identity(req, s, "admin", "supervisor", "agent")
            seen = viewer(req.token)  # type: ignore[arg-type]
            return {
                "name": found.name, "role": found.role, "agent": found.agent, "team": found.team,
                "viewer": [seen.name, sorted(seen.teams), seen.everything],
            }  # fmt: skip

        @router.route("GET", "/t/staff")
        def staff(req: Request) -> Any:
            with sessions() as s:
                return identity(req, s, "admin", "supervisor").name

    return register


def _login(sessions: sessionmaker[Session], username: str, **kw: Any) -> str:
    with sessions.begin() as s:
        found = users.login(s, username, PASSWORD, **kw)
    assert found is not None
    return found[0]


@pytest.fixture
def api(sessions):
    with serve([_who(sessions)], Credentials(TOKENS, sessions)) as api:  # type: ignore[arg-type]
        yield api


def test_config_tokens_authenticate_with_their_role_and_an_agents_team_from_their_user_row(api) -> None:
    assert api.call("GET", "/t/who", ADMIN).body == {
        "name": "token:admin", "role": "admin", "agent": None, "team": None, "viewer": ["token:admin", [], True],
    }  # fmt: skip
    assert api.call("GET", "/t/who", SUPERVISOR).body["viewer"] == ["token:supervisor", [], True]
    grace = api.call("GET", "/t/who", AGENT_1001).body
    assert grace == {
        "name": "agent:1001", "role": "agent", "agent": "1001", "team": "support",
        "viewer": ["agent:1001", ["support"], False],
    }  # fmt: skip
    no_user = api.call("GET", "/t/who", AGENT_1002).body  # no user row links agent 1002: no team
    assert (no_user["team"], no_user["viewer"]) == (None, ["agent:1002", [], False])


def test_a_login_session_authenticates_as_the_user_until_it_is_revoked(api, sessions) -> None:
    token = _login(sessions, "grace")
    assert api.call("GET", "/t/who", token).body == {
        "name": "user:grace", "role": "agent", "agent": "1001", "team": "support",
        "viewer": ["user:grace", ["support"], False],
    }  # fmt: skip
    sue = _login(sessions, "sue")
    assert api.call("GET", "/t/staff", sue).body == "user:sue"
    assert api.call("GET", "/t/staff", token).status == 403
    with sessions.begin() as s:
        users.logout(s, token)
    assert api.call("GET", "/t/who", token).status == 401
    assert api.call("GET", "/t/staff", sue).status == 200


def test_an_expired_session_an_unknown_and_an_empty_token_are_401(api, sessions) -> None:
    old = _login(sessions, "grace", now=utcnow() - timedelta(hours=users.SESSION_HOURS + 1))
    for token in (old, "no-such-token", ""):
        answer = api.call("GET", "/t/who", token)
        assert (answer.status, answer.body["error"]) == (401, "missing or unknown token")
    assert api.call("GET", f"/t/who?token={ADMIN}").status == 200  # EventSource's way of sending it


def test_a_config_agent_token_still_works_when_the_database_is_down(tmp_path: Path, caplog) -> None:
    down = make_engine(f"sqlite:///{tmp_path}/no/such/dir/db.sqlite")
    credentials = Credentials(TOKENS, session_factory(down))

    def register(router: Router) -> None:
        @router.route("GET", "/t/own")
        def own(req: Request) -> Any:
            token = req.require("admin", agent="1001")
            seen = viewer(token)
            return [seen.name, seen.agent, sorted(seen.teams)]

    with caplog.at_level(logging.WARNING, logger="engine.api.auth"), serve([register], credentials) as api:  # type: ignore[arg-type]
        answer = api.call("GET", "/t/own", AGENT_1001)
        assert (answer.status, answer.body) == (200, ["agent:1001", "1001", []])  # own work only: no team
        assert api.call("GET", "/t/own", ADMIN).status == 200  # no database read for a non-agent token
    assert any("agent 1001: team unknown (database unavailable)" in r.getMessage() for r in caplog.records)
    down.dispose()


def test_a_session_token_while_the_database_is_down_is_503_not_a_500(tmp_path: Path) -> None:
    down = make_engine(f"sqlite:///{tmp_path}/no/such/dir/db.sqlite")
    with serve([lambda router: None], Credentials(TOKENS, session_factory(down))) as api:  # type: ignore[arg-type]
        answer = api.call("GET", "/api/queues", "a-login-session-token")
        assert answer.status == 503 and answer.headers["content-type"] == "application/json"
        assert answer.body["error"] == "login sessions cannot be checked: database unavailable"
    down.dispose()
