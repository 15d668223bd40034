"""Keep-your-place callbacks against a scripted FreeSWITCH: the agent rung first, the whisper, the
customer dialled and bridged, the rows stored (request, status, CDR, segment, ticket), the ACD's state,
the counts, and retries when the customer, the agent or FreeSWITCH fails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.acd.model import QueueConfig
from engine.acd.states import AgentState
from engine.runtime.callbacks import CallbackRequest, Callbacks, call_id
from engine.speech.tts import TtsError
from engine.store import callbacks as store
from engine.store import calls, segments
from engine.store.crm_models import Ticket
from engine.store.errors import NotFound
from tests.runtime_rig import Rig, runtime_rig
from tests.switch_peer import HOLD, originate_uuid, wait_until

pytestmark = pytest.mark.db

WALL = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)
FIRST = "0c4f6a2b-8d1e-4b7a-9f3c-5e2d1a0b9c88"
NUMBER = "01614960000"


class Tts:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.said = fail, []

    def render(self, text: str, language: str, voice: str | None = None) -> str:
        if self.fail:
            raise TtsError("espeak-ng: not installed")
        self.said.append(text)
        return "/tts/whisper.wav"


@pytest.fixture
def rig(db_url: str) -> Iterator[Rig]:
    queue = QueueConfig("sales", "sales", wrap_up_seconds=0.0, callback_attempts=2, callback_retry_seconds=120.0)
    with runtime_rig(db_url, {"1001": {"sales": 5}}, (queue,)) as r:
        yield r


def make(rig: Rig, tts: Tts | None = None) -> Callbacks:
    return Callbacks(
        rig.acd, rig.sessions, rig.legs, tts or Tts(), rig.metrics, lambda _n: (None, []),
        dial="sofia/gateway/default/{number}", caller_id="4000", wall=lambda: WALL,
    )  # fmt: skip


def on_break(rig: Rig) -> None:
    rig.acd.apply(lambda now: rig.acd.acd.agent_break("1001", "lunch", now))


def request(callbacks: Callbacks, rig: Rig, uuid: str = FIRST) -> int:
    req = CallbackRequest(uuid, "sales", 0, rig.clock() - 40, WALL - timedelta(seconds=40), NUMBER, NUMBER, None)
    return callbacks.request(req)


def row(rig: Rig, callback_id: int) -> dict[str, Any]:
    with rig.sessions() as s:
        return store.view(store.get_callback(s, callback_id))


def customer_leg(rig: Rig) -> str:
    """The leg of the second originate: the customer's (the first rang the agent)."""
    wait_until(lambda: len(rig.fs.sent("bgapi originate")) >= 2, what="the customer dialled")
    return originate_uuid(rig.fs.sent("bgapi originate")[1])


def test_a_request_is_stored_and_waits_in_its_queue_at_the_callers_place(rig) -> None:
    on_break(rig)
    callbacks = make(rig)
    callback_id = request(callbacks, rig)
    stored = row(rig, callback_id)
    assert (stored["status"], stored["number"], stored["call"], stored["attempts"]) == ("pending", NUMBER, FIRST, 0)
    queued = rig.acd.acd.snapshot().calls[call_id(callback_id)]
    assert queued.queue == "sales" and queued.enqueued_at == rig.clock() - 40
    assert rig.metrics.value("hotline_callbacks_total", queue="sales", outcome="requested") == 1
    assert rig.metrics.value("hotline_callbacks_pending", queue="sales") == 1
    assert rig.fs.commands == []  # nobody is free: nothing rings
    assert [v["id"] for v in callbacks.views("sales")] == [callback_id]


def test_the_agent_is_rung_first_then_the_customer_is_dialled_bridged_and_the_call_recorded(rig) -> None:
    tts = Tts()
    callbacks = make(rig, tts)
    rig.feed("1001")
    callback_id = request(callbacks, rig)
    agent_leg = originate_uuid(rig.fs.wait_command("bgapi originate"))
    assert rig.fs.commands[0].endswith("}user/1001 &park()")
    leg = customer_leg(rig)
    wait_until(lambda: rig.fs.sent(f"api uuid_bridge {agent_leg}"), what="agent and customer bridged")
    assert rig.fs.commands[1:] == [
        f"api uuid_broadcast {agent_leg} /tts/whisper.wav aleg",
        rig.fs.commands[2],
        f"api uuid_bridge {agent_leg} {leg}",
    ]
    dial = rig.fs.commands[2]
    assert dial.endswith(f"}}sofia/gateway/default/{NUMBER} &park()")
    for variable in ("originate_timeout=30", "origination_caller_id_number=4000", f"hotline_callback={callback_id}"):
        assert variable in dial
    assert f"hotline_callback_of={FIRST}" in dial
    [said] = tts.said  # to the agent alone (aleg), before the customer rings
    assert re.fullmatch(rf"Callback for {' '.join(NUMBER)}, requested at \d\d:\d\d\.", said)
    wait_until(lambda: row(rig, callback_id)["status"] == "connected", what="connected")
    assert rig.state("1001") == AgentState.ON_CALL
    [pop] = [p for p in rig.messages("1001", "screen_pop") if p["phase"] == "answer"]  # one, when connected
    assert (pop["customer_leg"], pop["callback"]["id"]) == (leg, callback_id)

    rig.fs.hangup(leg)  # the customer hangs up
    wait_until(lambda: row(rig, callback_id)["status"] == "completed", what="completed")
    wait_until(lambda: rig.state("1001") == AgentState.READY, what="the agent free")
    wait_until(lambda: rig.metrics.value("hotline_call_segments_total", how="callback", ended_by="hangup"), what="CDR")
    assert set(rig.fs.sent("api uuid_kill")) >= {
        f"api uuid_kill {leg} NORMAL_CLEARING",
        f"api uuid_kill {agent_leg} NORMAL_CLEARING",
    }
    with rig.sessions() as s:
        cdr = calls.view(calls.get_call(s, leg))
        parts = [(p.agent_id, p.how, p.ended_by) for p in segments.segments_of(s, leg)]
    assert (cdr["caller"], cdr["destination"], cdr["queue"], cdr["agent"], cdr["outcome"]) == (
        "4000",
        NUMBER,
        "sales",
        "1001",
        "answered",
    )
    assert parts == [("1001", "callback", "hangup")]
    assert rig.metrics.value("hotline_callback_dials_total", queue="sales", result="connected") == 1
    assert rig.metrics.value("hotline_callbacks_total", queue="sales", outcome="completed") == 1
    assert rig.metrics.value("hotline_callbacks_pending", queue="sales") == 0


def test_a_customer_who_does_not_answer_is_retried_later_then_a_ticket_is_opened(rig) -> None:
    callbacks = make(rig)
    rig.fs.on("bgapi originate {origination_uuid=", HOLD)
    callback_id = request(callbacks, rig)
    agent_leg = originate_uuid(rig.fs.finish("bgapi originate", "+OK\n"))  # the agent answers
    rig.fs.finish("bgapi originate", "-ERR NO_ANSWER\n")  # the customer does not
    wait_until(lambda: row(rig, callback_id)["status"] == "retry", what="retry")
    stored = row(rig, callback_id)
    assert (stored["attempts"], stored["last_result"]) == (1, "no_answer")
    assert stored["retry_at"] == (WALL + timedelta(seconds=120)).isoformat()
    assert f"api uuid_kill {agent_leg} NORMAL_CLEARING" in rig.fs.commands
    assert rig.state("1001") == AgentState.READY  # no delay for the agent
    assert rig.metrics.value("hotline_callback_dials_total", queue="sales", result="no_answer") == 1

    rig.clock.now += 121  # the retry is due: the agent is rung again, the customer is busy
    rig.acd.apply(rig.acd.acd.tick)
    rig.fs.finish("bgapi originate", "+OK\n")
    rig.fs.finish("bgapi originate", "-ERR USER_BUSY\n")
    wait_until(lambda: row(rig, callback_id)["status"] == "failed", what="gave up")
    stored = row(rig, callback_id)
    assert (stored["attempts"], stored["last_result"]) == (2, "busy") and stored["ticket"] is not None
    with rig.sessions() as s:
        ticket = s.get(Ticket, stored["ticket"])
        assert ticket is not None and str(ticket.category) == "callback" and NUMBER in ticket.title
    assert rig.metrics.value("hotline_callbacks_total", queue="sales", outcome="gave_up") == 1
    assert rig.metrics.value("hotline_tickets_created_total", category="callback") == 1
    assert call_id(callback_id) not in rig.acd.acd.snapshot().calls


def test_an_agent_who_hangs_up_while_the_customer_rings_fails_the_attempt(rig) -> None:
    callbacks = make(rig)
    rig.fs.on("bgapi originate {origination_uuid=", HOLD)
    callback_id = request(callbacks, rig)
    agent_leg = originate_uuid(rig.fs.finish("bgapi originate", "+OK\n"))
    customer = customer_leg(rig)
    rig.fs.hangup(agent_leg)  # sent before the originate's result, on the same connection
    rig.fs.finish("bgapi originate", f"+OK {customer}\n")
    wait_until(lambda: row(rig, callback_id)["status"] == "retry", what="retry")
    assert row(rig, callback_id)["last_result"] == "agent_gone"
    assert f"api uuid_kill {customer} NORMAL_CLEARING" in rig.fs.commands
    assert rig.fs.sent("api uuid_bridge") == []


def test_an_agent_gone_before_their_hangup_event_arrives_is_still_agent_gone(rig) -> None:
    """The hang-up event comes on the dialler connection; the originate's result may come first (seen
    under load): the refused bridge is then explained by asking the switch whether the agent's leg exists."""
    callbacks = make(rig)
    rig.fs.on("bgapi originate {origination_uuid=", HOLD)
    rig.fs.on("api uuid_bridge", "-ERR no such channel\n")
    callback_id = request(callbacks, rig)
    agent_leg = originate_uuid(rig.fs.finish("bgapi originate", "+OK\n"))
    rig.fs.on(f"api uuid_exists {agent_leg}", "false")
    customer = customer_leg(rig)
    rig.fs.finish("bgapi originate", f"+OK {customer}\n")
    wait_until(lambda: row(rig, callback_id)["status"] == "retry", what="retry")
    assert row(rig, callback_id)["last_result"] == "agent_gone"
    assert rig.fs.sent("api uuid_exists") == [f"api uuid_exists {agent_leg}"]
    assert rig.metrics.value("hotline_callback_dials_total", queue="sales", result="agent_gone") == 1


def test_a_refused_bridge_and_a_failing_whisper(rig) -> None:
    callbacks = make(rig, Tts(fail=True))
    rig.fs.on("api uuid_bridge", "-ERR no such channel\n")
    callback_id = request(callbacks, rig)
    wait_until(lambda: row(rig, callback_id)["status"] == "retry", what="retry")
    assert row(rig, callback_id)["last_result"] == "failed"
    assert rig.fs.sent("api uuid_broadcast") == []  # nothing to say: the dial goes on without it
    assert len(rig.fs.sent("bgapi originate")) == 2
    assert rig.metrics.value("hotline_callback_dials_total", queue="sales", result="failed") == 1


def test_cancel_an_open_callback_and_refusals(rig) -> None:
    on_break(rig)
    callbacks = make(rig)
    callback_id = request(callbacks, rig)
    assert callbacks.cancel(callback_id)["status"] == "cancelled"
    assert call_id(callback_id) not in rig.acd.acd.snapshot().calls
    assert rig.metrics.value("hotline_callbacks_total", queue="sales", outcome="cancelled") == 1
    with pytest.raises(ValueError, match=f"callback {callback_id} is cancelled, not open"):
        callbacks.cancel(callback_id)
    with pytest.raises(KeyError, match="callback 999"):
        callbacks.cancel(999)


def test_a_callback_being_dialled_cannot_be_cancelled(rig) -> None:
    callbacks = make(rig)
    rig.fs.on("bgapi originate {origination_uuid=", HOLD)
    callback_id = request(callbacks, rig)
    rig.fs.finish("bgapi originate", "+OK\n")
    wait_until(lambda: row(rig, callback_id)["status"] == "dialling", what="dialling")
    with pytest.raises(ValueError, match="is being dialled or talked to"):
        callbacks.cancel(callback_id)
    assert row(rig, callback_id)["status"] == "dialling"


def test_reload_puts_open_callbacks_back_at_their_place_and_keeps_those_of_unknown_queues(rig) -> None:
    on_break(rig)
    with rig.sessions.begin() as s:
        waiting = store.request_callback(
            s, "call-a", "sales", NUMBER, caller_number=NUMBER, priority=0, queued_at=WALL - timedelta(seconds=90)
        ).id
        later = store.request_callback(
            s, "call-b", "sales", "0161496", caller_number="x", priority=1, queued_at=WALL - timedelta(seconds=10)
        ).id
        store.set_status(s, later, "retry", attempts=1, retry_at=WALL + timedelta(seconds=60))
        elsewhere = store.request_callback(
            s, "call-c", "gone", NUMBER, caller_number=NUMBER, priority=0, queued_at=WALL
        )
        elsewhere = elsewhere.id
    callbacks = make(rig)
    assert callbacks.reload() == 2
    held = rig.acd.acd.snapshot().calls
    assert held[call_id(waiting)].enqueued_at == pytest.approx(rig.clock() - 90)
    assert call_id(later) in held and call_id(elsewhere) not in held
    assert row(rig, elsewhere)["status"] == "pending"  # kept for when its queue is configured again
    assert callbacks.reload() == 0  # already held: not added twice
    with rig.sessions() as s, pytest.raises(NotFound):
        store.get_callback(s, 12345)


def test_losing_freeswitch_while_the_customer_rings_is_a_failed_attempt_kept_for_a_retry(rig) -> None:
    callbacks = make(rig)
    rig.fs.on("bgapi originate {origination_uuid=", HOLD)
    callback_id = request(callbacks, rig)
    rig.fs.finish("bgapi originate", "+OK\n")
    customer_leg(rig)
    rig.fs.close()  # FreeSWITCH restarts while the customer's phone rings
    wait_until(lambda: row(rig, callback_id)["status"] == "retry", what="retry")
    assert (row(rig, callback_id)["attempts"], row(rig, callback_id)["last_result"]) == (1, "failed")
    assert rig.state("1001") == AgentState.READY
