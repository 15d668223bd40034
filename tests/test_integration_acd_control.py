"""Call control over the HTTP API on the emulator: the agent holds, transfers and hangs up; a
supervisor whispers and forces breaks; every action is in the audit log."""

from __future__ import annotations

import pytest

from engine.emulator import Caller, Phone
from tests.acd_rig import acd_rig, login, talking, wait_until
from tests.hotline_rig import HOTLINE_NUMBER

pytestmark = [pytest.mark.integration, pytest.mark.db]

SKILLS = {"1001": {"sales": 5}, "1002": {"backup": 5}}


@pytest.fixture
def rig(tmp_path, db_url):
    with acd_rig(tmp_path, db_url, SKILLS, {}) as rig:
        for ext in ("1001", "1002", "1009"):
            rig.emulator.phones[ext] = Phone(ext, answer_delay=1)
        yield rig


def test_agent_holds_transfers_to_a_queue_and_the_next_agent_hangs_up(rig) -> None:
    login(rig, "1001")
    login(rig, "1002")
    uuid = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
    wait_until(lambda: talking(rig, "1001"), what="1001 talking")
    me = rig.agent_tokens["1001"]
    agent_leg = rig.emulator.channels[rig.engine.acd.agent_legs[uuid]]
    assert rig.api("POST", "/api/agents/1001/call/hold", me)[0] == 200
    # the agent's leg is held, as by their phone's hold button; FreeSWITCH plays the music to its partner
    assert (agent_leg.callstate, rig.emulator.channels[uuid].callstate) == ("HELD", "ACTIVE")
    assert rig.api("POST", "/api/agents/1001/call/unhold", me)[0] == 200
    assert agent_leg.callstate == "UNHELD"  # as FreeSWITCH: switch_channel_clear_flag
    assert rig.api("POST", "/api/agents/1001/call/transfer", me, {"target": "queue:nope"})[0] == 409
    status, body = rig.api("POST", "/api/agents/1001/call/transfer", me, {"target": "queue:backup"})
    assert status == 200 and body["call"] == uuid
    wait_until(lambda: talking(rig, "1002"), what="1002 talking")
    assert rig.api("POST", "/api/agents/1002/call/hangup", rig.admin)[0] == 200
    trace = rig.next_call()
    assert (trace.outcome, trace.agent_id, trace.queue) == ("answered", "1002", "backup")
    assert rig.engine.acd.agent_state("1001") in ("wrap_up", "ready")

    status, log = rig.api("GET", "/api/call-control-log", rig.admin)
    assert status == 200
    assert [(r["actor"], r["action"], r["agent"], r["result"][:7]) for r in reversed(log)] == [
        ("agent:1001", "hold", "1001", "ok"),
        ("agent:1001", "unhold", "1001", "ok"),
        ("agent:1001", "transfer", "1001", "refused"),
        ("agent:1001", "transfer", "1001", "ok"),
        ("admin", "hangup", "1002", "ok"),
    ]
    assert all(r["call"] == uuid for r in log)


def test_supervisor_whispers_to_the_agent_and_forces_a_break_when_allowed(rig) -> None:
    login(rig, "1001")
    uuid = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
    wait_until(lambda: talking(rig, "1001"), what="1001 talking")
    assert rig.api("POST", "/api/supervise/1001/whisper", rig.agent_tokens["1001"], {"contact": "user/1009"})[0] == 403
    assert rig.api("POST", "/api/supervise/1001/whisper", rig.admin, {})[0] == 409  # whose phone?
    status, body = rig.api("POST", "/api/supervise/1001/whisper", rig.admin, {"contact": "user/1009"})
    assert status == 200
    spy = wait_until(lambda: rig.emulator.channels.get(body["leg"]), what="the supervisor's leg")
    wait_until(lambda: spy.variables.get("eavesdrop_mode") == "whisper_b", what="whisper to the agent")
    assert spy.variables["eavesdrop_target"] == uuid

    status, body = rig.api("POST", "/api/supervise/1001/force_break", rig.admin, {"reason": "coaching"})
    assert status == 409 and "on_call" in body["error"]  # finish the call first
    rig.emulator.hangup(uuid)
    rig.next_call()
    status, body = rig.api("POST", "/api/supervise/1001/force_break", rig.admin, {"reason": "coaching"})
    assert status == 200 and body["state"] == "break"
    status, log = rig.api("GET", "/api/call-control-log?agent=1001&limit=2", rig.admin)
    assert [(r["action"], r["detail"], r["result"][:7]) for r in log] == [
        ("force_break", "coaching", "ok"),
        ("force_break", "coaching", "refused"),
    ]
