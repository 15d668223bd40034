"""One call's session against a scripted FreeSWITCH (:mod:`tests.switch_peer`): the call's own outbound
socket (a real OutboundCall on one end of a socket pair, a :class:`~tests.switch_peer.Call` on the other),
a real control connection to the :class:`~tests.switch_peer.Switch` for the agents' legs, a pure Acd, the real IVR
executor (with a stand-in TTS) and a Metrics registry.

The tests assert what FreeSWITCH is told on the call's socket, in order, what the ACD ends in, the
call trace handed to the recorder and the metrics."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
import pytest
from gevent.event import AsyncResult
from gevent.queue import Queue

from engine.acd.core import Acd
from engine.acd.model import Agent, QueueConfig
from engine.acd.states import AgentState
from engine.config.model import Speech
from engine.cti import Hub
from engine.ivr.loader import load_flows
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.runtime.call_session import CallSession, CallTrace, SessionServices
from engine.runtime.callbacks import CallbackRequest
from engine.runtime.ivr_executor import IvrExecutor
from engine.runtime.queue_exit import KEPT_PROMPT, VOICEMAIL_PROMPT
from engine.store.errors import StoreError
from engine.transport import OutboundCall
from tests.switch_peer import CALL, CALLER, HELD, MOH, Call, Switch, channel_data, wait_until

MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

MAIN = """\
flow: main
nodes:
  hello:
    say: "Welcome."
  pick:
    menu: "Press 1 for sales, 2 to speak to us later, 3 for the operator."
    choices:
      - key: 1
        goto: sales
      - key: 2
        goto: bye
      - key: 3
        goto: operator
    on_failure: sales
  sales:
    queue: sales
  operator:
    transfer: number
    to: "{caller}"
  bye:
    hangup: NORMAL_CLEARING
    outcome: self_served
"""


class FakeTts:
    """Renders text to a file name that shows the text (no espeak-ng needed)."""

    def render(self, text: str, language: str, voice: str | None = None) -> str:
        return f"/tts/{text}.wav"


@dataclass
class Rig:
    switch: Call
    call: OutboundCall
    control: Switch
    shell: AcdShell
    metrics: Metrics
    recorded: Queue
    callbacks: list[CallbackRequest] = field(default_factory=list)
    session: gevent.Greenlet | None = None

    def trace(self, timeout: float = 5.0) -> CallTrace:
        """The trace the session recorded (the session has then ended)."""
        trace = self.recorded.get(timeout=timeout)
        assert self.session is not None
        self.session.join(timeout)
        assert self.session.dead and self.session.successful(), self.session.exception
        return trace

    def state(self, agent_id: str) -> AgentState:
        return self.shell.agent_state(agent_id)

    def answer_agent(self) -> str:
        """The agent FreeSWITCH rings answers; returns the agent's leg."""
        line = self.control.wait_for("bgapi originate ")
        leg = re.search(r"origination_uuid=([^,}]+)", line)
        assert leg, line
        self.rings[-1].set(f"+OK {leg.group(1)}\n")
        return leg.group(1)

    rings: list[AsyncResult] = field(default_factory=list)


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def _make(
        *,
        keys: tuple[str, ...] = (),
        caller: str = CALLER,
        agents: tuple[str, ...] = (),
        queue: dict | None = None,
        refuse: str = "",
        record_call: Callable[[CallTrace], None] | None = None,
        request_callback: Callable[[CallbackRequest], int] | None = None,
        customer_pop: Callable[[str], tuple[dict | None, list[dict]]] | None = None,
        flow: str = MAIN,
        lookup: Callable[[str, str], dict] = lambda _k, _v: {},
    ) -> Rig:
        flows_dir = tmp_path / "flows"
        flows_dir.mkdir(exist_ok=True)
        (flows_dir / "main.yaml").write_text(flow)
        flows = load_flows(flows_dir)
        rings: list[AsyncResult] = []

        def ring(_line: str) -> AsyncResult:  # rings until the test answers for the agent
            rings.append(AsyncResult())
            return rings[-1]

        control = Switch()
        control.on("bgapi originate ", ring)
        control.on_execute("record", {"record_seconds": "4"})  # a recording FreeSWITCH kept
        if refuse:
            control.on_execute(refuse, f"-ERR {refuse} refused")
        client = control.client(events=("BACKGROUND_JOB",))
        metrics, clock = Metrics(), Clock()
        acd = Acd()
        settings = {"name": "sales", "skill": "sales", "wrap_up_seconds": 30.0, **(queue or {})}
        acd.configure_queue(QueueConfig(**settings), clock())
        shell = AcdShell(acd, client, Hub(), metrics, clock=clock, bridge_confirm_seconds=2)
        for agent_id in agents:
            acd.add_agent(Agent(id=agent_id, skills={"sales": 5}, contact=f"user/{agent_id}"))
            shell.apply(lambda t, a=agent_id: acd.agent_login(a, t))
        recorded: Queue = Queue()
        call, switch = control.call(channel_data(caller=caller))
        switch.keys = list(keys)
        rig = Rig(switch, call, control, shell, metrics, recorded, rings=rings)

        def store_callback(request: CallbackRequest) -> int:
            rig.callbacks.append(request)
            return 7

        services = SessionServices(
            flows=lambda: flows,
            flow_clock=lambda: MONDAY_MORNING,
            flow_for=lambda _number: "main",
            executor=lambda call: IvrExecutor(
                call,
                FakeTts(),
                lookup,
                tmp_path / "recordings",
                Speech(),
                tmp_path / "fax",
                "loopback/{number}",
            ),
            customer_pop=customer_pop or (lambda _number: (None, [])),
            acd=shell,
            metrics=metrics,
            record_call=record_call or recorded.put,
            record_survey=lambda *_args: None,
            request_callback=request_callback or store_callback,
            music_on_hold=MOH,
            post_call_flow=None,
        )
        rig.session = gevent.spawn(CallSession(call, services).run)
        made.append(rig)
        return rig

    yield _make
    for rig in made:
        if rig.session is not None:
            rig.session.kill()
        rig.call.close()
        rig.control.close()


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def say(text: str) -> str:
    return f"execute playback /tts/{text}.wav"


def test_a_self_served_call_is_answered_runs_its_flow_hangs_up_and_is_recorded_once(make_rig) -> None:
    rig = make_rig(keys=("2",))
    trace = rig.trace()
    assert rig.switch.log[:2] == ["execute answer", say("Welcome.")]
    assert rig.switch.log[2].startswith("execute play_and_get_digits ")
    assert rig.switch.log[3:] == ["hangup NORMAL_CLEARING"]
    assert (trace.uuid, trace.caller, trace.destination) == (CALL, CALLER, "4000")
    assert (trace.outcome, trace.flow, trace.hangup_cause) == ("self_served", "main", "NORMAL_CLEARING")
    assert trace.ivr_path == ["main/hello", "main/pick", "main/bye"]
    assert trace.answered_at is not None and trace.queue is None
    assert rig.metrics.value("hotline_calls_total", outcome="self_served") == 1
    assert rig.metrics.value("hotline_ivr_exits_total", flow="main", outcome="self_served") == 1
    assert rig.recorded.empty()


def test_a_caller_who_hangs_up_during_the_menu_is_recorded_as_abandoned(make_rig) -> None:
    rig = make_rig(refuse="play_and_get_digits")
    rig.switch.wait_told(say("Welcome."))
    rig.switch.hang_up("ORIGINATOR_CANCEL")
    trace = rig.trace()
    assert (trace.outcome, trace.hangup_cause) == ("abandoned", "ORIGINATOR_CANCEL")
    assert rig.metrics.value("hotline_calls_total", outcome="abandoned") == 1
    assert rig.metrics.value("hotline_ivr_exits_total", flow="main", outcome="abandoned") == 1
    assert not any(entry.startswith("hangup") for entry in rig.switch.log)  # the channel was already gone


def test_an_answer_freeswitch_refuses_ends_the_session_and_still_records_the_call(make_rig) -> None:
    rig = make_rig(refuse="answer")
    rig.switch.wait_told("execute answer")
    rig.switch.hang_up("NORMAL_TEMPORARY_FAILURE")
    trace = rig.trace()
    assert rig.switch.log == ["execute answer"]
    assert (trace.outcome, trace.flow, trace.answered_at) == ("abandoned", None, None)


def test_a_transfer_to_the_callers_number_is_sent_to_freeswitchs_dialplan(make_rig) -> None:
    rig = make_rig(keys=("3",), caller="1009")
    rig.switch.wait_told("execute transfer 1009 XML default")
    rig.switch.hang_up()
    trace = rig.trace()
    assert trace.outcome == "transferred"


@pytest.mark.parametrize("caller", ["1009 XML public", "100&bridge(sofia/gw/evil/1)", "+86 138"])
def test_a_transfer_to_a_number_that_is_not_a_number_is_refused_and_the_call_hung_up(make_rig, caller: str) -> None:
    rig = make_rig(keys=("3",), caller=caller)
    trace = rig.trace()
    assert rig.switch.log[-1] == "hangup INVALID_NUMBER_FORMAT"
    assert not any(entry.startswith("execute transfer") for entry in rig.switch.log)
    assert trace.outcome == "self_served"
    assert rig.metrics.value("hotline_unsafe_values_total", source="ivr_transfer") == 1


def test_a_queued_caller_hears_music_until_an_agent_answers_then_talks_until_the_agent_hangs_up(make_rig) -> None:
    rig = make_rig(keys=("1",), agents=("1001",))
    rig.switch.wait_told(f"execute playback {HELD}")
    rig.shell.clock.now += 9  # type: ignore[attr-defined]
    leg = rig.answer_agent()
    rig.switch.wait_told(f"api uuid_bridge {CALL} {leg}")
    wait_until(lambda: rig.state("1001") is AgentState.ON_CALL and not rig.shell.inboxes[CALL].connecting)
    rig.switch.event("CHANNEL_UNBRIDGE")  # the agent hangs up
    rig.switch.wait_told("hangup NORMAL_CLEARING")
    trace = rig.trace()
    queued = rig.switch.log.index(f"execute playback {HELD}")
    told = rig.switch.log[queued - 1 :]
    place = f"api uuid_setvar_multi {CALL} hotline_queue=sales;"  # the place, and keys do not stop the music:
    assert told[0].startswith(place) and ";playback_terminators=none;" in told[0]
    assert told[0].endswith(";hotline_caller=MTM4MDAxMzgwMDA")  # base64url("13800138000"): read by ended_calls.py
    assert told[1:4] == [
        f"execute playback {HELD}",
        f"api uuid_break {CALL} all",
        f"api uuid_bridge {CALL} {leg}",
    ]
    # bridged: the call's place and agent written on the caller's channel, for a restarted engine to adopt it
    caller_vars = f"api uuid_setvar_multi {CALL} hotline_call_id={CALL};hotline_queue=sales;hotline_priority=0;"
    assert told[4].startswith(caller_vars) and ";hotline_agent=1001;" in told[4]
    assert told[5:] == ["hangup NORMAL_CLEARING"]  # nothing more: the agent's leg has its own since its originate
    (originate,) = rig.control.sent("bgapi originate ")
    assert f"origination_uuid={leg}," in originate and f",hotline_agent=1001,hotline_call_id={CALL}," in originate
    assert (trace.outcome, trace.agent_id, trace.queue) == ("answered", "1001", "sales")
    assert trace.queued_at <= trace.offered_at <= trace.bridged_at  # type: ignore[operator]
    assert rig.state("1001") is AgentState.WRAP_UP
    assert rig.metrics.value("hotline_queue_wait_seconds_sum", queue="sales", outcome="answered") == 9
    assert rig.metrics.value("hotline_calls_total", outcome="answered") == 1


def test_a_caller_who_hangs_up_in_the_queue_is_abandoned_and_the_ringing_agent_released(make_rig) -> None:
    rig = make_rig(keys=("1",), agents=("1001",))
    line = rig.control.wait_for("bgapi originate ")
    leg = re.search(r"origination_uuid=([^,}]+)", line).group(1)  # type: ignore[union-attr]
    rig.shell.clock.now += 4  # type: ignore[attr-defined]
    rig.switch.hang_up()
    trace = rig.trace()
    assert trace.outcome == "abandoned" and trace.agent_id is None
    assert rig.control.wait_for("api uuid_kill") == f"api uuid_kill {leg} ORIGINATOR_CANCEL"
    assert rig.state("1001") is AgentState.READY
    assert rig.metrics.value("hotline_queue_wait_seconds_sum", queue="sales", outcome="abandoned") == 4
    assert rig.metrics.value("hotline_calls_total", outcome="abandoned") == 1
    assert CALL not in rig.shell.inboxes


def test_an_exit_key_in_the_queue_stops_the_music_and_transfers_the_caller(make_rig) -> None:
    rig = make_rig(keys=("1",), queue={"exit_keys": (("9", "number:100"),)})
    rig.switch.wait_told(f"execute playback {HELD}")
    rig.switch.press("5")  # not an exit key: ignored
    rig.switch.press("9")
    rig.switch.wait_told("execute transfer 100 XML default")
    rig.switch.hang_up()
    trace = rig.trace()
    assert rig.switch.log[-2:] == [f"api uuid_break {CALL} all", "execute transfer 100 XML default"]
    assert trace.outcome == "transferred"
    assert rig.metrics.value("hotline_queue_exits_total", queue="sales", reason="caller", target="number:100") == 1


def test_a_caller_who_chooses_a_callback_keeps_their_place_on_the_confirmed_number(make_rig) -> None:
    rig = make_rig(keys=("1", "1"), queue={"exit_keys": (("8", "callback"),)})
    rig.switch.wait_told(f"execute playback {HELD}")
    rig.shell.clock.now += 42  # type: ignore[attr-defined]
    rig.switch.press("8")
    trace = rig.trace()
    assert rig.switch.log[-2:] == [say(KEPT_PROMPT), "hangup NORMAL_CLEARING"]
    [request] = rig.callbacks
    assert (request.call_uuid, request.queue, request.number, request.caller) == (CALL, "sales", CALLER, CALLER)
    assert request.enqueued_at == 500.0
    assert trace.outcome == "transferred"


def test_a_callback_that_cannot_be_stored_becomes_a_voicemail(make_rig) -> None:
    def broken(_request: CallbackRequest) -> int:
        raise StoreError("callbacks: database is locked")

    rig = make_rig(keys=("1", "1"), queue={"exit_keys": (("8", "callback"),)}, request_callback=broken)
    rig.switch.wait_told(f"execute playback {HELD}")
    rig.switch.press("8")
    trace = rig.trace()
    record = next(entry for entry in rig.switch.log if entry.startswith("execute record "))
    assert rig.switch.log.index(say(VOICEMAIL_PROMPT)) < rig.switch.log.index(record)
    assert (trace.outcome, trace.kind) == ("voicemail", "callback")
    assert trace.recording is not None and trace.recording in record


def test_a_recorder_that_fails_is_logged_and_the_session_still_ends(make_rig, caplog) -> None:
    def broken(_trace: CallTrace) -> None:
        raise RuntimeError("disk full")

    rig = make_rig(keys=("2",), record_call=broken)
    assert rig.session is not None
    rig.session.join(5)
    assert rig.session.successful()
    assert "could not record the call" in caplog.text
    assert rig.metrics.value("hotline_calls_total", outcome="self_served") == 1


# ---- exactly one CDR, whichever way the call ends ---------------------------------------------------------


def test_a_call_whose_socket_is_lost_while_queued_is_recorded_once_without_waiting_for_a_hangup(make_rig) -> None:
    rig = make_rig(keys=("1",), agents=("1001",))
    rig.control.wait_for("bgapi originate ")  # queued and ringing the agent
    rig.switch.close()  # the socket is gone: no CHANNEL_HANGUP will ever come
    trace = rig.recorded.get(timeout=5)  # not after the 30 s wait for a hangup
    assert trace.outcome == "abandoned" and trace.queue == "sales"
    assert rig.session is not None and rig.session.join(5) is None and rig.session.dead
    assert rig.recorded.empty()
    assert rig.shell.acd.position(CALL) is None and CALL not in rig.shell.inboxes
    assert rig.state("1001") is AgentState.READY  # the ringing offer was withdrawn
    assert rig.metrics.value("hotline_calls_total", outcome="abandoned") == 1


FIND_CALLER = """\
flow: main
nodes:
  find:
    lookup: customer
    not_found: stranger
    next: known
  known:
    hangup: NORMAL_CLEARING
    outcome: self_served
  stranger:
    hangup: NORMAL_CLEARING
    outcome: self_served
"""


@pytest.mark.parametrize("customer", [None, {"id": 4, "name": "Ada", "tier": "vip", "open_tickets": []}])
def test_the_flows_customer_lookup_is_the_read_made_when_the_call_arrived(make_rig, customer) -> None:
    """One CRM read per call for the caller, known or not: the flow's ``lookup: customer`` reuses it."""
    asked: list[tuple[str, str]] = []
    rig = make_rig(
        flow=FIND_CALLER, customer_pop=lambda _n: (customer, []), lookup=lambda k, v: asked.append((k, v)) or {}
    )
    trace = rig.trace()
    assert asked == []
    assert trace.ivr_path == ["main/find", "main/known" if customer else "main/stranger"]


def test_an_engine_error_is_recorded_once_as_failed_and_still_raised(make_rig) -> None:
    def broken_crm(_number: str) -> tuple[dict | None, list[dict]]:
        raise RuntimeError("the CRM lookup broke")

    rig = make_rig(customer_pop=broken_crm)
    rig.switch.wait_told("execute answer")
    rig.switch.hang_up()
    trace = rig.recorded.get(timeout=5)
    assert trace.outcome == "failed" and trace.hangup_cause == "NORMAL_CLEARING"
    assert rig.session is not None
    rig.session.join(5)
    assert isinstance(rig.session.exception, RuntimeError)  # the outbound server logs it and hangs up
    assert rig.recorded.empty()
    assert rig.metrics.value("hotline_calls_total", outcome="failed") == 1


def test_a_session_killed_while_queued_still_records_the_call_once(make_rig) -> None:
    """The engine stops (the session's greenlet is killed) with a caller waiting: the call is recorded."""
    rig = make_rig(keys=("1",), agents=("1001",))
    rig.control.wait_for("bgapi originate ")
    assert rig.session is not None
    rig.session.kill(timeout=5)
    trace = rig.recorded.get(timeout=5)
    assert trace.outcome == "abandoned" and trace.queue == "sales"
    assert rig.recorded.empty()
    assert rig.shell.acd.position(CALL) is None
