"""Call segments through the real call path on the emulator: every agent who had a call is in its record
(a plain answer, an attended transfer, a conference the first agent leaves, a blind transfer through a
queue), shown by the API, counted by the agent report and in metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.acd.reports import AgentPerformance, agent_performance
from engine.emulator import Caller, Phone
from engine.store import acd_reports
from tests.acd_rig import acd_rig, login, talking, wait_until
from tests.hotline_rig import HOTLINE_NUMBER

pytestmark = [pytest.mark.integration, pytest.mark.db]

SKILLS = {"1001": {"sales": 5}, "1002": {"sales": 5, "backup": 5}}
SLACK = 0.5  # seconds between hotline's own stamps of one moment (the CDR's and a segment's)


@pytest.fixture
def rig(tmp_path, db_url):
    with acd_rig(tmp_path, db_url, SKILLS, {}) as rig:
        for ext in SKILLS:
            rig.emulator.phones[ext] = Phone(ext, answer_delay=1)
        yield rig


def caller_with_1001(rig) -> str:
    login(rig, "1001")
    call_id = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
    wait_until(lambda: talking(rig, "1001"), what="1001 talking")
    return call_id


def shown(rig, call_id: str) -> dict[str, Any]:
    status, body = rig.api("GET", f"/api/calls/{call_id}", rig.admin)
    assert status == 200, body
    return body


def parts(call: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(s["seq"], s["agent"], s["queue"], s["how"], s["ended_by"]) for s in call["segments"]]


def report(rig, agent: str, since: datetime) -> AgentPerformance:
    until = datetime.now(UTC) + timedelta(seconds=1)
    with rig.engine.sessions() as s:
        states = acd_reports.agent_states(s, agent, since, until)
        return agent_performance(agent, states, acd_reports.agent_calls(s, agent, since, until), until=until)


def done_with_the_call(rig, agent: str) -> bool:
    return str(rig.engine.acd.agent_state(agent)) in ("wrap_up", "ready")  # no wrap-up configured here


def consult_news(feed) -> str:
    while (message := feed.get(timeout=5))["kind"] != "consult":
        pass
    return message["data"]["state"]


def test_a_plain_answered_call_has_exactly_one_segment(rig) -> None:
    since = datetime.now(UTC)
    call_id = caller_with_1001(rig)
    rig.emulator.hangup(call_id)
    rig.next_call()
    call = shown(rig, call_id)
    assert (call["agent"], call["outcome"]) == ("1001", "answered")
    assert parts(call) == [(1, "1001", "sales", "answered", "hangup")]
    assert call["segments"][0]["talk_seconds"] == pytest.approx(call["talk_seconds"], abs=SLACK)
    assert report(rig, "1001", since).calls == 1
    assert rig.engine.metrics.value("hotline_call_segments_total", how="answered", ended_by="hangup") == 1
    assert rig.api("GET", "/api/calls/nope", rig.admin)[0] == 404
    assert rig.api("GET", f"/api/calls/{call_id}", rig.agent_tokens["1001"])[0] == 403


def test_consult_then_complete_gives_both_agents_a_segment_and_the_call_in_the_report(rig) -> None:
    since = datetime.now(UTC)
    call_id = caller_with_1001(rig)
    login(rig, "1002")
    mine, me = rig.feed("1001"), rig.agent_tokens["1001"]
    assert rig.api("POST", "/api/agents/1001/call/hold", me)[0] == 200  # 1001's hold is 1001's
    assert rig.api("POST", "/api/agents/1001/call/unhold", me)[0] == 200
    assert rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "agent:1002"})[0] == 200
    assert consult_news(mine) == "answered"
    assert rig.api("POST", "/api/agents/1001/call/complete", me)[0] == 200
    wait_until(lambda: done_with_the_call(rig, "1001"), what="1001 done with the call")
    rig.emulator.hangup(call_id)
    assert rig.next_call().agent_id == "1001"

    call = shown(rig, call_id)
    assert call["agent"] == "1001"  # the CDR's agent stays the first one
    assert parts(call) == [(1, "1001", "sales", "answered", "transferred"), (2, "1002", "sales", "consult", "hangup")]
    first, second = call["segments"]
    assert first["ended_at"] == second["started_at"]
    assert (first["hold_count"], second["hold_count"]) == (1, 0)
    assert first["talk_seconds"] + second["talk_seconds"] == pytest.approx(call["talk_seconds"], abs=SLACK)
    ours, theirs = report(rig, "1001", since), report(rig, "1002", since)
    assert (ours.calls, ours.holds, theirs.calls, theirs.holds) == (1, 1, 1, 0)
    assert theirs.talk_seconds == pytest.approx(second["talk_seconds"], abs=0.001)
    m = rig.engine.metrics
    assert m.value("hotline_call_segments_total", how="answered", ended_by="transferred") == 1
    assert m.value("hotline_call_segments_total", how="consult", ended_by="hangup") == 1


def test_a_conference_the_first_agent_leaves_is_two_overlapping_segments(rig) -> None:
    since = datetime.now(UTC)
    call_id = caller_with_1001(rig)
    login(rig, "1002")
    mine, me = rig.feed("1001"), rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/conference", me, {"target": "agent:1002"})
    assert status == 200 and consult_news(mine) == "answered"
    third = rig.emulator.channels[body["leg"]]
    assert rig.api("POST", "/api/agents/1001/call/leave", me)[0] == 200
    wait_until(lambda: done_with_the_call(rig, "1001"), what="1001 left")
    third.hangup()  # 1002 hangs up: the caller is not left alone in the room
    rig.next_call()

    call = shown(rig, call_id)
    assert parts(call) == [
        (1, "1001", "sales", "answered", "left_conference"),
        (2, "1002", "sales", "conference", "hangup"),
    ]
    first, second = call["segments"]
    assert second["started_at"] < first["ended_at"]  # three-way: both had the caller for a while
    assert report(rig, "1001", since).calls == 1 and report(rig, "1002", since).calls == 1


def test_a_blind_transfer_through_a_queue_is_a_transfer_segment_of_the_next_agent(rig) -> None:
    since = datetime.now(UTC)
    call_id = caller_with_1001(rig)
    login(rig, "1002")
    me = rig.agent_tokens["1001"]
    assert rig.api("POST", "/api/agents/1001/call/transfer", me, {"target": "queue:backup"})[0] == 200
    wait_until(lambda: talking(rig, "1002"), what="1002 talking")
    rig.emulator.hangup(call_id)
    rig.next_call()
    assert parts(shown(rig, call_id)) == [
        (1, "1001", "sales", "answered", "transferred"),
        (2, "1002", "backup", "transfer", "hangup"),
    ]
    assert report(rig, "1002", since).calls == 1


def test_a_blind_transfer_to_an_agent_is_their_segment_from_when_they_answer(rig) -> None:
    rig.emulator.dialplan["1002"] = [("bridge", "user/1002")]  # dialplans/default.xml: agent_to_agent
    since = datetime.now(UTC)
    call_id = caller_with_1001(rig)
    login(rig, "1002")  # logged in (the report lists agents with a state log); rung by the dialplan, not the ACD
    me = rig.agent_tokens["1001"]
    assert rig.api("POST", "/api/agents/1001/call/transfer", me, {"target": "agent:1002"})[0] == 200
    caller = rig.emulator.channels[call_id]
    wait_until(lambda: caller.bridged_to and caller.bridged_to.name.startswith("sofia/internal/1002@"), what="1002")
    rig.emulator.hangup(call_id)
    rig.next_call()
    call = shown(rig, call_id)
    assert (call["agent"], call["outcome"]) == ("1001", "transferred")
    assert parts(call) == [
        (1, "1001", "sales", "answered", "transferred"),
        (2, "1002", "sales", "transfer", "hangup"),
    ]
    assert call["segments"][1]["started_at"] > call["segments"][0]["ended_at"]  # from 1002's answer, not the ring
    assert report(rig, "1002", since).calls == 1


def test_a_blind_transfer_nobody_answers_gives_the_target_no_segment(rig) -> None:
    call_id = caller_with_1001(rig)  # the emulator's dialplan has no route to 1002: NO_ROUTE_DESTINATION
    me = rig.agent_tokens["1001"]
    assert rig.api("POST", "/api/agents/1001/call/transfer", me, {"target": "agent:1002"})[0] == 200
    assert rig.next_call().hangup_cause == "NO_ROUTE_DESTINATION"
    assert parts(shown(rig, call_id)) == [(1, "1001", "sales", "answered", "transferred")]
