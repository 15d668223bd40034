"""The database goes away under steady calls (issue 16, point 4): the ACD routes from memory, every
caller reaches the agent as usual, wrap-up timers keep moving, API writes answer 503 with Retry-After,
and when the database returns every record is written, in order."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from engine.emulator import Caller, Phone
from engine.store import agent_states
from engine.store.models import Call, Customer
from engine.store.writer import JOURNAL
from tests.acd_rig import wait_until
from tests.db_outage import Outage
from tests.hotline_rig import HOTLINE_NUMBER, seed, start_rig
from tests.test_integration_call_path import CALLER, _seed

pytestmark = [pytest.mark.integration, pytest.mark.db]
CALLS = 4


@pytest.fixture
def rig(tmp_path, db_url):
    seed(db_url, _seed)
    yield from start_rig(tmp_path, db_url, ["1001"])


def post(rig, path: str, body: dict) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{rig.http_port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {rig.admin}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_calls_are_answered_as_usual_during_an_outage_and_every_record_written_after(rig, tmp_path):
    engine, metrics = rig.engine, rig.engine.metrics
    outage = Outage(engine.db)
    rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.2)
    outage.down = True

    rig.ready("1001")  # from the ACD's memory: the state row waits in the queue
    status, headers, body = post(rig, "/api/customers", {"name": "Grace Hopper", "numbers": ["13800138000"]})
    assert (status, headers.get("Retry-After"), body["field"]) == (503, "5", None)
    assert "database is unavailable" in body["error"]

    # one agent, a 1 s wrap-up: each caller after the first needs the ACD's timers to keep moving
    uuids = [
        rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=10), HOTLINE_NUMBER) for _ in range(CALLS)
    ]
    wait_until(lambda: metrics.value("hotline_calls_total", outcome="answered") == CALLS, timeout=60, what="answered")
    assert metrics.value("hotline_offers_total", result="answered") == CALLS
    assert metrics.value("hotline_db_up") == 0
    assert metrics.value("hotline_db_read_failures_total", read="customer_pop") >= CALLS  # empty pops
    assert rig.recorded.empty()  # nothing is told "recorded" before it is
    journalled = tmp_path / "data" / JOURNAL
    wait_until(lambda: journalled.exists() and journalled.read_bytes().count(b'"kind":"call"') == CALLS)
    outage.down = False
    recorded = {rig.next_call(timeout=30).uuid for _ in range(CALLS)}
    assert recorded == set(uuids)
    wait_until(lambda: str(engine.acd.agent_state("1001")) == "ready", what="the last wrap-up's end")
    assert engine.writer.wait_idle(30)
    with engine.sessions() as s:
        rows = s.scalars(select(Call).where(Call.uuid.in_(uuids))).all()
        assert sorted((c.outcome, c.agent_id) for c in rows) == [("answered", "1001")] * CALLS
        states = [str(c.state) for c in agent_states.list_agent_states(s, "1001")]
        assert s.scalars(select(Customer).where(Customer.name == "Grace Hopper")).first() is None  # nothing half-done
    assert states[0] == "ready"
    cycle = ["reserved", "on_call", "wrap_up", "ready"]
    assert states[1 : 1 + 4 * CALLS] == cycle * CALLS  # every change of the outage, in the ACD's order
    assert metrics.value("hotline_db_up") == 1
    assert metrics.value("hotline_db_journal_depth") == 0 and metrics.value("hotline_db_write_queue_depth") == 0
    assert metrics.value("hotline_db_write_rejected_total", kind="call") == 0
