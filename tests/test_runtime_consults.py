"""Attended transfers and three-way conferences against a scripted FreeSWITCH: the commands in order,
the caller's session notices, the target agent reserved and released in the ACD, the consulting agent's
desktop, the counts, and what happens when the target does not answer or FreeSWITCH refuses."""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest

from engine.acd.model import QueueConfig
from engine.acd.states import AgentState
from engine.config.model import AgentCalls
from engine.esl.codec import UnsafeValue
from engine.runtime.acd_shell import ConsultHold
from engine.runtime.consults import Consults
from engine.store import outbound
from engine.transport import CommandFailed
from tests.runtime_rig import Rig, runtime_rig
from tests.switch_peer import HOLD, originate_uuid, wait_until

pytestmark = pytest.mark.db

CALL = "5d0a7c2e-91b4-4f3a-8e6d-2c1b0a9f8e77"
CALLER = "07700900123"
QUEUES = (QueueConfig("sales", "sales", wrap_up_seconds=5.0), QueueConfig("backup", "backup"))
SETTINGS = AgentCalls(dial_string="sofia/gateway/trunk/{number}", ring_seconds=20, wrap_up_seconds=8.0)


@pytest.fixture
def rig(db_url: str) -> Iterator[Rig]:
    with runtime_rig(db_url, {"1001": {"sales": 5}, "1002": {"backup": 5}, "1003": {"backup": 5}}, QUEUES) as r:
        yield r


def make(rig: Rig) -> Consults:
    def dnc(number: str) -> str | None:
        with rig.sessions() as s:
            return next(iter(outbound.dnc_sources(s, [number]).values()), None)

    return Consults(rig.acd, rig.control, rig.legs, rig.metrics, SETTINGS, dnc_source=dnc, segments=rig.segments)


def hang_up_when_killed(rig: Rig) -> None:
    """FreeSWITCH hangs a killed leg up: its CHANNEL_HANGUP_COMPLETE follows the reply."""

    def kill(line: str) -> str:
        gevent.spawn(rig.fs.hangup, line.split(" ")[2])
        return "+OK\n"

    rig.fs.on("api uuid_kill", kill)


def consult_events(rig: Rig) -> list[str]:
    return [m["state"] for m in rig.messages("1001", "consult")]


def counted(rig: Rig, kind: str, result: str) -> float:
    return rig.metrics.value("hotline_consults_total", kind=kind, result=result)


def test_consult_then_complete_joins_caller_and_target_and_frees_the_agent(rig) -> None:
    consults = make(rig)
    leg = rig.bridge(CALL, "1001")
    rig.feed("1001"), rig.feed("1002")
    rig.fs.on("bgapi originate", HOLD)
    started = rig.fs.commands[:]
    result = consults.act("1001", CALL, "consult", "agent:1002")
    assert result["target"] == "agent:1002" and result["agent"] == "1002"
    assert rig.state("1002") == AgentState.ENGAGED  # reserved: no queued call meanwhile
    assert rig.acd.inboxes[CALL].inbox.get(timeout=1) == ConsultHold(music=True)
    target = originate_uuid(rig.fs.finish("bgapi originate", f"+OK {result['leg']}\n"))
    assert target == result["leg"]
    wait_until(lambda: rig.fs.sent(f"api uuid_bridge {leg}"), what="the agent bridged to the target")
    assert rig.fs.commands[len(started) :] == [
        f"api uuid_setvar {CALL} park_after_bridge true",
        f"api uuid_setvar {leg} park_after_bridge true",
        f"api uuid_park {leg}",
        rig.fs.commands[len(started) + 3],  # the originate
        f"api uuid_bridge {leg} {target}",
    ]
    ring = rig.fs.commands[len(started) + 3]
    assert ring.endswith("}user/1002 &park()")
    assert f"hotline_consult={CALL}" in ring and f"origination_caller_id_number={CALLER}" in ring
    [pop] = rig.messages("1002", "screen_pop")
    assert (pop["phase"], pop["consulted_by"], pop["caller_number"]) == ("consult", "1001", CALLER)
    wait_until(lambda: consults.active["1001"].answered.is_set(), what="answered")
    assert consult_events(rig) == ["answered"]

    before = len(rig.fs.commands)
    assert consults.act("1001", CALL, "complete", "") == {"target": "agent:1002", "leg": target}
    assert rig.fs.commands[before:] == [
        f"api uuid_break {CALL} all",
        f"api uuid_bridge {CALL} {target}",
        f"api uuid_kill {leg}",
    ]
    assert rig.state("1001") == AgentState.WRAP_UP and "1001" not in consults.active
    assert counted(rig, "consult", "completed") == 1
    rig.fs.hangup(target)  # the caller and the colleague finish their talk
    wait_until(lambda: rig.state("1002") == AgentState.WRAP_UP, what="the target in wrap-up")
    assert rig.acd.acd.snapshot().agents["1002"].wrap_up_until == pytest.approx(rig.clock.now + 8.0)


def test_cancel_drops_the_target_and_bridges_the_agent_back_to_the_caller(rig) -> None:
    consults = make(rig)
    leg = rig.bridge(CALL, "1001")
    rig.feed("1001")
    hang_up_when_killed(rig)
    result = consults.act("1001", CALL, "consult", "number:01614960000")
    assert result["agent"] is None
    wait_until(lambda: "1001" in consults.active and consults.active["1001"].answered.is_set(), what="answered")
    ring = rig.fs.sent("bgapi originate")[-1]
    assert ring.endswith("}sofia/gateway/trunk/01614960000 &park()")
    assert consults.act("1001", CALL, "cancel", "") == {"target": "number:01614960000", "leg": leg}
    tail = rig.fs.commands[-4:]
    assert tail == [
        f"api uuid_kill {result['leg']}",
        f"api uuid_break {CALL} all",
        f"api uuid_bridge {CALL} {leg}",
        f"api uuid_setvar {leg} park_after_bridge",  # unset: the agent's leg hangs up with the caller again
    ]
    assert consult_events(rig) == ["answered", "back: cancelled"]
    assert counted(rig, "consult", "cancelled") == 1 and "1001" not in consults.active
    assert rig.state("1001") == AgentState.ON_CALL


@pytest.mark.parametrize(("job", "result"), [("-ERR NO_ANSWER\n", "no_answer"), ("-ERR USER_BUSY\n", "busy")])
def test_a_target_agent_who_does_not_answer_is_released_and_the_agent_is_back_with_the_caller(rig, job, result) -> None:
    consults = make(rig)
    leg = rig.bridge(CALL, "1001")
    rig.feed("1001")
    rig.fs.on("bgapi originate", job)
    consults.act("1001", CALL, "consult", "queue:backup")  # the queue's strategy picks 1002
    wait_until(lambda: rig.state("1002") == AgentState.READY and "1001" not in consults.active, what="released")
    assert rig.fs.commands[-2:] == [f"api uuid_bridge {CALL} {leg}", f"api uuid_setvar {leg} park_after_bridge"]
    assert consult_events(rig) == [f"back: {result}"]
    assert counted(rig, "consult", result) == 1
    assert "1002" not in rig.hub.current


def test_freeswitch_refusing_to_park_the_agent_releases_the_reserved_colleague(rig) -> None:
    consults = make(rig)
    rig.bridge(CALL, "1001")
    rig.fs.on("api uuid_park", "-ERR no such channel\n")
    with pytest.raises(CommandFailed, match="no such channel"):
        consults.act("1001", CALL, "consult", "agent:1002")
    assert rig.state("1002") == AgentState.READY
    assert rig.fs.sent("bgapi originate")[1:] == [] and consults.active == {}


def test_conference_moves_caller_and_agent_into_the_room_and_the_target_joins_it(rig) -> None:
    consults = make(rig)
    leg = rig.bridge(CALL, "1001")
    rig.feed("1001")
    start = len(rig.fs.commands)
    result = consults.act("1001", CALL, "conference", "agent:1003")
    wait_until(lambda: consults.active["1001"].answered.is_set(), what="answered")
    room = f"hotline-{CALL}@hotline"
    assert rig.acd.inboxes[CALL].inbox.get(timeout=1) == ConsultHold(music=False)
    assert rig.fs.commands[start : start + 4] == [
        f"api uuid_setvar {leg} park_after_bridge true",
        f"api uuid_break {CALL} all",
        f"api uuid_transfer {CALL} conference:{room}+flags{{endconf}} inline",
        f"api uuid_transfer {leg} conference:{room} inline",
    ]
    assert rig.fs.commands[start + 4].endswith(f"}}user/1003 &conference({room})")
    with pytest.raises(ValueError, match="in a conference, not a consult"):
        consults.act("1001", CALL, "complete", "")
    hang_up_when_killed(rig)
    assert consults.act("1001", CALL, "leave", "")["leg"] == result["leg"]
    assert rig.fs.commands[-1] == f"api uuid_kill {leg}"  # the agent's leg leaves the room
    assert rig.state("1001") == AgentState.WRAP_UP
    assert counted(rig, "conference", "completed") == 1
    rig.fs.hangup(result["leg"])  # the colleague hangs up: the caller would be alone in the room
    wait_until(lambda: rig.fs.sent(f"api uuid_kill {CALL}"), what="the caller's channel ended")
    wait_until(lambda: rig.state("1003") == AgentState.WRAP_UP, what="the colleague in wrap-up")


def test_a_refused_move_into_the_room_releases_the_reserved_colleague(rig) -> None:
    consults = make(rig)
    rig.bridge(CALL, "1001")
    rig.fs.on("api uuid_transfer", "-ERR no such channel\n")
    with pytest.raises(CommandFailed):
        consults.act("1001", CALL, "conference", "agent:1002")
    assert rig.state("1002") == AgentState.READY and consults.active == {} and consults.rooms == set()


def test_refusals_say_why_and_send_nothing(rig) -> None:
    with rig.sessions.begin() as s:
        outbound.add_dnc(s, ["01614960000"], source="tps")
    consults = make(rig)
    with pytest.raises(ValueError, match="agent 1001 is not on a queued call to consult about"):
        consults.act("1001", None, "consult", "agent:1002")
    with pytest.raises(ValueError, match="is not bridged to agent 1001 yet"):
        consults.act("1001", CALL, "consult", "agent:1002")
    rig.bridge(CALL, "1001")
    before = list(rig.fs.commands)
    cases = [
        ("agent:1001", ValueError, r"no such agent \(or yourself\)"),
        ("agent:9999", ValueError, "no such agent"),
        ("queue:nowhere", ValueError, "no such queue"),
        ("queue:sales", ValueError, "nobody in it is free"),
        ("number:01614960000", ValueError, r"on the do-not-call list \(tps\)"),
        ("flow:main", UnsafeValue, "use agent:ID, queue:NAME or number:N"),
        ("number:1 &park()", UnsafeValue, "is not"),
    ]
    for target, error, message in cases:
        with pytest.raises(error, match=message):
            consults.act("1001", CALL, "consult", target)
    rig.acd.apply(lambda now: rig.acd.acd.agent_break("1002", "lunch", now))
    with pytest.raises(ValueError, match=r"'agent:1002' is busy \(break\)"):
        consults.act("1001", CALL, "consult", "agent:1002")
    for action in ("complete", "leave", "cancel"):
        with pytest.raises(ValueError, match="agent 1001 is not consulting or conferencing anyone"):
            consults.act("1001", CALL, action, "")
    assert rig.fs.commands == before and consults.active == {}
    assert rig.state("1003") == AgentState.READY


def test_complete_before_the_target_answers_is_refused_and_a_second_consult_too(rig) -> None:
    consults = make(rig)
    rig.bridge(CALL, "1001")
    rig.fs.on("bgapi originate", HOLD)
    consults.act("1001", CALL, "consult", "agent:1002")
    with pytest.raises(ValueError, match="agent:1002 has not answered yet: wait, or cancel"):
        consults.act("1001", CALL, "complete", "")
    with pytest.raises(ValueError, match="already in a consult with agent:1002"):
        consults.act("1001", CALL, "consult", "agent:1003")
    rig.fs.finish("bgapi originate", "-ERR ORIGINATOR_CANCEL\n")
    wait_until(lambda: rig.state("1002") == AgentState.READY, what="released")
    assert counted(rig, "consult", "cancelled") == 1
