"""The API's edge over HTTP: each malformed-request finding of issue 12 answers a JSON 4xx naming the field,
a failed request changes nothing (the break reason), and anything unexpected is a logged JSON 500."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import pytest

from engine.store import agents, customers, queues, skills, tickets
from tests.hotline_rig import seed, start_rig

pytestmark = [pytest.mark.integration, pytest.mark.db]


def _j(data: dict) -> bytes:
    return json.dumps(data).encode()


def _seed(s) -> None:
    for name in ("sales", "support", "billing", "vip"):
        skills.create_skill(s, name)
        queues.create_queue(s, name, wrap_up_seconds=30, required_skills={name: 1})
    agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"support": 7})
    c = customers.create_customer(s, "Ada Lovelace", region="CN", numbers=["13900139000"])
    tickets.create_ticket(s, "seed", title="Slow line", customer_id=c.id, team="support")


@pytest.fixture
def rig(tmp_path, db_url):
    seed(db_url, _seed)
    yield from start_rig(tmp_path, db_url, ["1001"])


def _send(
    rig, method: str, path: str, data: bytes | None, headers: dict[str, str] | None = None
) -> tuple[int, str, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{rig.http_port}{path}", data=data, method=method,
        headers={"Authorization": f"Bearer {rig.admin}", "Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], json.loads(exc.read())


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/api/tickets", b'{"title": "x", "note": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "body"),
        ("POST", "/api/tickets", b"[" * 100_000, 413, "body"),
        ("POST", "/api/tickets", _j({"title": "x", "customer_id": 2**63 + 1}), 400, "body.customer_id"),
        ("POST", "/api/tickets", json.dumps({"title": "x", "customer_id": 2**31}).encode(), 400, "body.customer_id"),
        ("POST", "/api/tickets", b'{"title": "x", "customer_id": ' + b"9" * 5000 + b"}", 400, "body"),
        ("GET", f"/api/tickets/{2**63 + 1}", None, 400, "path.tid"),
        ("GET", f"/api/tickets/{2**31}", None, 400, "path.tid"),
        ("DELETE", f"/api/recording-rules/{2**64}", None, 400, "path.rule_id"),
        ("POST", "/api/tickets", b"{}", 400, "body.title"),
        ("POST", "/api/tickets", json.dumps({"title": ["x"]}).encode(), 400, "body.title"),
        ("POST", "/api/tickets", json.dumps({"title": "x", "due_at": 5}).encode(), 400, "body.due_at"),
        ("POST", "/api/tickets", json.dumps({"title": "x", "colour": "red"}).encode(), 400, "body.colour"),
        ("POST", "/api/tickets/1/events", json.dumps({"event": "resolve", "follow_up_hours": "NaN"}).encode(), 400,
         "body.follow_up_hours"),
        ("POST", "/api/tickets/1/events", b'{"event": "resolve", "follow_up_hours": NaN}', 400, "body.follow_up_hours"),
        ("POST", "/api/customers/1/merge", json.dumps({"duplicate_id": True}).encode(), 400, "body.duplicate_id"),
        ("GET", "/api/tickets?limit=x", None, 400, "query.limit"),
        ("GET", "/api/tickets?customer=99999999999999999999", None, 400, "query.customer"),
        ("POST", "/api/agents/1001/break", json.dumps({"reason": 7}).encode(), 400, "body.reason"),
        ("POST", "/api/agents/1001/call/dial", _j({"number": "123\n\napi hupall"}), 400, "body.number"),
        ("POST", "/api/tickets", b"\xff\xfe", 400, "body"),
    ],
)  # fmt: skip
def test_malformed_requests_get_a_json_4xx_naming_the_field(rig, method, path, body, status, field) -> None:
    got, content_type, answer = _send(rig, method, path, body)
    assert (got, content_type, answer["field"]) == (status, "application/json", field), answer
    assert answer["error"]


def test_unknown_ids_are_404_on_every_verb(rig) -> None:
    for method, path, body in [
        ("DELETE", "/api/recording-rules/424242", None),
        ("GET", "/api/tickets/424242", None),
        ("PATCH", "/api/customers/424242", b'{"name": "x"}'),
        ("POST", "/api/customers/1/merge", b'{"duplicate_id": 424242}'),
        ("POST", "/api/callbacks/424242/cancel", None),
        ("POST", "/api/agents/nobody/ready", None),
    ]:
        got, content_type, answer = _send(rig, method, path, body)
        assert (got, content_type) == (404, "application/json"), (method, path, answer)
        assert "424242" in answer["error"] or "nobody" in answer["error"], answer


def test_a_conflict_is_409_and_changes_nothing(rig) -> None:
    status, other = rig.api("POST", "/api/customers", rig.admin, {"name": "Bob", "numbers": ["13900139001"]})
    assert status == 200
    # the number belongs to Ada already: the unique constraint refuses it; Bob's new name is rolled back with it
    got, _, answer = _send(
        rig, "PATCH", f"/api/customers/{other['id']}", b'{"name": "Robert", "numbers": ["13900139000"]}'
    )
    assert got == 409 and "already belongs to a customer" in answer["error"]
    assert rig.api("GET", f"/api/customers/{other['id']}", rig.admin)[1]["name"] == "Bob"


def test_a_break_reason_that_cannot_be_stored_leaves_the_agent_as_they_were(rig) -> None:
    token = rig.agent_tokens["1001"]
    rig.ready("1001")
    for reason in ("x" * 65, "lunch\r\napi hupall", ""):
        status, answer = rig.api("POST", "/api/agents/1001/break", token, {"reason": reason})
        assert (status, answer["field"]) == (400, "body.reason"), answer
        assert [a["state"] for a in rig.api("GET", "/api/agents", rig.admin)[1] if a["id"] == "1001"] == ["ready"]
    status, answer = rig.api("POST", "/api/supervise/1001/force_break", rig.admin, {"reason": "y" * 65})
    assert (status, answer["field"]) == (400, "body.reason")
    assert [a["state"] for a in rig.api("GET", "/api/agents", rig.admin)[1] if a["id"] == "1001"] == ["ready"]
    status, answer = rig.api("POST", "/api/agents/1001/break", token, {"reason": "x" * 64})
    assert status == 200 and answer["state"] == "break"


def test_an_unexpected_error_is_a_logged_json_500(rig, caplog, monkeypatch) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(rig.engine.backend, "queues_view", broken)
    with caplog.at_level(logging.ERROR, logger="engine.api.app"):
        got, content_type, answer = _send(rig, "GET", "/api/queues", None)
    assert (got, content_type, answer) == (500, "application/json", {"error": "internal error (logged)", "field": None})
    assert any("RuntimeError: a bug" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_an_agent_reads_their_own_real_state_and_no_one_elses(rig) -> None:
    me = rig.agent_tokens["1001"]
    assert rig.api("POST", "/api/agents/1001/login", rig.admin)[0] == 200  # made ready by someone else (the CLI)
    status, view = rig.api("GET", "/api/agents/1001", me)
    assert (status, view["id"], view["state"], view["call"], view["on_hold"], view["consult"]) == (
        200, "1001", "ready", None, False, None,
    )  # fmt: skip
    assert 0 <= view["seconds_in_state"] < 60
    assert rig.api("GET", "/api/agents/1002", me)[0] == 403
    assert rig.api("GET", "/api/agents/9999", rig.admin) == (404, {"error": "agent 9999: no such agent", "field": None})
