"""Visibility over HTTP (docs/security.md, "Visibility"): an agent of team A walks every route of the
OpenAPI document, the SSE feed and a real call's screen pop over data of teams A and B; nothing of
team B's work beyond its references (id, number, title, state, kind, team, dates) may appear.

Team B's descriptions, notes, comments, dispositions, IVR paths and recording paths carry the
marker ``zqxb``; team A's carry ``teamavisible`` (positive control: the walk does read real data)."""

from __future__ import annotations

import http.client
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from engine.emulator import Caller, Phone
from engine.store import agents, calls, customers, queues, recordings, skills, tickets, users
from tests.hotline_rig import HOTLINE_NUMBER, Rig, seed, start_rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

CALLER = "13900139000"
PASSWORD = "s3cret-pass"
B_MARK = "zqxb"  # in every piece of team B's work that team A must not read
A_MARK = "teamavisible"
T0 = datetime.now(UTC) - timedelta(hours=1)
B_UUID, A_UUID, MATE_UUID = "b0000000-0000-4000-8000-00000000000b", "a0000000-0000-4000-8000-00000000000a", "m-1"


def _call(s, uuid: str, agent: str, queue: str, customer_id: int, mark: str, minutes: int):
    record = calls.CallRecord(
        uuid, CALLER, HOTLINE_NUMBER, T0 + timedelta(minutes=minutes), T0 + timedelta(minutes=minutes + 2),
        "answered", queue=queue, agent_id=agent,
    )  # fmt: skip
    _, interaction = calls.record_finished_call(
        s, record, customer_id=customer_id, disposition=f"{mark}_disposition", notes=f"{mark} interaction notes",
        ivr_path=[f"{mark}_menu"], recording_path=f"/rec/{mark}-{uuid}.wav",
    )  # fmt: skip
    recordings.add_recording(s, uuid, f"/rec/{mark}-{uuid}-rule.wav", reason="rule", agent_id=agent, queue=queue)
    return interaction


def _seed(s) -> None:
    for name in ("sales", "support", "billing", "vip"):  # the queues the shipped flows name
        skills.create_skill(s, name)
        queues.create_queue(s, name, wrap_up_seconds=30, required_skills={name: 1})
    agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"support": 7})
    agents.create_agent(s, "1002", name="Linus", contact="user/1002", skills={"sales": 5})
    agents.create_agent(s, "1003", name="Mate", contact="user/1003", skills={"support": 5})
    users.create_user(s, "seed", "grace", PASSWORD, "agent", agent_id="1001", team="support")
    users.create_user(s, "seed", "linus", PASSWORD, "agent", agent_id="1002", team="sales")
    users.create_user(s, "seed", "mate", PASSWORD, "agent", agent_id="1003", team="support")
    users.create_user(s, "seed", "sue", PASSWORD, "supervisor")
    ada = customers.create_customer(s, "Ada Lovelace", region="CN", numbers=[CALLER], notes="shared customer note")
    _call(s, B_UUID, "1002", "sales", ada.id, B_MARK, 0)
    _call(s, A_UUID, "1001", "support", ada.id, A_MARK, 10)
    _call(s, MATE_UUID, "1003", "support", ada.id, f"mate{A_MARK}", 20)
    b = tickets.create_ticket(
        s, "agent:1002", title="Sales quote", description=f"{B_MARK} ticket description", customer_id=ada.id,
        team="sales",
    )  # fmt: skip
    tickets.apply_event(s, b.id, "agent:1002", "comment", note=f"{B_MARK} ticket comment")
    tickets.create_ticket(s, "agent:1002", title="Sales private", description=f"{B_MARK} d2", assignee="1002")
    tickets.create_ticket(
        s, "agent:1001", title="Slow line", description=f"{A_MARK} ticket description", customer_id=ada.id,
        team="support",
    )  # fmt: skip


@pytest.fixture
def rig(tmp_path, db_url):
    seed(db_url, _seed)
    yield from start_rig(tmp_path, db_url, ["1001", "1002", "1003"])


def _login(rig: Rig, username: str) -> str:
    status, body = rig.api("POST", "/api/login", "", {"username": username, "password": PASSWORD})
    assert status == 200, body
    return body["token"]


def _request(rig: Rig, method: str, path: str, token: str, body: dict | None) -> tuple[int, bytes]:
    """Any response's raw body; an event stream is read up to its first message (or its comment line
    when it has none within the timeout)."""
    connection = http.client.HTTPConnection("127.0.0.1", rig.http_port, timeout=5)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        if response.getheader("Content-Type") != "text/event-stream":
            return response.status, response.read()
        seen, line = b"", b"-"
        try:
            while line and seen.count(b"\n\n") < 2:  # ": connected", then the replayed screen pop
                line = response.fp.readline()
                seen += line
        except TimeoutError:
            pass
        return response.status, seen
    finally:
        connection.close()


def _values(schema: dict[str, Any], ids: list[str], names: list[str]) -> list[str]:
    """Values to try for a path parameter: each alternative of an enumerated pattern; every seeded id
    for a number; seeded call uuids, agent ids, numbers and queue names for anything else."""
    pattern = schema.get("pattern", "")
    choices = re.fullmatch(r"\^\(\?:([\w|]+)\)\$", pattern)
    if choices:
        return choices.group(1).split("|")
    candidates = ids if pattern == r"^(?:\d+)$" else names
    return [v for v in candidates if re.fullmatch(pattern, v)] or candidates


def _walk(
    rig: Rig, token: str, ids: list[str], names: list[str], probes: list[dict[str, str]], methods: tuple[str, ...]
) -> dict[str, Any]:
    """Every operation of the OpenAPI document (of ``methods``) with every parameter value, lists also
    with each probe query; returns the operations walked and every response body."""
    status, doc = rig.api("GET", "/api/openapi.json", token)
    assert status == 200
    operations, bodies = [], []
    for path, ops in doc["paths"].items():
        for method, operation in ops.items():
            if method not in methods:
                continue
            operations.append((method, path))
            params = operation.get("parameters", [])
            grids = [_values(p["schema"], ids, names) for p in params]
            for combo in itertools.product(*grids):
                concrete = path
                for p, value in zip(params, combo, strict=True):
                    concrete = concrete.replace("{" + p["name"] + "}", value)
                # probe queries on the lists (filters, searches); a record's own route is tried with every id
                queries = [""] + [f"?{urlencode(q)}" for q in probes] if method == "get" and not params else [""]
                for query in queries:
                    body = {} if method in ("post", "patch", "put") else None
                    code, raw = _request(rig, method.upper(), concrete + query, token, body)
                    assert code < 500, f"{method} {concrete}{query}: {code} {raw[:200]!r}"
                    bodies.append((f"{method.upper()} {concrete}{query} -> {code}", raw))
    return {"operations": operations, "bodies": bodies}


def _seeded_ids(rig: Rig) -> tuple[list[str], dict[str, Any]]:
    """Every id the walk tries (all records of both teams, taken as the admin sees them)."""
    tickets_all = rig.api("GET", "/api/tickets", rig.admin)[1]
    interactions_all = rig.api("GET", "/api/interactions", rig.admin)[1]
    ada = rig.api("GET", f"/api/customers?number={CALLER}", rig.admin)[1]
    top = max([t["id"] for t in tickets_all] + [i["id"] for i in interactions_all] + [ada["id"]])
    return [str(n) for n in range(1, top + 2)], {"tickets": tickets_all, "interactions": interactions_all, "ada": ada}


def test_an_agent_walking_every_route_sees_no_other_teams_work(rig) -> None:
    ids, seeded = _seeded_ids(rig)
    b_ticket = next(t for t in seeded["tickets"] if t["title"] == "Sales quote")
    pop = rig.engine.lookups.customer_pop(CALLER)  # the screen pop of a call from Ada, as the runtime builds it
    rig.engine.hub.publish("1001", "screen_pop", {"customer": pop[0], "last_interactions": pop[1]}, sticky=True)
    names = ["1001", "1002", "1003", B_UUID, A_UUID, MATE_UUID, CALLER, "support", "sales"]
    probes = [
        {"number": CALLER, "customer": str(seeded["ada"]["id"]), "limit": "500"},
        {"agent": "1002", "q": B_MARK, "entity": "ticket", "id": str(b_ticket["id"]), "state": "assigned"},
    ]
    # a login session walks every operation; a config agent token (another path to the same viewer) the reads
    every, reads = ("get", "post", "patch", "put", "delete"), ("get",)
    for token, methods in ((_login(rig, "grace"), every), (rig.agent_tokens["1001"], reads)):
        walked = _walk(rig, token, ids, names, probes, methods)
        assert len(walked["operations"]) >= 30 and ("get", "/api/agents/{agent_id}/feed") in walked["operations"]
        leaks = [what for what, raw in walked["bodies"] if B_MARK in raw.decode(errors="replace").lower()]
        assert leaks == [], f"team B's work leaked through: {leaks[:10]}"
        seen = b"".join(raw for _, raw in walked["bodies"]).decode(errors="replace")
        assert A_MARK in seen and f"mate{A_MARK}" in seen  # own and team-mates' work in full: the walk read data
        assert "Sales quote" in seen  # another team's ticket: its reference shows


def test_customer_detail_shows_other_teams_work_as_references_only(rig) -> None:
    grace = _login(rig, "grace")
    status, ada = rig.api("GET", f"/api/customers?number={CALLER}", grace)
    assert status == 200 and ada["notes"] == "shared customer note"  # one customer record for whoever answers
    by_queue = {i["queue"] + ("-mate" if i.get("agent_id") == "1003" else ""): i for i in ada["interactions"]}
    assert by_queue["sales"] == {
        "id": by_queue["sales"]["id"], "customer_id": ada["id"], "kind": "inbound", "queue": "sales",
        "started_at": by_queue["sales"]["started_at"], "ended_at": by_queue["sales"]["ended_at"], "restricted": True,
    }  # fmt: skip
    assert by_queue["support"]["notes"] == f"{A_MARK} interaction notes"
    assert by_queue["support-mate"]["disposition"] == f"mate{A_MARK}_disposition"
    sales = next(t for t in ada["open_tickets"] if t["team"] == "sales")
    assert set(sales) == {"id", "number", "customer_id", "title", "state", "team", "created_at", "updated_at",
                          "restricted"}  # fmt: skip
    assert (sales["title"], sales["state"]) == ("Sales quote", "assigned")
    assert rig.api("GET", f"/api/customers/{ada['id']}", grace)[1] == ada
    status, full = rig.api("GET", f"/api/customers/{ada['id']}", rig.admin)  # centre-wide: everything in full
    assert status == 200 and all("restricted" not in i for i in full["interactions"] + full["open_tickets"])
    assert any(B_MARK in (i["notes"] or "") for i in full["interactions"])


def test_a_real_call_pops_other_teams_work_as_references_on_the_agents_feed(rig) -> None:
    rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
    rig.ready("1001")
    feed = rig.feed("1001")
    rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=5), HOTLINE_NUMBER)
    pop = next(m for m in iter(lambda: feed.get(timeout=10), None) if m["kind"] == "screen_pop")["data"]
    assert B_MARK not in json.dumps(pop).lower()
    history = {i["queue"] + ("-mate" if i.get("agent") == "1003" else ""): i for i in pop["last_interactions"]}
    assert history["sales"]["restricted"] is True and set(history["sales"]) == {"id", "at", "kind", "queue",
                                                                                  "restricted"}  # fmt: skip
    assert history["support"]["notes"] == f"{A_MARK} interaction notes"
    assert history["support-mate"]["notes"] == f"mate{A_MARK} interaction notes"
    titles = {t["title"]: t for t in pop["customer"]["open_tickets"]}
    assert titles["Sales quote"]["restricted"] is True and "restricted" not in titles["Slow line"]
    rig.next_call()


def test_patching_or_moving_another_teams_ticket_is_refused_and_changes_nothing(rig) -> None:
    grace, linus = _login(rig, "grace"), _login(rig, "linus")
    b_ticket = next(t for t in rig.api("GET", "/api/tickets", linus)[1] if t["title"] == "Sales quote")
    before = rig.api("GET", f"/api/tickets/{b_ticket['id']}", rig.admin)[1]
    for method, path, body in [
        ("PATCH", f"/api/tickets/{b_ticket['id']}", {"title": "hijacked", "description": "x"}),
        ("POST", f"/api/tickets/{b_ticket['id']}/events", {"event": "comment", "note": "peek"}),
        ("POST", f"/api/tickets/{b_ticket['id']}/events", {"event": "assign", "assignee": "1001"}),
        ("GET", f"/api/tickets/{b_ticket['id']}", None),
    ]:
        status, answer = rig.api(method, path, grace, body)
        assert status == 403 and "may not read ticket" in answer["error"], (method, path, status, answer)
        assert B_MARK not in json.dumps(answer)
    # a body the operation does not take is refused by its shape first (400), which tells nothing of the ticket
    status, answer = rig.api("PATCH", f"/api/tickets/{b_ticket['id']}", grace, {"nonsense": 1})
    assert status == 400 and B_MARK not in json.dumps(answer)
    assert rig.api("GET", f"/api/tickets/{b_ticket['id']}", rig.admin)[1] == before
    status, mine = rig.api("PATCH", f"/api/tickets/{b_ticket['id']}", linus, {"title": "Sales quote v2"})
    assert status == 200 and mine["title"] == "Sales quote v2"


def test_assigning_a_ticket_to_another_team_hands_it_over(rig) -> None:
    grace, linus = _login(rig, "grace"), _login(rig, "linus")
    own = rig.api("POST", "/api/tickets", grace, {"title": "Line noise", "description": "grace's notes"})[1]
    status, answer = rig.api("POST", f"/api/tickets/{own['id']}/events", grace, {"event": "assign", "team": "sales"})
    assert status == 403 and "may not assign to team 'sales'" in answer["error"]
    assert rig.api("GET", f"/api/tickets/{own['id']}", grace)[1]["team"] is None  # nothing half-applied
    status, moved = rig.api("POST", f"/api/tickets/{own['id']}/events", rig.admin, {"event": "assign", "team": "sales"})
    assert status == 200 and (moved["team"], moved["assignee"]) == ("sales", None)
    assert rig.api("GET", f"/api/tickets/{own['id']}", grace)[0] == 403  # now team B's work
    assert rig.api("GET", f"/api/tickets/{own['id']}", linus)[1]["description"] == "grace's notes"
    assert own["id"] not in [t["id"] for t in rig.api("GET", "/api/tickets", grace)[1]]


def test_interactions_are_read_by_their_agent_and_team_and_wrapped_up_by_their_agent_only(rig) -> None:
    grace, mate, linus = _login(rig, "grace"), _login(rig, "mate"), _login(rig, "linus")
    by_call = {u: rig.api("GET", f"/api/calls/{u}/interaction", rig.admin)[1] for u in (A_UUID, MATE_UUID, B_UUID)}
    listed = {i["id"] for i in rig.api("GET", "/api/interactions", grace)[1]}
    assert listed == {by_call[A_UUID]["id"], by_call[MATE_UUID]["id"]}
    assert rig.api("GET", f"/api/interactions/{by_call[MATE_UUID]['id']}", grace)[0] == 200  # a team-mate's
    assert rig.api("GET", "/api/interactions?agent=1002", grace)[1] == []
    for path in (f"/api/interactions/{by_call[B_UUID]['id']}", f"/api/calls/{B_UUID}/interaction"):
        status, answer = rig.api("GET", path, grace)
        assert status == 403 and "may not read interaction" in answer["error"]
    wrap = f"/api/interactions/{by_call[MATE_UUID]['id']}/wrap_up"
    assert rig.api("POST", wrap, grace, {"notes": "overwritten"})[0] == 403  # reading is not owning
    assert rig.api("POST", f"/api/interactions/{by_call[B_UUID]['id']}/wrap_up", grace, {"notes": "x"})[0] == 403
    assert rig.api("GET", f"/api/calls/{MATE_UUID}/interaction", mate)[1]["notes"] == f"mate{A_MARK} interaction notes"
    assert rig.api("GET", f"/api/calls/{B_UUID}/interaction", linus)[1]["notes"] == f"{B_MARK} interaction notes"


def test_a_user_cannot_revoke_another_users_session(rig) -> None:
    grace, linus = _login(rig, "grace"), _login(rig, "linus")
    for who in (grace, rig.agent_tokens["1001"], rig.admin):
        status, answer = rig.api("POST", "/api/logout", who, {"token": linus})
        assert status == 403 and "only revoke your own session" in answer["error"]
    assert rig.api("GET", "/api/me", linus)[1]["name"] == "user:linus"
    assert rig.api("POST", "/api/logout", linus, {"token": linus})[0] == 200
    assert rig.api("GET", "/api/me", linus)[0] == 401
