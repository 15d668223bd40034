"""Keep-your-place callbacks through the real call path on the emulator: the caller presses the key,
confirms their number and hangs up; their place is kept while others queue behind; when an agent frees
up the agent is rung first, then the customer's phone (a scripted CalledParty) and the two are bridged.
Also: no answer retried then a ticket, a restart with a callback pending, the API's list and cancel."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import cli
from engine.acd.states import CallState
from engine.emulator import CalledParty, Caller, Phone
from engine.runtime.hotline import Hotline
from engine.store import callbacks as callback_store
from engine.store.crm_models import Ticket
from engine.store.models import Call, Interaction
from tests.acd_rig import SkipClock, acd_rig, login, wait_until
from tests.hotline_rig import HOTLINE_NUMBER, MONDAY_MORNING, Rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

NUMBER = "13900000001"
KEY = {"exit_keys": {"1": "callback"}}


def request_callback(rig: Rig, caller: Caller) -> str:
    """Queue ``caller`` (first key: sales), press the callback key; their first call's uuid once it ended."""
    uuid = rig.emulator.place_call(caller, HOTLINE_NUMBER)
    wait_until(lambda: uuid in rig.engine.acd.acd.snapshot().calls, what="the call queued")
    rig.emulator.send_dtmf(uuid, "1")
    trace = rig.next_call()
    assert (trace.uuid, trace.outcome, trace.queue) == (uuid, "transferred", "sales")
    return uuid


def callbacks(rig: Rig, query: str = "") -> list[dict[str, Any]]:
    status, body = rig.api("GET", f"/api/callbacks{query}", rig.admin)
    assert status == 200, body
    return body


def virtual(rig: Rig) -> dict[str, Any]:
    return {c: v for c, v in rig.engine.acd.acd.snapshot().calls.items() if v.callback}


def test_the_caller_keeps_their_place_and_is_bridged_to_the_agent_when_called_back(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, {"sales": KEY}) as rig:
        spoken: list[str] = []
        render = rig.engine.tts.render
        rig.engine.tts.render = lambda text, *args: spoken.append(text) or render(text, *args)
        first = request_callback(rig, Caller(NUMBER, script=["1", "1"]))  # sales; confirm the number
        assert "We will call you back on 1 3 9 0 0 0 0 0 0 0 1. To confirm, press 1." in " ".join(spoken)
        assert any("You keep your place in the queue" in text for text in spoken)
        [pending] = callbacks(rig)
        assert (pending["call"], pending["number"], pending["status"], pending["queue"]) == (
            first,
            NUMBER,
            "pending",
            "sales",
        )
        assert rig.engine.metrics.value("hotline_callbacks_pending", queue="sales") == 1

        behind = rig.emulator.place_call(Caller("13900000002", script=["1"], talk_seconds=1), HOTLINE_NUMBER)
        wait_until(lambda: rig.engine.acd.acd.position(behind) == 2, what="the next caller queued behind")
        [cid] = virtual(rig)
        assert rig.engine.acd.acd.position(cid) == 1

        rig.emulator.parties[NUMBER] = CalledParty(NUMBER, answer_delay=0.5, talk_seconds=3)
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        feed = rig.feed("1001")
        assert login(rig, "1001") == "reserved"  # the kept place is served first
        pop = next(m["data"] for m in iter(feed.get, None) if m["kind"] == "screen_pop")
        assert (pop["phase"], pop["caller_number"], pop["callback"]["number"]) == ("offer", NUMBER, NUMBER)
        assert pop["callback"]["requested_at"] == pending["requested_at"] and pop["waited_seconds"] > 0
        wait_until(lambda: virtual(rig).get(cid) and virtual(rig)[cid].state is CallState.BRIDGED, what="bridged")
        bridges = [e for e in rig.emulator.events if e.name == "CHANNEL_BRIDGE"]
        assert any(
            NUMBER in (e.get("Caller-Destination-Number"), e.get("Other-Leg-Destination-Number")) for e in bridges
        )
        rung = next(
            e for e in rig.emulator.events if e.name == "CHANNEL_CREATE" and e.get("variable_hotline_callback_of")
        )
        assert (rung.get("variable_hotline_callback_of"), rung.get("Caller-Destination-Number")) == (first, NUMBER)
        assert rung.get("Caller-Caller-ID-Number") == "4000"  # calls.callback_caller_id
        assert any("Callback for 1 3 9 0 0 0 0 0 0 0 1" in text for text in spoken)  # the agent's whisper

        wait_until(lambda: callbacks(rig, "?all=1")[0]["status"] == "completed", what="the callback completed")
        assert rig.next_call().uuid == behind  # then the caller behind got the agent
        metrics = rig.engine.metrics
        assert metrics.value("hotline_callback_dials_total", queue="sales", result="connected") == 1
        assert metrics.value("hotline_callbacks_total", queue="sales", outcome="completed") == 1
        assert metrics.value("hotline_callbacks_pending", queue="sales") == 0
        assert metrics.value("hotline_queue_talk_seconds_count", queue="sales") == 2  # the callback and the next call
        with rig.engine.sessions() as s:
            cdr = s.scalar(select(Call).where(Call.destination == NUMBER))
            assert (cdr.outcome, cdr.agent_id, cdr.queue) == ("answered", "1001", "sales")
            interaction = s.scalar(select(Interaction).where(Interaction.call_uuid == cdr.uuid))
            assert str(interaction.kind) == "callback" and first in interaction.notes


@pytest.mark.parametrize("kind", ["no_answer", "busy"])
def test_an_unanswered_callback_is_retried_then_becomes_a_ticket(tmp_path, db_url, kind) -> None:
    options = {"sales": {**KEY, "callback_attempts": 2, "callback_retry_seconds": 60, "callback_ring_seconds": 5}}
    clock = SkipClock()  # the retry wait (60 s) is skipped once it is seen
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, options, clock=clock) as rig:
        rig.emulator.parties[NUMBER] = CalledParty(NUMBER, kind=kind, answer_delay=0.5)
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        request_callback(rig, Caller(NUMBER, script=["1", "2", "13900000001#"]))  # keys the number in
        assert login(rig, "1001") == "reserved"
        wait_until(lambda: callbacks(rig)[0]["status"] == "retry", what="the first attempt failed")
        [cid] = virtual(rig)
        assert virtual(rig)[cid].state is CallState.RETRY_WAIT
        assert rig.engine.acd.agent_state("1001") == "ready"  # not offered while nobody can be called
        clock.skip(60)
        wait_until(lambda: not callbacks(rig), what="the last attempt failed")
        [done] = callbacks(rig, "?all=1")
        assert (done["status"], done["attempts"], done["last_result"]) == ("failed", 2, kind)
        with rig.engine.sessions() as s:
            ticket = s.get(Ticket, done["ticket"])
            assert (ticket.category, ticket.team) == ("callback", "sales")
        metrics = rig.engine.metrics
        assert metrics.value("hotline_callback_dials_total", queue="sales", result=kind) == 2
        assert metrics.value("hotline_callbacks_total", queue="sales", outcome="gave_up") == 1
        wait_until(lambda: rig.engine.acd.agent_state("1001") == "ready", what="the agent free again")


def test_a_pending_callback_survives_a_restart_with_its_place(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, {"sales": KEY}) as rig:
        first = request_callback(rig, Caller(NUMBER, script=["1", "1"]))
        [before] = virtual(rig).values()
        waited = rig.engine.acd.clock() - before.enqueued_at
        rig.engine.stop()
        engine = Hotline(rig.engine.config, flow_clock=lambda: MONDAY_MORNING)
        rig.engine = engine  # the rig stops this one
        ports = engine.start(wait_for_freeswitch=5)
        rig.http_port = ports.http
        rig.emulator.dialplan[HOTLINE_NUMBER] = [("socket", f"127.0.0.1:{ports.socket} async full")]
        engine.call_recorded.append(rig.recorded.put)

        [after] = virtual(rig).values()
        assert after.state is CallState.VIRTUAL
        assert engine.acd.clock() - after.enqueued_at >= waited  # still waiting since the first call
        behind = rig.emulator.place_call(Caller("13900000002", script=["1"], talk_seconds=1), HOTLINE_NUMBER)
        wait_until(lambda: engine.acd.acd.position(behind) == 2, what="a new caller behind the kept place")
        assert engine.metrics.value("hotline_callbacks_pending", queue="sales") == 1

        rig.emulator.parties[NUMBER] = CalledParty(NUMBER, answer_delay=0.5, talk_seconds=1)
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
        assert login(rig, "1001") == "reserved"
        wait_until(lambda: callbacks(rig, "?all=1")[0]["status"] == "completed", what="the callback completed")
        assert callbacks(rig, "?all=1")[0]["call"] == first
        assert rig.next_call().uuid == behind


def test_callbacks_are_listed_and_cancelled_through_the_api(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, {"sales": KEY}) as rig:
        request_callback(rig, Caller(NUMBER, script=["1", "1"]))
        [pending] = callbacks(rig, "?queue=sales")
        assert callbacks(rig, "?queue=backup") == []
        status, body = rig.api("POST", f"/api/callbacks/{pending['id']}/cancel", rig.agent_tokens["1001"])
        assert status == 403, body
        status, body = rig.api("POST", f"/api/callbacks/{pending['id']}/cancel", rig.admin)
        assert (status, body["status"]) == (200, "cancelled")
        assert virtual(rig) == {} and callbacks(rig) == []
        assert rig.api("POST", f"/api/callbacks/{pending['id']}/cancel", rig.admin)[0] == 409
        assert rig.api("POST", "/api/callbacks/999/cancel", rig.admin)[0] == 404
        assert rig.engine.metrics.value("hotline_callbacks_total", queue="sales", outcome="cancelled") == 1
        with rig.engine.sessions() as s:
            assert callback_store.open_callbacks(s) == []


def test_the_cli_lists_and_cancels_callbacks(tmp_path, db_url, capsys) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, {"sales": KEY}) as rig:
        request_callback(rig, Caller(NUMBER, script=["1", "1"]))
        config = tmp_path / "cli.yaml"
        config.write_text(f"database_url: {db_url}\nhttp:\n  port: {rig.http_port}\n")
        run = lambda *args: (cli.main(["--config", str(config), "--token", rig.admin, *args]), capsys.readouterr())  # noqa: E731
        code, out = run("callback", "list", "sales")
        assert code == 0
        header, row = out.out.splitlines()
        assert header.split()[:5] == ["ID", "QUEUE", "NUMBER", "STATUS", "ATTEMPTS"]
        assert row.split()[:5] == ["1", "sales", NUMBER, "pending", "0"]
        code, out = run("callback", "cancel", "1")
        assert (code, out.out.strip()) == (0, f"callback 1 to {NUMBER} cancelled")
        assert run("callback", "list")[1].out.splitlines()[1:] == []
        assert "cancelled" in run("callback", "list", "--all")[1].out
        code, out = run("callback", "cancel", "1")
        assert code == 1 and "409" in out.err and "not open" in out.err


def test_a_callback_that_cannot_be_stored_becomes_a_message(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, {"sales": KEY}) as rig:

        def database_down(request: Any) -> int:
            raise OperationalError("INSERT INTO queue_callbacks", {}, Exception("database is locked"))

        rig.engine.callbacks.request = database_down  # the next call's session uses it
        uuid = rig.emulator.place_call(Caller(NUMBER, script=["1", "1"]), HOTLINE_NUMBER)
        wait_until(lambda: uuid in rig.engine.acd.acd.snapshot().calls, what="the call queued")
        rig.emulator.send_dtmf(uuid, "1")
        trace = rig.next_call()
        assert (trace.outcome, trace.kind) == ("voicemail", "callback")  # a message and a callback task
        assert virtual(rig) == {}


def test_the_agent_hanging_up_while_the_customer_rings_is_a_failed_attempt(tmp_path, db_url) -> None:
    with acd_rig(tmp_path, db_url, {"1001": {"sales": 3}}, {"sales": KEY}) as rig:
        request_callback(rig, Caller(NUMBER, script=["1", "1"]))
        rig.emulator.parties[NUMBER] = CalledParty(NUMBER, answer_delay=20)
        rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5, talk_seconds=5)  # hangs up after 5 s
        assert login(rig, "1001") == "reserved"
        wait_until(lambda: callbacks(rig)[0]["status"] == "retry", what="the attempt counted as failed")
        [pending] = callbacks(rig)
        assert (pending["attempts"], pending["last_result"]) == (1, "agent_gone")
        assert rig.engine.metrics.value("hotline_callback_dials_total", queue="sales", result="agent_gone") == 1
        assert rig.engine.acd.agent_state("1001") == "ready"
