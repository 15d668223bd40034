"""The CRM HTTP API on a running hotline (emulator, real TCP): auth, tickets, customers, KB,
input checks, audit, OpenAPI, metrics, and the call path (screen pop with open tickets, callback
requests becoming tickets, wrap-up of a real call)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from engine.emulator import Caller, Phone
from engine.store import agents, customers, kb, queues, skills, tickets, users
from tests.hotline_rig import HOTLINE_NUMBER, seed, start_rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

CALLER = "13900139000"
PASSWORD = "s3cret-pass"


def _seed(s) -> None:
    for name in ("sales", "support", "billing", "vip"):
        skills.create_skill(s, name)
        queues.create_queue(s, name, wrap_up_seconds=30, required_skills={name: 1})
    agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"support": 7})
    agents.create_agent(s, "1002", name="Linus", contact="user/1002", skills={"sales": 5})
    users.create_user(s, "seed", "grace", PASSWORD, "agent", agent_id="1001", team="support")
    users.create_user(s, "seed", "linus", PASSWORD, "agent", agent_id="1002", team="sales")
    users.create_user(s, "seed", "sue", PASSWORD, "supervisor")
    c = customers.create_customer(s, "Ada Lovelace", region="CN", numbers=[CALLER])
    tickets.create_ticket(s, "seed", title="Slow line", customer_id=c.id, team="support")
    kb.create_article(s, "seed", "How do I reset my router?", "Hold reset for ten seconds.", ["router"])


@pytest.fixture
def rig(tmp_path, db_url):
    seed(db_url, _seed)
    yield from start_rig(tmp_path, db_url, ["1001", "1002"])


def _login(rig, username: str) -> str:
    status, body = rig.api("POST", "/api/login", "", {"username": username, "password": PASSWORD})
    assert status == 200, body
    return body["token"]


def _raw(rig, method: str, path: str, token: str, data: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{rig.http_port}{path}", data=data, method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_nothing_is_open_without_a_token(rig) -> None:
    status, doc = rig.api("GET", "/api/openapi.json", rig.admin)
    assert status == 200 and "/api/tickets/{tid}/events" in doc["paths"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == [] or path.startswith("/desktop"):
                continue
            concrete = path
            for parameter in operation.get("parameters", []):  # a value the route accepts, from its pattern
                choices = re.fullmatch(r"\^\(\?:([\w|]+)\)\$", parameter["schema"].get("pattern", ""))
                value = choices.group(1).split("|")[0] if choices else "1"
                concrete = concrete.replace("{" + parameter["name"] + "}", value)
            status, _ = rig.api(method.upper(), concrete, "not-a-token", {} if method != "get" else None)
            assert status == 401, f"{method} {path} answered {status} without a token"
    assert rig.api("POST", "/api/login", "", {"username": "grace", "password": "wrong-pass"})[0] == 401


def test_login_sessions_and_config_tokens_both_work(rig) -> None:
    token = _login(rig, "grace")
    assert rig.api("GET", "/api/me", token)[1] == {
        "name": "user:grace",
        "role": "agent",
        "agent": "1001",
        "team": "support",
    }
    assert rig.api("GET", "/api/me", rig.agent_tokens["1001"])[1]["team"] == "support"  # team from the user row
    assert rig.api("GET", "/api/me", rig.admin)[1]["role"] == "admin"
    assert rig.api("POST", "/api/logout", token, {"token": token})[0] == 200
    assert rig.api("GET", "/api/me", token)[0] == 401


def test_agents_see_only_their_teams_tickets_and_cannot_act_for_others(rig) -> None:
    grace, linus = _login(rig, "grace"), _login(rig, "linus")
    support_ticket = rig.api("GET", "/api/tickets", grace)[1][0]
    assert support_ticket["team"] == "support"
    assert rig.api("GET", "/api/tickets", linus)[1] == []
    status, body = rig.api("GET", f"/api/tickets/{support_ticket['id']}", linus)
    assert status == 403 and "may not read ticket" in body["error"]
    assert rig.api("POST", f"/api/tickets/{support_ticket['id']}/events", linus, {"event": "comment"})[0] == 403
    status, body = rig.api("POST", "/api/tickets", linus, {"title": "x", "assignee": "1001"})
    assert status == 403 and "may not act for agent '1001'" in body["error"]
    assert rig.api("GET", "/api/agents/1001/stats", linus)[0] == 403
    assert rig.api("POST", "/api/customers/1/merge", linus, {"duplicate_id": 2})[0] == 403
    assert rig.api("POST", "/api/kb", grace, {"question": "q", "answer": "a"})[0] == 403
    own = rig.api("POST", "/api/tickets", grace, {"title": "mine"})[1]
    assert (own["assignee"], own["state"]) == ("1001", "assigned")
    assert rig.api("GET", f"/api/tickets/{own['id']}", linus)[0] == 403


def test_follow_up_falls_due_after_the_configured_hours(tmp_path, db_url) -> None:
    seed(db_url, _seed)
    for rig in start_rig(tmp_path, db_url, ["1001"], config={"crm": {"follow_up_hours": 2}}):
        grace = _login(rig, "grace")
        t = rig.api("POST", "/api/tickets", grace, {"title": "Router", "assignee": "1001"})[1]
        rig.api("POST", f"/api/tickets/{t['id']}/events", grace, {"event": "start"})
        before = datetime.now(UTC)
        status, t = rig.api("POST", f"/api/tickets/{t['id']}/events", grace, {"event": "resolve"})
        assert status == 200, t
        due = datetime.fromisoformat(t["follow_up_due_at"]) - timedelta(hours=2)
        assert before - timedelta(seconds=1) <= due <= datetime.now(UTC)


def test_repeated_failed_logins_lock_the_username_with_429(rig) -> None:
    wrong = {"username": "grace", "password": "not-the-password"}
    for _ in range(5):
        assert rig.api("POST", "/api/login", "", wrong)[0] == 401
    request = urllib.request.Request(
        f"http://127.0.0.1:{rig.http_port}/api/login", method="POST",
        data=json.dumps({"username": "grace", "password": PASSWORD}).encode(),
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:  # the right password is refused while locked
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 429 and 299 <= int(refused.value.headers["Retry-After"]) <= 300
    assert "too many failed logins for 'grace'" in json.loads(refused.value.read())["error"]
    assert _login(rig, "sue")  # other users still log in
    assert rig.engine.metrics.value("hotline_logins_total", result="failed") == 5
    assert rig.engine.metrics.value("hotline_logins_total", result="locked") == 1


def test_ticket_lifecycle_over_the_api_is_stored_and_audited(rig) -> None:
    grace, sue = _login(rig, "grace"), _login(rig, "sue")
    status, t = rig.api(
        "POST", "/api/tickets", grace, {"title": "Bill too high", "category": "complaint", "assignee": "1001"}
    )
    assert status == 200 and t["state"] == "assigned"
    status, body = rig.api("POST", f"/api/tickets/{t['id']}/events", grace, {"event": "close"})
    assert status == 409 and f"ticket {t['id']}: cannot 'close' in state 'assigned'" in body["error"]
    for event in ("start", "resolve", "follow_up", "close"):
        status, body = rig.api("POST", f"/api/tickets/{t['id']}/events", grace, {"event": event, "note": f"{event}!"})
        assert status == 200, body
    detail = rig.api("GET", f"/api/tickets/{t['id']}", grace)[1]
    assert [e["event"] for e in detail["events"]] == ["create", "assign", "start", "resolve", "follow_up", "close"]
    assert detail["events"][-1]["actor"] == "user:grace" and detail["events"][-1]["note"] == "close!"
    trail = rig.api("GET", f"/api/audit?entity=ticket&id={t['id']}", sue)[1]
    assert [e["action"] for e in trail][:2] == ["ticket.close", "ticket.follow_up"]
    assert trail[0]["before"]["state"] == "follow_up" and trail[0]["after"]["state"] == "closed"
    report = rig.api("GET", "/api/reports/tickets", sue)[1]
    assert report["by_state"]["closed"] == 1 and report["by_category"]["complaint"] == 1
    assert rig.engine.metrics.value("hotline_ticket_events_total", event="close") == 1


def test_overdue_tickets_show_in_the_metric_and_report(rig) -> None:
    sue = _login(rig, "sue")
    rig.api("POST", "/api/tickets", sue, {"title": "late", "team": "support", "due_at": "2020-01-01T00:00:00+00:00"})
    assert rig.engine.metrics.value("hotline_tickets_overdue") == 1
    assert rig.api("GET", "/api/reports/tickets", sue)[1]["overdue"] == 1
    assert [t["title"] for t in rig.api("GET", "/api/tickets?overdue=1", sue)[1]] == ["late"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"title": "x" * 201}).encode(), 400, "body.title"),
        (json.dumps({"title": 5}).encode(), 400, "must be a string"),
        (json.dumps({"title": "a\u0000b"}).encode(), 400, "NUL"),
        (json.dumps({"title": "x", "priority": "asap"}).encode(), 400, "body.priority"),
        (json.dumps({"title": "x", "customer_id": "1 OR 1=1"}).encode(), 400, "body.customer_id"),
        (json.dumps({"title": "x", "customer_id": 999}).encode(), 404, "customer 999"),
        (json.dumps({"title": "x" * 70_000}).encode(), 413, "larger than"),
    ],
)
def test_bad_input_gets_a_clear_4xx(rig, body: bytes, status: int, message: str) -> None:
    got, answer = _raw(rig, "POST", "/api/tickets", rig.admin, body)
    assert got == status and message in answer["error"]
    if status == 400 and message.startswith("body."):
        assert answer["field"] == message


def test_text_is_stored_and_returned_faithfully(rig) -> None:
    nasty = "Robert'); DROP TABLE tickets;-- \"%_\\ 王小明 😀 \u202e"
    status, t = rig.api("POST", "/api/tickets", rig.admin, {"title": nasty, "description": nasty})
    assert status == 200
    again = rig.api("GET", f"/api/tickets/{t['id']}", rig.admin)[1]
    assert again["title"] == nasty and again["description"] == nasty
    status, c = rig.api("POST", "/api/customers", rig.admin, {"name": nasty, "numbers": ["+86 139 0013 9111"]})
    assert status == 200 and c["name"] == nasty and c["numbers"] == ["+8613900139111"]
    assert rig.api("GET", "/api/customers?number=13900139111", rig.admin)[1]["name"] == nasty
    created = rig.api("GET", f"/api/audit?entity=customer&id={c['id']}", rig.admin)[1]
    assert [(e["action"], e["actor"], e["after"]["name"]) for e in created] == [
        ("customer.create", "token:admin", nasty)
    ]
    assert rig.api("GET", "/api/kb?q=" + urllib.request.quote(nasty), rig.admin)[0] == 200
    assert rig.api("GET", "/api/kb?q=router", rig.admin)[1][0]["question"] == "How do I reset my router?"


def test_a_real_call_pops_open_tickets_and_is_wrapped_up(rig) -> None:
    rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
    rig.ready("1001")
    feed = rig.feed("1001")
    grace = _login(rig, "grace")
    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=5), HOTLINE_NUMBER)
    pop = next(m for m in iter(lambda: feed.get(timeout=10), None) if m["kind"] == "screen_pop")
    assert [t["title"] for t in pop["data"]["customer"]["open_tickets"]] == ["Slow line"]
    rig.next_call()
    interaction = rig.api("GET", f"/api/calls/{uuid}/interaction", grace)[1]
    linus = _login(rig, "linus")
    assert rig.api("POST", f"/api/interactions/{interaction['id']}/wrap_up", linus, {"notes": "x"})[0] == 403
    status, done = rig.api(
        "POST", f"/api/interactions/{interaction['id']}/wrap_up", grace, {"disposition": "resolved", "notes": "ok"}
    )
    assert status == 200 and (done["disposition"], done["notes"], done["agent_id"]) == ("resolved", "ok", "1001")
    stats = rig.api("GET", "/api/agents/1001/stats", grace)[1]
    assert stats["calls"] == 1 and stats["dispositions"] == {"resolved": 1}


def test_a_callback_request_becomes_a_ticket_and_the_ivr_reads_ticket_status(rig) -> None:
    rig.engine.flows = {**rig.engine.flows, "main": rig.engine.flows["after_hours"]}
    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"]), HOTLINE_NUMBER)
    assert rig.next_call().kind == "callback"
    found = rig.api("GET", "/api/tickets?state=accepted", rig.admin)[1]
    callback = next(t for t in found if t["category"] == "callback")
    assert callback["created_by"] == "ivr" and CALLER in callback["title"]
    assert rig.api("GET", f"/api/calls/{uuid}/interaction", rig.admin)[1]["tickets"] == [callback["id"]]
    assert rig.engine.lookups.lookup("ticket_status", callback["number"])["status"] == "accepted"
    assert rig.engine.lookups.lookup("open_tickets", CALLER)["count"] == 2
    assert rig.engine.lookups.lookup("ticket_status", "999999") == {}
