"""Three-way conferences on a real FreeSWITCH (mod_conference, loopback legs; engine/runtime/call_control.py).

A loopback caller dials 4000, presses 2 and is queued for support; agent 1001's "phone" is
``loopback/9999/default`` (answers, plays a tone), so the offer is answered and bridged. The agent
conferences ``number:9999`` (dialled through ``loopback/{number}/default``): caller, agent and third
party are in ``hotline-<call>``; ``cancel`` drops the third party, a second ``conference`` and
``leave`` leave caller and third party talking, the caller hanging up ends the room; the call is stored.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from gevent.queue import Queue

from engine.acd.states import AgentState
from engine.runtime.hotline import Hotline
from engine.transport import CommandFailed, Connection
from tests.acd_rig import wait_until
from tests.real_freeswitch import esl_connect, hotline_on, seed_one_agent

pytestmark = [pytest.mark.realfs, pytest.mark.db]

CALLER = "13900139000"
WAIT = 20.0  # seconds: prompts are spoken by espeak-ng through FreeSWITCH


@pytest.fixture
def engine(freeswitch: subprocess.Popen[bytes], tmp_path, db_url) -> Iterator[Hotline]:
    seed_one_agent(db_url, "loopback/9999/default", CALLER)
    calls = {"dial_string": "loopback/{number}/default"}
    with hotline_on(tmp_path, db_url, {"agent_calls": calls}) as hotline:
        yield hotline


def members(control: Connection, call_id: str) -> set[str]:
    """The uuids in the call's room (``conference <name> list``: ``id;name;uuid;...`` a line)."""
    try:
        reply = control.api(f"conference hotline-{call_id} list")
    except CommandFailed:  # -ERR Conference hotline-... not found
        return set()
    return {line.split(";")[2] for line in reply.splitlines() if line}


def test_conference_cancel_leave_and_the_caller_ending_it_on_real_freeswitch(engine: Hotline) -> None:
    recorded: Queue = Queue()
    engine.call_recorded.append(recorded.put)
    engine.backend.agent_action("1001", "login", None)
    control = esl_connect(("CHANNEL_EXECUTE", "CHANNEL_BRIDGE"))
    executed: Queue = Queue()
    bridged: Queue = Queue()
    control.register_handle("CHANNEL_EXECUTE", executed.put)
    control.register_handle("CHANNEL_BRIDGE", bridged.put)
    try:
        reply = control.api(
            "originate", f"{{origination_caller_id_number={CALLER}}}loopback/4000/default", "&park()", timeout=30
        )
        a_leg = reply.split()[1]
        while executed.get(timeout=WAIT).get("Application") != "play_and_get_digits":
            pass
        control.api(f"uuid_send_dtmf {a_leg} 2")
        call_id = wait_until(lambda: engine.acd.acd.snapshot().agents["1001"].call_id, WAIT, "a call for 1001")
        agent_leg = wait_until(lambda: engine.acd.agent_legs.get(call_id), WAIT, "caller bridged to 1001")
        # uuid_bridge answers before the legs' state machines made the bridge: a transfer in between
        # loses the caller (hung up DESTINATION_OUT_OF_ORDER), so wait as an agent would
        while bridged.get(timeout=WAIT).get("Bridge-A-Unique-ID") != call_id:
            pass

        first = engine.call_control.act("admin", "1001", "conference", target="number:9999")["leg"]
        wait_until(lambda: members(control, call_id) == {call_id, agent_leg, first}, WAIT, "three in the room")
        engine.call_control.act("admin", "1001", "cancel")
        wait_until(lambda: members(control, call_id) == {call_id, agent_leg}, WAIT, "the third party dropped")

        second = engine.call_control.act("admin", "1001", "conference", target="number:9999")["leg"]
        wait_until(lambda: members(control, call_id) == {call_id, agent_leg, second}, WAIT, "three again")
        consults = engine.call_control.consults.active
        wait_until(lambda: consults["1001"].answered.is_set(), WAIT, "hotline saw the answer")
        engine.call_control.act("admin", "1001", "leave")
        wait_until(lambda: members(control, call_id) == {call_id, second}, WAIT, "the agent gone")
        assert engine.acd.agent_state("1001") is AgentState.READY  # done with the call (the queue has no wrap-up)

        control.api(f"uuid_kill {a_leg}")  # the caller hangs up: the room ends (endconf)
        trace = recorded.get(timeout=WAIT)
        wait_until(lambda: control.api(f"uuid_exists {second}").strip() == "false", WAIT, "the third party gone")
        assert members(control, call_id) == set()
    finally:
        control.close()
    assert (trace.uuid, trace.outcome, trace.agent_id) == (call_id, "answered", "1001")
    assert trace.hangup_cause == "NORMAL_CLEARING"
    metrics = engine.metrics
    assert metrics.value("hotline_consults_total", kind="conference", result="completed") == 1
    assert metrics.value("hotline_consults_total", kind="conference", result="cancelled") == 1
