"""Call control on a real FreeSWITCH with the dial grammar in place (engine/esl/dialstring.py): a
supervisor listens, hostile values are refused with nothing sent, the agent transfers the caller to a
number, and dials a number of their own. Every command is built from checked parts; this shows the
grammar refuses nothing FreeSWITCH needs.

As in test_realfs_conference.py: a loopback caller dials 4000 and presses 2; agent 1001's "phone" is
``loopback/9999/default`` (answers, plays a tone), and numbers are dialled as ``loopback/{number}/default``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest
from gevent.queue import Queue
from sqlalchemy import select

from engine.esl.codec import UnsafeValue
from engine.runtime.hotline import Hotline
from engine.store.models import Call
from engine.transport import CommandFailed, Connection
from tests.acd_rig import wait_until
from tests.real_freeswitch import esl_connect, hotline_on, seed_one_agent

pytestmark = [pytest.mark.realfs, pytest.mark.db]

CALLER = "13900139000"
WAIT = 20.0  # seconds: prompts are spoken by espeak-ng through FreeSWITCH


@pytest.fixture
def engine(freeswitch: subprocess.Popen[bytes], tmp_path, db_url) -> Iterator[Hotline]:
    seed_one_agent(db_url, "loopback/9999/default", CALLER)
    calls = {"dial_string": "loopback/{number}/default", "wrap_up_seconds": 0}
    with hotline_on(tmp_path, db_url, {"agent_calls": calls}) as hotline:
        yield hotline


def sessions_created(control: Connection) -> int:
    """FreeSWITCH's count of sessions created since it started (``status``: "N session(s) since startup"),
    kept in memory and never lowered. ``show channels count`` reads the core database, which FreeSWITCH
    writes behind the calls (it was seen 2 and then 6 for the same four channels on a loaded machine)."""
    found = re.search(r"^(\d+) session\(s\) since startup", control.api("status"), re.MULTILINE)
    assert found, "no 'session(s) since startup' line in FreeSWITCH's status"
    return int(found.group(1))


def exists(control: Connection, uuid: str) -> bool:
    return control.api("uuid_exists", uuid).strip() == "true"


def disposition(control: Connection, uuid: str) -> str:
    """``endpoint_disposition`` of a leg ('' while it does not exist yet)."""
    try:
        return control.api("uuid_getvar", uuid, "endpoint_disposition").strip()
    except CommandFailed:  # -ERR No such channel!
        return ""


def records_with_1001_ready(engine: Hotline) -> Queue:
    """Agent 1001 logged in; the queue receives each call hotline records."""
    recorded: Queue = Queue()
    engine.call_recorded.append(recorded.put)
    engine.backend.agent_action("1001", "login", None)
    return recorded


def caller_with_agent(engine: Hotline, control: Connection) -> tuple[str, str, str]:
    """A loopback caller through the main flow to agent 1001: (the A leg, the call, the agent's leg)."""
    executed: Queue = Queue()
    bridged: Queue = Queue()
    control.register_handle("CHANNEL_EXECUTE", executed.put)
    control.register_handle("CHANNEL_BRIDGE", bridged.put)
    reply = control.api(
        "originate", f"{{origination_caller_id_number={CALLER}}}loopback/4000/default", "&park()", timeout=30
    )
    a_leg = reply.split()[1]
    while executed.get(timeout=WAIT).get("Application") != "play_and_get_digits":
        pass
    control.api("uuid_send_dtmf", a_leg, "2")
    call_id = wait_until(lambda: engine.acd.acd.snapshot().agents["1001"].call_id, WAIT, "a call for 1001")
    agent_leg = wait_until(lambda: engine.acd.agent_legs.get(call_id), WAIT, "caller bridged to 1001")
    while bridged.get(timeout=WAIT).get("Bridge-A-Unique-ID") != call_id:
        pass
    return a_leg, call_id, agent_leg


def test_listen_hostile_values_and_a_blind_transfer_on_real_freeswitch(engine: Hotline) -> None:
    recorded = records_with_1001_ready(engine)
    control = esl_connect(("CHANNEL_EXECUTE", "CHANNEL_BRIDGE"))
    try:
        a_leg, call_id, agent_leg = caller_with_agent(engine, control)

        spy = engine.call_control.act("admin", "1001", "listen", contact="loopback/9999/default")["leg"]
        wait_until(lambda: exists(control, spy), WAIT, "the supervisor's leg")
        listening = lambda: control.api("uuid_getvar", spy, "current_application").strip() == "eavesdrop"  # noqa: E731
        wait_until(listening, WAIT, "the supervisor's leg running eavesdrop")
        control.api("uuid_kill", spy)
        wait_until(lambda: not exists(control, spy), WAIT, "the supervisor gone")

        before = sessions_created(control)  # nothing may be dialled, nothing hung up
        for action, args in [
            ("listen", {"contact": "loopback/9999/default\n\napi hupall"}),
            ("listen", {"contact": "loopback/9999/default,loopback/9998/default"}),
            ("transfer", {"target": "number:9999 XML public"}),
            ("consult", {"target": "number:9999,loopback/9998"}),
            ("transfer", {"target": "number:${hupall(NORMAL_CLEARING)}"}),
        ]:
            with pytest.raises(UnsafeValue):
                engine.call_control.act("admin", "1001", action, **args)
        assert sessions_created(control) == before and all(exists(control, leg) for leg in (a_leg, call_id, agent_leg))

        assert engine.call_control.act("admin", "1001", "transfer", target="number:9999")["target"] == "number:9999"
        wait_until(lambda: not exists(control, agent_leg), WAIT, "the agent's leg hung up")
        listening = lambda: control.api("uuid_getvar", call_id, "current_application").strip() == "playback"  # noqa: E731
        wait_until(listening, WAIT, "the caller at extension 9999 (its tone)")
        control.api("uuid_kill", a_leg)
        trace = recorded.get(timeout=WAIT)  # stored once the caller hangs up (hotline's socket lingers)
    finally:
        control.close()
    assert (trace.uuid, trace.agent_id) == (call_id, "1001")
    assert engine.metrics.value("hotline_unsafe_values_total", source="call_control_listen") == 2


def test_a_manual_dial_on_real_freeswitch(engine: Hotline) -> None:
    engine.backend.agent_action("1001", "login", None)
    control = esl_connect()
    try:
        placed = engine.call_control.act("agent:1001", "1001", "dial", number="(99) 99")
        assert placed["number"] == "9999"
        wait_until(lambda: disposition(control, placed["call"]) == "ANSWER", WAIT, "the number answered")
        engine.call_control.act("agent:1001", "1001", "hangup")
        wait_until(lambda: not exists(control, placed["leg"]), WAIT, "the agent's leg hung up")
        wait_until(lambda: str(engine.acd.agent_state("1001")) == "ready", WAIT, "1001 ready again")
        with pytest.raises(UnsafeValue):
            engine.call_control.act("agent:1001", "1001", "dial", number="9999,loopback/9998")
    finally:
        control.close()
    with engine.sessions() as s:
        cdr = s.scalar(select(Call).where(Call.uuid == placed["call"]))
        assert cdr is not None and (cdr.outcome, cdr.hangup_cause) == ("answered", "SUCCESS"), cdr and cdr.hangup_cause
    assert engine.metrics.value("hotline_agent_dials_total", outcome="answered") == 1


def test_a_talking_callers_socket_is_released_and_the_call_still_ends_and_is_recorded(engine: Hotline) -> None:
    """Once bridged, the caller's outbound socket is closed (FreeSWITCH's listener ends): the bridge is
    untouched, and the call's end still reaches hotline (through the dialler's connection) and is recorded."""
    recorded = records_with_1001_ready(engine)
    control = esl_connect(("CHANNEL_EXECUTE", "CHANNEL_BRIDGE"))
    try:
        a_leg, call_id, agent_leg = caller_with_agent(engine, control)
        released = lambda: engine.metrics.value("hotline_outbound_sockets_released_total", result="released")  # noqa: E731
        wait_until(lambda: released() == 1, WAIT, "the caller's socket released")
        call = next(c for c in engine.outbound.active if c.uuid == call_id)
        wait_until(lambda: call._receive_events_greenlet.dead, WAIT, "FreeSWITCH closing its side of the socket")
        assert control.api("uuid_getvar", call_id, "bridge_to").strip() == agent_leg  # still talking
        control.api("uuid_kill", agent_leg)  # the agent hangs up: FreeSWITCH hangs the caller up
        trace = recorded.get(timeout=WAIT)
        wait_until(lambda: not exists(control, a_leg), WAIT, "the caller gone")
    finally:
        control.close()
    assert (trace.uuid, trace.agent_id, trace.outcome) == (call_id, "1001", "answered")
    assert trace.hangup_cause == "NORMAL_CLEARING" and trace.bridged_at is not None
    assert engine.metrics.value("hotline_outbound_sockets_released_total", result="kept") == 0
