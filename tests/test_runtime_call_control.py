"""Call control against a scripted FreeSWITCH: what an agent's or supervisor's action sends, what the ACD
and the caller's session are told, and the audit row and count every action leaves, refused or done."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.acd.model import QueueConfig
from engine.acd.states import AgentState
from engine.config.model import AgentCalls
from engine.esl.codec import UnsafeValue
from engine.runtime.acd_shell import TransferCall
from engine.runtime.call_control import CallControl
from engine.runtime.consults import Consults
from engine.runtime.manual_dial import ManualDials
from engine.store import call_control_log
from tests.runtime_rig import Rig, runtime_rig
from tests.switch_peer import SILENT, originate_uuid, wait_until

pytestmark = pytest.mark.db

CALL = "9b2e4f10-5c3d-4a8e-b7f1-0d6c2a9e8b41"
QUEUES = (QueueConfig("sales", "sales", wrap_up_seconds=5.0), QueueConfig("backup", "backup"))


class Supervisor:
    """The engine's side of recording and agent-state actions: what call control asked of it."""

    def __init__(self) -> None:
        self.asked: list[tuple[Any, ...]] = []

    def start_recording(self, leg: str, actor: str, agent_id: str | None, queue: str | None) -> str:
        self.asked.append(("record", leg, actor, agent_id, queue))
        return f"/rec/{leg}.wav"

    def agent_action(self, agent_id: str, action: str, reason: str | None) -> dict[str, Any]:
        self.asked.append((action, agent_id, reason))
        return {"state": action}


@pytest.fixture
def rig(db_url: str) -> Iterator[Rig]:
    with runtime_rig(db_url, {"1001": {"sales": 5}, "1002": {"backup": 5}}, QUEUES, timeout=0.3) as r:
        yield r


def make(rig: Rig, supervisor: Supervisor | None = None) -> CallControl:
    sup = supervisor or Supervisor()
    settings = AgentCalls()
    dials = ManualDials(
        rig.acd, rig.legs, rig.sessions, rig.metrics, settings, region="GB", customer_pop=lambda _n: (None, [])
    )
    consults = Consults(
        rig.acd, rig.control, rig.legs, rig.metrics, settings, dnc_source=dials.dnc_source, segments=rig.segments
    )
    return CallControl(
        rig.acd, rig.control, rig.sessions, rig.metrics, dials=dials, consults=consults,
        start_recording=sup.start_recording, agent_action=sup.agent_action, segments=rig.segments,
    )  # fmt: skip


def audit(rig: Rig) -> list[tuple[str, str, str, str | None, str | None, str]]:
    """The call-control log, oldest first: (actor, action, agent, call, detail, result)."""
    with rig.sessions() as s:
        rows = call_control_log.list_actions(s, limit=100)
    return [(r.actor, r.action, r.agent_id, r.call_uuid, r.detail, r.result) for r in reversed(rows)]


def counted(rig: Rig, action: str, result: str) -> float:
    return rig.metrics.value("hotline_call_control_actions_total", action=action, result=result)


def test_hold_and_unhold_put_the_agents_own_leg_on_hold_and_are_audited(rig) -> None:
    calls = make(rig)
    leg = rig.bridge(CALL, "1001")
    assert calls.act("sup", "1001", "hold") == {"agent": "1001", "action": "hold", "call": CALL, "leg": leg}
    assert calls.act("sup", "1001", "unhold")["leg"] == leg
    assert rig.fs.sent("api uuid_hold") == [f"api uuid_hold {leg}", f"api uuid_hold off {leg}"]
    assert audit(rig) == [("sup", "hold", "1001", CALL, None, "ok"), ("sup", "unhold", "1001", CALL, None, "ok")]
    assert counted(rig, "hold", "ok") == 1 and counted(rig, "unhold", "ok") == 1


def test_an_action_on_an_agent_with_no_call_is_refused_with_why_and_audited(rig) -> None:
    calls = make(rig)
    for action in ("hold", "hangup", "record", "transfer"):
        with pytest.raises(ValueError, match="agent 1001 is not on a call"):
            calls.act("1001", "1001", action, target="queue:backup")
    assert rig.fs.commands == []
    assert [(row[1], row[5]) for row in audit(rig)] == [
        (action, "refused: agent 1001 is not on a call") for action in ("hold", "hangup", "record", "transfer")
    ]
    assert counted(rig, "hold", "refused") == 1


def test_an_unknown_agent_is_a_key_error_and_nothing_is_sent(rig) -> None:
    with pytest.raises(KeyError, match="agent 9999"):
        make(rig).act("sup", "9999", "hold")
    assert rig.fs.commands == []


def test_freeswitch_refusing_the_hold_is_a_refusal_with_its_text(rig) -> None:
    calls = make(rig)
    rig.bridge(CALL, "1001")
    rig.fs.on("api uuid_hold", "-ERR no such channel\n")
    with pytest.raises(ValueError, match="-ERR no such channel"):
        calls.act("1001", "1001", "hold")
    assert audit(rig)[-1][5] == "refused: -ERR no such channel"
    assert rig.state("1001") == AgentState.ON_CALL  # still on the call


def test_freeswitch_not_answering_the_hangup_is_a_refusal_after_the_timeout(rig) -> None:
    calls = make(rig)
    rig.bridge(CALL, "1001")
    rig.fs.on("api uuid_kill", SILENT)
    with pytest.raises(ValueError, match="no reply to 'api uuid_kill'"):
        calls.act("1001", "1001", "hangup")
    assert rig.fs.sent("api uuid_kill") == [f"api uuid_kill {CALL}"]
    assert audit(rig)[-1][1:3] == ("hangup", "1001") and audit(rig)[-1][5].startswith("refused: ")
    assert rig.metrics.value("hotline_esl_command_timeouts_total", command="api uuid_kill") == 1


def test_hangup_ends_the_callers_channel(rig) -> None:
    calls = make(rig)
    rig.bridge(CALL, "1001")
    assert calls.act("1001", "1001", "hangup") == {"agent": "1001", "action": "hangup", "call": CALL}
    assert rig.fs.sent("api uuid_kill") == [f"api uuid_kill {CALL}"]


def test_blind_transfer_to_a_queue_keeps_the_caller_tells_the_session_and_releases_the_agent_leg(rig) -> None:
    calls = make(rig)
    leg = rig.bridge(CALL, "1001")
    info = rig.acd.inboxes[CALL]
    assert calls.act("1001", "1001", "transfer", target="queue:backup")["target"] == "queue:backup"
    assert rig.fs.commands[-2:] == [
        f"api uuid_setvar {CALL} park_after_bridge true",
        f"api uuid_kill {leg} NORMAL_CLEARING",
    ]
    assert info.inbox.get(timeout=1) == TransferCall("queue:backup")
    assert audit(rig)[-1] == ("1001", "transfer", "1001", CALL, "queue:backup", "ok")


@pytest.mark.parametrize(
    ("target", "error", "sent"),
    [
        ("queue:nowhere", ValueError, "no such queue"),
        ("queue:", UnsafeValue, "is not a name"),
        ("voicemail:1001", UnsafeValue, "use queue:NAME, flow:NAME, agent:ID or number:N"),
        ("number:123 &bridge(x)", UnsafeValue, "is not"),
        ("agent:1002}{x=1", UnsafeValue, "is not"),
    ],
)
def test_a_bad_transfer_target_is_refused_before_anything_is_sent(rig, target, error, sent) -> None:
    calls = make(rig)
    rig.bridge(CALL, "1001")
    before = list(rig.fs.commands)
    with pytest.raises(error, match=sent):
        calls.act("1001", "1001", "transfer", target=target)
    assert rig.fs.commands == before
    assert audit(rig)[-1][4] == target and audit(rig)[-1][5].startswith("refused: ")
    if error is UnsafeValue:
        assert rig.metrics.value("hotline_unsafe_values_total", source="call_control_transfer") == 1


def test_record_starts_recording_the_callers_leg_in_its_queue(rig) -> None:
    sup = Supervisor()
    calls = make(rig, sup)
    rig.bridge(CALL, "1001")
    assert calls.act("sup", "1001", "record")["path"] == f"/rec/{CALL}.wav"
    assert sup.asked == [("record", CALL, "sup", "1001", "sales")]


def test_force_break_and_logout_go_through_the_agent_actions(rig) -> None:
    sup = Supervisor()
    calls = make(rig, sup)
    calls.act("sup", "1001", "force_break", reason="meeting")
    calls.act("sup", "1002", "force_break")
    calls.act("sup", "1001", "force_logout")
    assert sup.asked == [("break", "1001", "meeting"), ("break", "1002", "supervisor"), ("logout", "1001", None)]
    assert [row[4] for row in audit(rig)] == ["meeting", None, None]


def test_listen_rings_the_supervisor_into_eavesdrop_and_whisper_presses_2(rig) -> None:
    calls = make(rig)
    rig.bridge(CALL, "1001")
    listen = calls.act("sup", "1001", "listen", contact="user/1009")["leg"]
    whisper = calls.act("sup", "1001", "whisper", contact="user/1009")["leg"]
    wait_until(lambda: rig.fs.sent("api uuid_send_dtmf"), what="the whisper key")
    rung = rig.fs.sent("bgapi originate")[1:]  # after the agent's own offer
    assert [originate_uuid(line) for line in rung] == [listen, whisper]
    assert all(line.endswith(f"user/1009 &eavesdrop({CALL})") for line in rung)
    assert rig.fs.sent("api uuid_send_dtmf") == [f"api uuid_send_dtmf {whisper} 2"]


def test_a_supervisor_who_does_not_answer_presses_no_key(rig) -> None:
    calls = make(rig)
    rig.bridge(CALL, "1001")
    rig.fs.on("bgapi originate {origination_uuid", "-ERR NO_ANSWER\n")
    calls.act("sup", "1001", "barge", contact="user/1009")
    wait_until(lambda: len(rig.fs.sent("bgapi originate")) == 2, what="the first supervisor rung")
    rig.fs.on("bgapi originate {origination_uuid", lambda line: f"+OK {originate_uuid(line)}\n")
    answered = calls.act("sup", "1001", "whisper", contact="user/1010")["leg"]
    wait_until(lambda: rig.fs.sent("api uuid_send_dtmf"), what="the second supervisor's key")
    assert rig.fs.sent("api uuid_send_dtmf") == [f"api uuid_send_dtmf {answered} 2"]


@pytest.mark.parametrize(
    ("contact", "error", "message"),
    [
        (None, ValueError, "give the supervisor's phone as contact"),
        ("user/1009 &park()", UnsafeValue, "contact"),
        ("{x=1}user/1009", UnsafeValue, "contact"),
    ],
)
def test_eavesdrop_without_a_sound_contact_rings_nobody(rig, contact, error, message) -> None:
    calls = make(rig)
    rig.bridge(CALL, "1001")
    with pytest.raises(error, match=message):
        calls.act("sup", "1001", "listen", contact=contact)
    assert len(rig.fs.sent("bgapi originate")) == 1  # the agent's offer only


def test_an_unknown_action_is_refused_and_audited(rig) -> None:
    calls = make(rig)
    rig.bridge(CALL, "1001")
    with pytest.raises(ValueError, match="unknown call-control action 'teleport'"):
        calls.act("sup", "1001", "teleport")
    assert audit(rig)[-1][1] == "teleport"


def test_an_unprintable_or_long_detail_is_kept_as_its_repr_cut_to_the_column(rig) -> None:
    calls = make(rig)
    with pytest.raises(ValueError):
        calls.act("sup", "1001", "transfer", target="queue:\x1b[2Jx")
    with pytest.raises(ValueError):
        calls.act("sup", "1001", "transfer", target="queue:" + "q" * 400)
    details = [row[4] for row in audit(rig)]
    assert details[0] == repr("queue:\x1b[2Jx")
    assert len(details[1]) == 255 and details[1].startswith("'queue:qqq")


def test_the_log_is_newest_first_and_filtered_by_agent(rig) -> None:
    calls = make(rig)
    calls.act("sup", "1001", "force_break", reason="a")
    calls.act("sup", "1002", "force_break", reason="b")
    calls.act("sup", "1001", "force_logout")
    assert [(e["agent"], e["action"]) for e in calls.log(None, 10)] == [
        ("1001", "force_logout"),
        ("1002", "force_break"),
        ("1001", "force_break"),
    ]
    assert [e["detail"] for e in calls.log("1001", 1)] == [None]
    assert [e["result"] for e in calls.log("1002", 10)] == ["ok"]
