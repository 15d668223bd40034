"""Agents' own calls against a scripted FreeSWITCH: the originate that rings the agent then the number,
the outcome read from the agent leg's hangup, the CDR and interaction stored, the agent's state in the
ACD, the screen pop, do-not-call refusals, and what happens when FreeSWITCH or the agent fails."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.acd.model import Agent
from engine.acd.states import AgentState
from engine.config.model import AgentCalls
from engine.esl.codec import UnsafeValue
from engine.runtime.manual_dial import ManualDials
from engine.store import calls, customers, outbound
from engine.store.errors import NotFound
from engine.store.models import Interaction
from tests.runtime_rig import Rig, agent_legs, runtime_rig
from tests.switch_peer import HOLD, originate_uuid, wait_until

pytestmark = pytest.mark.db

SETTINGS = AgentCalls(caller_id="4000", dial_string="sofia/gateway/trunk/{number}", wrap_up_seconds=7.0)


@pytest.fixture
def rig(db_url: str) -> Iterator[Rig]:
    with runtime_rig(db_url, {"1001": {"sales": 5}}) as r:
        yield r


def make(rig: Rig, pop: Any = None) -> ManualDials:
    return ManualDials(
        rig.acd, rig.legs, rig.sessions, rig.metrics, SETTINGS, region="GB", customer_pop=pop or (lambda _n: (None, []))
    )


def cdr(rig: Rig, uuid: str) -> dict[str, Any] | None:
    with rig.sessions() as s:
        try:
            return calls.view(calls.get_call(s, uuid))
        except NotFound:
            return None


def test_a_dial_rings_the_agent_then_bridges_to_the_number_and_stores_the_answered_call(rig) -> None:
    with rig.sessions.begin() as s:
        ada = customers.create_customer(s, "Ada", region="GB", numbers=["01614960000"]).id
    pops: list[str] = []

    def pop(number: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        pops.append(number)
        return {"id": ada, "name": "Ada"}, [{"kind": "inbound"}]

    dials = make(rig, pop)
    rig.feed("1001")
    rig.fs.on("bgapi originate", HOLD)  # the agent's phone rings
    placed = dials.dial("1001", "0161 496 0000", False)
    assert placed["number"] == "01614960000" and pops == ["01614960000"]
    assert rig.state("1001") == AgentState.ENGAGED  # no queued call is offered meanwhile
    assert dials.direct["1001"].party_leg == placed["call"]
    [screen] = rig.messages("1001", "screen_pop")
    assert (screen["phase"], screen["call_id"], screen["customer_name"], screen["dnc_overridden"]) == (
        "dial",
        placed["call"],
        "Ada",
        False,
    )

    line = rig.fs.finish("bgapi originate", f"+OK {placed['leg']}\n")  # the agent answered
    assert line.startswith("bgapi originate {") and originate_uuid(line) == placed["leg"]
    outer, bridge = line.removeprefix("bgapi originate ").split(" ")
    assert "originate_timeout=30" in outer and "origination_caller_id_number=01614960000" in outer
    assert outer.endswith("}user/1001")
    assert bridge.startswith("&bridge({") and bridge.endswith("}sofia/gateway/trunk/01614960000)")
    assert f"origination_uuid={placed['call']}" in bridge and "origination_caller_id_number=4000" in bridge

    answered = (datetime.now(UTC) - timedelta(seconds=30)).replace(microsecond=0)
    rig.fs.hangup(placed["leg"], variable_originate_disposition="SUCCESS")
    rig.fs.hangup(placed["call"], **{"Caller-Channel-Answered-Time": str(int(answered.timestamp() * 1e6))})
    wait_until(lambda: rig.state("1001") == AgentState.WRAP_UP, what="wrap-up")
    stored = cdr(rig, placed["call"])
    assert stored is not None
    assert (stored["caller"], stored["destination"], stored["agent"], stored["outcome"]) == (
        "agent:1001",
        "01614960000",
        "1001",
        "answered",
    )
    assert stored["hangup_cause"] == "SUCCESS"
    assert datetime.fromisoformat(stored["answered_at"]) == answered  # FreeSWITCH's answer time, not ours
    with rig.sessions() as s:
        [interaction] = s.scalars(select(Interaction).where(Interaction.call_uuid == placed["call"])).all()
    assert (interaction.customer_id, str(interaction.kind)) == (ada, "outbound")
    assert "1001" not in dials.direct and "1001" not in rig.hub.current  # the pop is no longer replayed
    assert rig.metrics.value("hotline_agent_dials_total", outcome="answered") == 1
    assert rig.acd.acd.snapshot().agents["1001"].wrap_up_until == pytest.approx(rig.clock.now + 7.0)


@pytest.mark.parametrize(
    ("disposition", "outcome"),
    [("USER_BUSY", "busy"), ("NO_ANSWER", "no_answer"), ("CALL_REJECTED", "rejected"), ("WEIRD_CAUSE", "failed")],
)
def test_a_number_that_does_not_answer_is_a_failed_call_with_freeswitchs_cause(rig, disposition, outcome) -> None:
    dials = make(rig)
    placed = dials.dial("1001", "01614960000", False)
    rig.fs.wait_command("bgapi originate")
    rig.fs.hangup(placed["leg"], variable_originate_disposition=disposition)
    wait_until(lambda: rig.state("1001") == AgentState.WRAP_UP, what="wrap-up")
    stored = cdr(rig, placed["call"])
    assert stored is not None and (stored["outcome"], stored["hangup_cause"]) == ("failed", disposition)
    assert stored["answered_at"] is None
    assert rig.metrics.value("hotline_agent_dials_total", outcome=outcome) == 1


@pytest.mark.parametrize("number_answered", [True, False])
def test_an_agent_hanging_up_as_the_number_answers_is_still_an_answered_call(rig, number_answered) -> None:
    """Seen on a real FreeSWITCH: the agent's leg ends ORIGINATOR_CANCEL when they hang up before the
    bridge is made, though the number had answered; the number's own leg says whether it did."""
    dials = make(rig)
    placed = dials.dial("1001", "01614960000", False)
    rig.fs.wait_command("bgapi originate")
    rig.fs.hangup(placed["leg"], variable_originate_disposition="ORIGINATOR_CANCEL")
    answered = (datetime.now(UTC) - timedelta(seconds=1)).replace(microsecond=0)
    at = str(int(answered.timestamp() * 1e6)) if number_answered else "0"
    rig.fs.hangup(placed["call"], **{"Caller-Channel-Answered-Time": at})
    wait_until(lambda: rig.state("1001") == AgentState.WRAP_UP, what="wrap-up")
    stored = cdr(rig, placed["call"])
    expected = ("answered", "SUCCESS") if number_answered else ("failed", "ORIGINATOR_CANCEL")
    assert stored is not None and (stored["outcome"], stored["hangup_cause"]) == expected


@pytest.mark.parametrize("job", ["-ERR NO_ANSWER\n", "-ERR USER_BUSY\n"])
def test_an_agent_who_does_not_pick_up_is_ready_again_at_once_and_nothing_is_stored(rig, job) -> None:
    dials = make(rig)
    rig.fs.on("bgapi originate", job)
    placed = dials.dial("1001", "01614960000", False)
    wait_until(lambda: rig.state("1001") == AgentState.READY, what="ready")
    assert cdr(rig, placed["call"]) is None and "1001" not in dials.direct
    assert rig.metrics.value("hotline_agent_dials_total", outcome="agent_no_answer") == 1


def test_losing_freeswitch_mid_dial_releases_the_agent(rig) -> None:
    dials = make(rig)
    rig.fs.on("bgapi originate", HOLD)
    dials.dial("1001", "01614960000", False)
    rig.fs.wait_command("bgapi originate")
    rig.fs.close()  # FreeSWITCH goes away while the agent's phone rings
    wait_until(lambda: rig.state("1001") == AgentState.READY, what="ready")
    assert dials.direct == {}
    assert rig.metrics.value("hotline_agent_dials_total", outcome="agent_no_answer") == 1


def test_a_number_on_a_do_not_call_list_is_refused_unless_overridden(rig) -> None:
    with rig.sessions.begin() as s:
        outbound.add_dnc(s, ["+441614960000"], source="tps")
    dials = make(rig)
    with pytest.raises(ValueError, match=r"01614960000 is on the do-not-call list \(tps\)"):
        dials.dial("1001", "01614960000", False)
    assert rig.fs.commands == [] and rig.state("1001") == AgentState.READY
    assert rig.metrics.value("hotline_agent_dials_total", outcome="dnc_refused") == 1
    rig.feed("1001")
    dials.dial("1001", "01614960000", True)
    [screen] = rig.messages("1001", "screen_pop")
    assert screen["dnc_overridden"] is True
    rig.fs.wait_command("bgapi originate")


def test_an_extension_is_checked_against_the_list_as_typed(rig) -> None:
    with rig.sessions.begin() as s:
        outbound.add_dnc(s, ["999"])
    assert make(rig).dnc_source("999") == "internal"
    assert make(rig).dnc_source("998") is None


@pytest.mark.parametrize(
    ("number", "error", "message"),
    [
        ("", ValueError, "give the number to call"),
        ("0161 496 0000 &park()", UnsafeValue, "number"),
        ("123}{x=1", UnsafeValue, "number"),
        ("user/1002", UnsafeValue, "number"),
    ],
)
def test_a_bad_number_is_refused_before_anything_is_sent_or_changed(rig, number, error, message) -> None:
    with pytest.raises(error, match=message):
        make(rig).dial("1001", number, False)
    assert rig.fs.commands == [] and rig.state("1001") == AgentState.READY


def test_an_agent_on_a_call_cannot_dial_and_one_without_a_phone_is_told_so(rig) -> None:
    dials = make(rig)
    rig.bridge("c-1", "1001")
    with pytest.raises(ValueError, match="agent 1001 cannot dial now"):
        dials.dial("1001", "01614960000", False)
    rig.acd.acd.add_agent(Agent("1003", {"sales": 5}, contact=""))
    with pytest.raises(ValueError, match="agent 1003 has no phone"):
        dials.dial("1003", "01614960000", False)
    assert len(rig.fs.sent("bgapi originate")) == 1  # the queued call's offer only
    assert agent_legs(rig.fs) == [rig.acd.agent_legs["c-1"]]


def test_a_failing_customer_lookup_leaves_the_agent_free(rig) -> None:
    def broken(_number: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        raise RuntimeError("database is locked")

    dials = make(rig, broken)
    with pytest.raises(RuntimeError):
        dials.dial("1001", "01614960000", False)
    assert rig.state("1001") == AgentState.READY and dials.direct == {}
    assert rig.fs.commands == []
