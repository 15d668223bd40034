"""engine/api/crm.py alone over HTTP on a real database: its routes as make_app serves them (Credentials,
one transaction per request), what they store and audit, the metrics they count, its callback-ticket hook
and overdue gauge. The whole engine's CRM paths are in tests/test_crm_api.py and test_api_visibility.py."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.api import crm
from engine.api.auth import Credentials
from engine.config.model import Crm
from engine.metrics import Metrics
from engine.runtime.call_session import CallTrace
from engine.store import audit, calls, tickets, users
from engine.store.crm_models import Ticket
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade
from tests.api_client import ADMIN, AGENT_1001, AGENT_1002, SUPERVISOR, TOKENS, serve

pytestmark = pytest.mark.db
PASSWORD = "s3cret-pass"
T0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(minutes=5)


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(db_url)
    engine = make_engine(db_url)
    factory = session_factory(engine)
    with factory.begin() as s:
        users.create_user(s, "seed", "grace", PASSWORD, "agent", agent_id="1001", team="support")
        users.create_user(s, "seed", "linus", PASSWORD, "agent", agent_id="1002", team="sales")
    yield factory
    engine.dispose()


@pytest.fixture
def engine(sessions):
    return SimpleNamespace(sessions=sessions, metrics=Metrics(), call_recorded=[])


@pytest.fixture
def api(engine):
    settings = Crm(login_max_failures=2, login_failure_window_seconds=60, login_lockout_seconds=120)
    register = crm.module(engine, region="GB", settings=settings)
    with serve([register], Credentials(TOKENS, engine.sessions), engine.metrics) as api:  # type: ignore[arg-type]
        yield api


def _call(s: Session, uuid: str, agent: str, queue: str, *, answered_after: float, talk: float = 60.0) -> int:
    bridged = T0 + timedelta(seconds=answered_after)
    record = calls.CallRecord(
        uuid, "+442079460018", "4000", T0, bridged + timedelta(seconds=talk), "answered", queue=queue,
        agent_id=agent, queued_at=T0, bridged_at=bridged,
    )  # fmt: skip
    return calls.record_finished_call(s, record)[1].id


def _count(sessions: sessionmaker[Session], model: Any) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


# ---- login, sessions and users --------------------------------------------------------------------


def test_a_login_answers_a_session_token_that_then_authenticates_and_is_counted(api) -> None:
    answer = api.call("POST", "/api/login", None, {"username": "grace", "password": PASSWORD})
    assert answer.status == 200
    assert {k: answer.body[k] for k in ("username", "role", "agent", "team")} == {
        "username": "grace", "role": "agent", "agent": "1001", "team": "support",
    }  # fmt: skip
    me = api.call("GET", "/api/me", answer.body["token"]).body
    assert me == {"name": "user:grace", "role": "agent", "agent": "1001", "team": "support"}
    assert api.metrics.value("hotline_logins_total", result="ok") == 1


def test_failed_logins_lock_the_username_with_429_and_retry_after(api) -> None:
    for _ in range(2):
        wrong = api.call("POST", "/api/login", None, {"username": "grace", "password": "wrong-pass"})
        assert (wrong.status, wrong.body["error"]) == (401, "unknown user or wrong password")
    locked = api.call("POST", "/api/login", None, {"username": "grace", "password": PASSWORD})  # right, but locked
    assert locked.status == 429 and "too many failed logins for 'grace'" in locked.body["error"]
    assert 0 < int(locked.headers["retry-after"]) <= 120
    assert api.call("POST", "/api/login", None, {"username": "linus", "password": PASSWORD}).status == 200
    assert [api.metrics.value("hotline_logins_total", result=r) for r in ("failed", "locked", "ok")] == [2, 1, 1]


def test_a_user_logs_out_their_own_session_only(api) -> None:
    grace = api.call("POST", "/api/login", None, {"username": "grace", "password": PASSWORD}).body["token"]
    linus = api.call("POST", "/api/login", None, {"username": "linus", "password": PASSWORD}).body["token"]
    refused = api.call("POST", "/api/logout", linus, {"token": grace})
    assert (refused.status, refused.body["error"]) == (403, "you can only revoke your own session")
    assert api.call("GET", "/api/me", grace).status == 200
    assert api.call("POST", "/api/logout", grace, {"token": grace}).body == {"ok": True}
    assert api.call("GET", "/api/me", grace).status == 401


def test_only_an_admin_adds_users_and_the_store_refuses_what_it_must(api, sessions) -> None:
    body = {"username": "ada", "password": PASSWORD, "role": "agent", "agent_id": "1003", "team": "support"}
    assert api.call("POST", "/api/users", SUPERVISOR, body).status == 403
    made = api.call("POST", "/api/users", ADMIN, body)
    assert (made.status, made.body["username"], made.body["agent"]) == (200, "ada", "1003")
    assert api.call("POST", "/api/users", ADMIN, body).status == 409
    no_agent = api.call("POST", "/api/users", ADMIN, {**body, "username": "bob", "agent_id": None})
    assert no_agent.status == 400 and "user.agent_id" in no_agent.body["error"]
    assert api.call("POST", "/api/users", ADMIN, {**body, "role": "root"}).error == (400, "body.role")
    with sessions() as s:
        assert [e.actor for e in audit.entries(s, entity="user", entity_id=str(made.body["id"]))] == ["token:admin"]
        assert users.team_of_agent(s, "1003") == "support" and users.team_of_agent(s, "bob") is None


def test_the_audit_log_is_for_staff_and_its_limit_is_bounded(api) -> None:
    api.call("POST", "/api/customers", ADMIN, {"name": "Ada"})
    entries = api.call("GET", "/api/audit?entity=customer&limit=1", SUPERVISOR).body
    assert [(e["actor"], e["entity"]) for e in entries] == [("token:admin", "customer")]
    assert api.call("GET", "/api/audit", AGENT_1001).status == 403
    assert api.call("GET", "/api/audit?limit=501", ADMIN).error == (400, "query.limit")


# ---- customers ----------------------------------------------------------------------------------


def test_a_customer_is_found_by_any_form_of_their_number_in_the_region(api) -> None:
    made = api.call("POST", "/api/customers", AGENT_1001, {"name": "Ada", "numbers": ["020 7946 0018"]}).body
    assert made["numbers"] == ["+442079460018"]
    for typed in ("+442079460018", "02079460018", "+44 20 7946 0018"):
        assert (
            api.call("GET", f"/api/customers?number={typed.replace('+', '%2B').replace(' ', '%20')}", AGENT_1002).body[
                "id"
            ]
            == made["id"]
        )
    missing = api.call("GET", "/api/customers?number=02079460099", ADMIN)
    assert (missing.status, missing.body["error"]) == (404, "no customer has number '02079460099'")
    assert api.call("GET", "/api/customers", ADMIN).error == (400, "query.number")


def test_a_bad_number_is_400_and_a_number_already_taken_is_409_changing_nothing(api) -> None:
    ada = api.call("POST", "/api/customers", ADMIN, {"name": "Ada", "numbers": ["02079460018"]}).body
    bob = api.call("POST", "/api/customers", ADMIN, {"name": "Bob"}).body
    bad = api.call("POST", "/api/customers", ADMIN, {"name": "Eve", "numbers": ["not a number"]})
    assert bad.status == 400 and "not a number" in bad.body["error"]
    taken = api.call("PATCH", f"/api/customers/{bob['id']}", ADMIN, {"name": "Robert", "numbers": ["02079460018"]})
    assert taken.status == 409
    assert api.call("GET", f"/api/customers/{bob['id']}", ADMIN).body["name"] == "Bob"
    assert api.call("GET", f"/api/customers/{ada['id'] + 100}", ADMIN).status == 404


def test_staff_merge_a_duplicate_and_agents_may_not(api) -> None:
    ada = api.call("POST", "/api/customers", ADMIN, {"name": "Ada", "numbers": ["02079460018"]}).body
    dup = api.call("POST", "/api/customers", ADMIN, {"name": "Ada L", "numbers": ["02079460019"]}).body
    assert api.call("POST", f"/api/customers/{ada['id']}/merge", AGENT_1001, {"duplicate_id": dup["id"]}).status == 403
    merged = api.call("POST", f"/api/customers/{ada['id']}/merge", SUPERVISOR, {"duplicate_id": dup["id"]})
    assert merged.status == 200 and sorted(merged.body["numbers"]) == ["+442079460018", "+442079460019"]
    assert api.call("GET", f"/api/customers/{dup['id']}", ADMIN).status == 404
    assert api.call("POST", f"/api/customers/{ada['id']}/merge", ADMIN, {"duplicate_id": "2"}).error == (
        400,
        "body.duplicate_id",
    )


# ---- interactions -------------------------------------------------------------------------------


def test_an_agent_wraps_up_their_own_call_only_and_a_refusal_changes_nothing(api, sessions) -> None:
    with sessions.begin() as s:
        own, other = (
            _call(s, "c-1", "1001", "support", answered_after=5),
            _call(s, "c-2", "1002", "support", answered_after=5),
        )
    done = api.call("POST", f"/api/interactions/{own}/wrap_up", AGENT_1001, {"disposition": "resolved", "notes": "ok"})
    assert (done.status, done.body["disposition"], done.body["notes"]) == (200, "resolved", "ok")
    refused = api.call("POST", f"/api/interactions/{other}/wrap_up", AGENT_1001, {"disposition": "resolved"})
    assert refused.status == 403 and "agent 1002's interaction" in refused.body["error"]
    assert api.call("GET", "/api/calls/c-2/interaction", SUPERVISOR).body["disposition"] is None
    assert api.call("GET", "/api/calls/c-1/interaction", AGENT_1001).body["id"] == own
    assert api.call("GET", "/api/calls/nope/interaction", ADMIN).status == 404


# ---- tickets ------------------------------------------------------------------------------------


def test_an_agents_own_ticket_is_assigned_to_them_and_counted(api, sessions) -> None:
    made = api.call("POST", "/api/tickets", AGENT_1001, {"title": "Router", "category": "fault"})
    assert (made.status, made.body["assignee"], made.body["state"]) == (200, "1001", "assigned")
    staff = api.call("POST", "/api/tickets", ADMIN, {"title": "Billing", "team": "sales"}).body
    assert (staff["assignee"], staff["team"]) == (None, "sales")
    assert api.metrics.value("hotline_tickets_created_total", category="fault") == 1
    assert api.metrics.value("hotline_tickets_created_total", category="question") == 1
    assert _count(sessions, Ticket) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "x", "assignee": "1002"}, "user:grace may not act for agent '1002'"),
        ({"title": "x", "team": "sales"}, "user:grace may not assign to team 'sales'"),
    ],
)
def test_an_agent_cannot_open_a_ticket_for_someone_else(api, sessions, body, message) -> None:
    grace = api.call("POST", "/api/login", None, {"username": "grace", "password": PASSWORD}).body["token"]
    refused = api.call("POST", "/api/tickets", grace, body)
    assert (refused.status, refused.body["error"]) == (403, message)
    assert (
        _count(sessions, Ticket) == 0 and api.metrics.value("hotline_tickets_created_total", category="question") == 0
    )


def test_ticket_events_move_it_count_it_and_an_illegal_move_is_409(api) -> None:
    tid = api.call("POST", "/api/tickets", ADMIN, {"title": "Router", "team": "support"}).body["id"]
    illegal = api.call("POST", f"/api/tickets/{tid}/events", AGENT_1001, {"event": "close"})
    assert (illegal.status, illegal.body["error"]) == (
        409,
        f"ticket {tid}: cannot 'close' in state 'assigned'; allowed: assign, start, comment",
    )
    moved = api.call("POST", f"/api/tickets/{tid}/events", SUPERVISOR, {"event": "assign", "assignee": "1001"})
    assert (moved.status, moved.body["state"]) == (200, "assigned")
    assert api.call("POST", f"/api/tickets/{tid}/events", AGENT_1001, {"event": "start"}).body["state"] == "in_progress"
    events = api.call("GET", f"/api/tickets/{tid}", ADMIN).body["events"]
    assert [(e["event"], e["to"]) for e in events][-2:] == [("assign", "assigned"), ("start", "in_progress")]
    assert api.metrics.value("hotline_ticket_events_total", event="start") == 1
    assert api.call("POST", f"/api/tickets/{tid}/events", ADMIN, {"event": "explode"}).error == (400, "body.event")
    hijack = api.call("POST", f"/api/tickets/{tid}/events", AGENT_1002, {"event": "comment", "note": "mine"})
    assert hijack.status == 403


def test_the_ticket_report_and_list_filters(api) -> None:
    api.call("POST", "/api/tickets", ADMIN, {"title": "A", "team": "support", "due_at": "2000-01-01T00:00:00Z"})
    api.call("POST", "/api/tickets", ADMIN, {"title": "B", "category": "fault", "team": "sales"})
    report = api.call("GET", "/api/reports/tickets", SUPERVISOR).body
    assert report == {"by_state": {"assigned": 2}, "by_category": {"question": 1, "fault": 1}, "overdue": 1}
    assert [t["title"] for t in api.call("GET", "/api/tickets?overdue=1", ADMIN).body] == ["A"]
    assert api.call("GET", "/api/tickets?state=bogus", ADMIN).error == (400, "query.state")
    assert api.call("GET", "/api/reports/tickets", AGENT_1001).status == 403
    assert api.call("POST", "/api/tickets", ADMIN, {"title": "C", "due_at": "2000-01-01T00:00:00"}).error == (
        400,
        "body.due_at",
    )  # a due time needs its offset


# ---- reports and stats ---------------------------------------------------------------------------


def test_service_level_counts_calls_answered_within_the_threshold(api, sessions) -> None:
    with sessions.begin() as s:
        _call(s, "c-1", "1001", "support", answered_after=10)
        _call(s, "c-2", "1001", "support", answered_after=30)
        _call(s, "c-3", "1002", "sales", answered_after=50)
    assert api.call("GET", "/api/reports/service_level", ADMIN).body == {
        "support": {"calls": 2, "answered_in_threshold": 1, "percent": 50.0},
        "sales": {"calls": 1, "answered_in_threshold": 0, "percent": 0.0},
    }
    wide = api.call("GET", "/api/reports/service_level?threshold=60", ADMIN).body
    assert wide["sales"]["percent"] == 100.0
    assert api.call("GET", "/api/reports/service_level?threshold=-1", ADMIN).error == (400, "query.threshold")


def test_an_agent_reads_their_own_stats_only(api, sessions) -> None:
    with sessions.begin() as s:
        _call(s, "c-1", "1001", "support", answered_after=10, talk=90)
        _call(s, "c-2", "1001", "support", answered_after=10, talk=30)
    stats = api.call("GET", "/api/agents/1001/stats", AGENT_1001).body
    assert (stats["calls"], stats["talk_seconds"], stats["dispositions"]) == (2, 120.0, {"none": 2})
    refused = api.call("GET", "/api/agents/1002/stats", AGENT_1001)
    assert (refused.status, refused.body["error"]) == (403, "agent 1001 may not read agent 1002's stats")


# ---- knowledge base -----------------------------------------------------------------------------


def test_staff_write_articles_and_everyone_searches_them(api) -> None:
    body = {"question": "How do I reset my router?", "answer": "Hold reset for ten seconds.", "tags": ["router"]}
    assert api.call("POST", "/api/kb", AGENT_1001, body).status == 403
    aid = api.call("POST", "/api/kb", SUPERVISOR, body).body["id"]
    api.call("POST", "/api/kb", ADMIN, {"question": "Opening hours?", "answer": "Nine to five."})
    assert [a["id"] for a in api.call("GET", "/api/kb?q=router", AGENT_1001).body] == [aid]
    patched = api.call("PATCH", f"/api/kb/{aid}", ADMIN, {"answer": "Hold reset for 30 seconds."})
    assert api.call("GET", f"/api/kb/{aid}", AGENT_1002).body["answer"] == patched.body["answer"]
    assert api.call("GET", "/api/kb/9999", ADMIN).status == 404
    assert api.call("POST", "/api/kb", ADMIN, {"question": "Empty?", "answer": ""}).error == (400, "body.answer")


# ---- the module's hooks -------------------------------------------------------------------------


def test_a_callback_request_call_opens_a_callback_ticket_for_its_queue(engine, api, sessions) -> None:
    with sessions.begin() as s:
        _call(s, "c-9", "1001", "support", answered_after=5)
    (on_call,) = engine.call_recorded
    on_call(CallTrace(uuid="c-9", caller="+442079460018", destination="4000", kind="inbound"))
    assert _count(sessions, Ticket) == 0  # not a callback request
    on_call(CallTrace(uuid="c-9", caller="+442079460018", destination="4000", kind="callback"))
    with sessions() as s:
        (ticket,) = tickets.list_tickets(s)
        assert (ticket.category, ticket.team, ticket.title) == (
            "callback",
            "support",
            "Callback request from +442079460018",
        )
    assert api.metrics.value("hotline_tickets_created_total", category="callback") == 1


def test_a_callback_request_without_a_stored_call_is_logged_not_raised(engine, api, sessions, caplog) -> None:
    (on_call,) = engine.call_recorded
    on_call(CallTrace(uuid="never-stored", caller="+442079460018", destination="4000", kind="callback"))
    assert _count(sessions, Ticket) == 0
    assert any("call never-stored: callback request recorded, but no ticket" in r.getMessage() for r in caplog.records)


def test_the_overdue_gauge_reads_the_store_at_scrape_and_is_nan_when_the_database_is_down(
    tmp_path: Path, caplog
) -> None:
    down = make_engine(f"sqlite:///{tmp_path}/none.sqlite")  # never migrated: every read fails
    metrics = Metrics()
    crm.module(
        SimpleNamespace(sessions=session_factory(down), metrics=metrics, call_recorded=[]), region="GB", settings=Crm()
    )
    assert math.isnan(metrics.value("hotline_tickets_overdue"))
    assert any("overdue tickets: database unavailable" in r.getMessage() for r in caplog.records)
    down.dispose()
