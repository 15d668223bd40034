"""hotline against a real FreeSWITCH: the dialplan hands the hotline number to hotline's socket.

A loopback caller dials 4000, hears the main flow (espeak-ng prompts played by FreeSWITCH),
presses 2 (real DTMF), is queued for support with music on hold, and the offer rings agent 1001's
phone with ``bgapi originate``; no phone is registered, so FreeSWITCH answers USER_NOT_REGISTERED
and the agent stays free. The caller hangs up: the CDR and the interaction are stored.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from gevent.queue import Queue

from engine.acd.states import AgentState
from engine.runtime.hotline import Hotline
from tests.real_freeswitch import esl_connect, hotline_on, seed_one_agent

pytestmark = [pytest.mark.realfs, pytest.mark.db]

CALLER = "13900139000"


@pytest.fixture
def engine(freeswitch: subprocess.Popen[bytes], tmp_path, db_url) -> Iterator[Hotline]:
    seed_one_agent(db_url, "user/1001", CALLER)
    with hotline_on(tmp_path, db_url) as hotline:
        yield hotline


def test_a_call_through_real_freeswitch_is_routed_offered_and_recorded(engine: Hotline) -> None:
    recorded: Queue = Queue()
    engine.call_recorded.append(recorded.put)
    agent_states: Queue = Queue()
    engine.acd.on_agent_state(agent_states.put)
    engine.backend.agent_action("1001", "login", None)
    assert agent_states.get(timeout=5).new is AgentState.READY

    control = esl_connect(("CHANNEL_EXECUTE",))
    executed: Queue = Queue()
    control.register_handle("CHANNEL_EXECUTE", executed.put)
    try:
        reply = control.api(
            "originate", f"{{origination_caller_id_number={CALLER}}}loopback/4000/default", "&park()", timeout=30
        )
        a_leg = reply.split()[1]
        while (event := executed.get(timeout=30)).get("Application") != "play_and_get_digits":
            pass
        control.api(f"uuid_send_dtmf {a_leg} 2")

        assert agent_states.get(timeout=30).new is AgentState.RESERVED  # the offer rings user/1001
        assert agent_states.get(timeout=30).new is AgentState.READY  # not registered: the offer failed
        assert engine.metrics.value("hotline_offers_total", result="failed") == 1
        control.api(f"uuid_kill {a_leg}")
        trace = recorded.get(timeout=30)
    finally:
        control.close()
    assert trace.uuid == event.uuid  # the B leg is the call FreeSWITCH handed to hotline
    assert trace.outcome == "abandoned" and trace.queue == "support"
    assert trace.customer is not None and trace.customer["name"] == "Ada Lovelace"
    assert trace.ivr_path[-2:] == ["main/main_menu", "main/support"]
    assert trace.offered_at is not None and trace.hangup_cause == "NORMAL_CLEARING"
