"""Agent call control on the emulator through the real call path (engine/runtime/call_control.py):
manual dials (the agent's phone first, then the number), the ACD keeping the agent out of queue
offers meanwhile, the CDR and the customer's outbound interaction, DNC refusals; attended transfers
(consult, complete, cancel, the target not answering); audit and metrics."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.emulator import CalledParty, Caller, Phone
from engine.store import customers
from engine.store import outbound as outbound_store
from engine.store.models import Call, Interaction
from tests.acd_rig import acd_rig, login, talking, wait_until
from tests.hotline_rig import HOTLINE_NUMBER, seed

pytestmark = [pytest.mark.integration, pytest.mark.db]

SKILLS = {"1001": {"sales": 5}, "1002": {"sales": 5}}
CUSTOMER = "13900000042"
BUSY = "13900000043"
SILENT = "13900000045"
LISTED = "13900000044"
WRAP_UP = 30  # seconds of wrap-up after an agent's own call: long enough to be seen in the test


@pytest.fixture
def rig(tmp_path, db_url):
    def crm(s: Any) -> None:
        customers.create_customer(s, "Ada Lovelace", region="CN", numbers=[CUSTOMER])
        outbound_store.add_dnc(s, ["+86" + LISTED])

    seed(db_url, crm)
    # the agent's phone rings 100 emulated seconds (1 s): far longer than it takes to answer, even loaded
    calls = {"caller_id": "4000", "wrap_up_seconds": WRAP_UP, "agent_ring_seconds": 100}
    config = {"agent_calls": calls}
    with acd_rig(tmp_path, db_url, SKILLS, {"sales": {"wrap_up_seconds": WRAP_UP}}, config) as rig:
        for ext in SKILLS:
            rig.emulator.phones[ext] = Phone(ext, answer_delay=1)
        # patient: in a conference room nobody is bridged to them, and 10 emulated seconds are only 0.1 s
        rig.emulator.parties[CUSTOMER] = CalledParty(
            CUSTOMER, "live", answer_delay=1, talk_seconds=None, patience_seconds=100_000
        )
        rig.emulator.parties[BUSY] = CalledParty(BUSY, "busy", answer_delay=1)
        rig.emulator.parties[SILENT] = CalledParty(SILENT, "no_answer")
        rig.emulator.parties[LISTED] = CalledParty(LISTED, "live", answer_delay=1, talk_seconds=None)
        yield rig


def state(rig, agent_id: str) -> str:
    return str(rig.engine.acd.agent_state(agent_id))


def screen_pop(feed) -> dict[str, Any]:
    while True:
        message = feed.get(timeout=5)
        if message["kind"] == "screen_pop":
            return message["data"]


def test_agent_dials_a_customer_talks_and_hangs_up_into_wrap_up(rig) -> None:
    login(rig, "1001")
    feed = rig.feed("1001")
    me = rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/dial", me, {"number": CUSTOMER})
    assert status == 200, body
    assert state(rig, "1001") == "engaged"
    pop = screen_pop(feed)
    assert (pop["phase"], pop["number"], pop["customer_name"]) == ("dial", CUSTOMER, "Ada Lovelace")

    agent_leg = wait_until(lambda: rig.emulator.channels.get(body["leg"]), what="the agent's phone rung")
    party = wait_until(lambda: agent_leg.bridged_to, what="the agent bridged to the number")
    assert party.uuid == body["call"]
    assert agent_leg.name.startswith("sofia/internal/1001@") and party.destination == CUSTOMER
    assert party.variables["origination_caller_id_number"] == "4000"

    # engaged: a caller arriving now waits for 1002, never rings 1001
    login(rig, "1002")
    assert rig.api("POST", "/api/agents/1002/break", rig.agent_tokens["1002"], {"reason": "lunch"})[0] == 200
    caller = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
    wait_until(lambda: rig.engine.acd.acd.queue_status("sales", rig.engine.acd.clock()).waiting, what="queued")
    assert state(rig, "1001") == "engaged"

    assert rig.api("POST", "/api/agents/1001/call/hold", me)[0] == 200
    assert (agent_leg.callstate, party.callstate) == ("HELD", "ACTIVE")  # the party hears the hold music
    assert rig.api("POST", "/api/agents/1001/call/unhold", me)[0] == 200
    assert rig.api("POST", "/api/agents/1001/call/hangup", me)[0] == 200
    wait_until(lambda: state(rig, "1001") == "wrap_up", what="1001 in wrap-up")
    assert not agent_leg.alive and not party.alive

    with rig.engine.sessions() as s:
        cdr = s.scalars(select(Call).where(Call.uuid == body["call"])).one()
        interaction = s.scalars(select(Interaction).where(Interaction.call_uuid == body["call"])).one()
        ada = customers.find_customer_by_number(s, CUSTOMER, region="CN")
        assert (str(cdr.outcome), cdr.agent_id, cdr.destination, cdr.caller_number) == (
            "answered",
            "1001",
            CUSTOMER,
            "agent:1001",
        )
        assert cdr.answered_at is not None
        assert (str(interaction.kind), interaction.customer_id, interaction.agent_id) == ("outbound", ada.id, "1001")

    log = rig.api("GET", "/api/call-control-log?agent=1001", rig.admin)[1]
    assert [(r["action"], r["result"], r["call"]) for r in reversed(log)] == [
        ("dial", "ok", body["call"]),
        ("hold", "ok", body["call"]),
        ("unhold", "ok", body["call"]),
        ("hangup", "ok", body["call"]),
    ]
    m = rig.engine.metrics
    assert m.value("hotline_agent_dials_total", outcome="answered") == 1
    assert m.value("hotline_call_control_actions_total", action="dial", result="ok") == 1
    rig.emulator.hangup(caller)
    assert rig.next_call().outcome == "abandoned"  # it waited: nobody was free


def test_a_busy_number_is_a_failed_outbound_call_and_the_agent_wraps_up(rig) -> None:
    login(rig, "1001")
    status, body = rig.api("POST", "/api/agents/1001/call/dial", rig.agent_tokens["1001"], {"number": BUSY})
    assert status == 200
    wait_until(lambda: state(rig, "1001") == "wrap_up", what="1001 in wrap-up")
    with rig.engine.sessions() as s:
        cdr = s.scalars(select(Call).where(Call.uuid == body["call"])).one()
        assert (str(cdr.outcome), cdr.hangup_cause, cdr.answered_at) == ("failed", "USER_BUSY", None)
    assert rig.engine.metrics.value("hotline_agent_dials_total", outcome="busy") == 1


def test_the_agent_not_answering_their_phone_leaves_them_ready_and_dials_nobody(rig) -> None:
    rig.emulator.phones["1001"] = Phone("1001", behaviour="no_answer")
    login(rig, "1001")
    status, body = rig.api("POST", "/api/agents/1001/call/dial", rig.agent_tokens["1001"], {"number": CUSTOMER})
    assert status == 200
    wait_until(lambda: state(rig, "1001") == "ready", what="1001 ready again")
    assert body["call"] not in rig.emulator.channels
    assert rig.engine.metrics.value("hotline_agent_dials_total", outcome="agent_no_answer") == 1
    with rig.engine.sessions() as s:
        assert s.scalars(select(Call).where(Call.uuid == body["call"])).first() is None


def test_dial_refusals_are_clear_and_audited(rig) -> None:
    me = rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/dial", me, {"number": CUSTOMER})
    assert status == 409 and "cannot dial now" in body["error"] and "logged_out" in body["error"]
    login(rig, "1001")
    assert rig.api("POST", "/api/agents/1001/call/dial", me, {})[0] == 400
    status, body = rig.api("POST", "/api/agents/1001/call/dial", me, {"number": "call me"})
    assert status == 400 and "number" in body["error"]
    status, body = rig.api("POST", "/api/agents/1001/call/dial", me, {"number": LISTED})
    assert status == 409 and "do-not-call" in body["error"]
    assert rig.api("POST", "/api/agents/1001/call/dial", me, {"number": LISTED, "override_dnc": True})[0] == 403
    assert state(rig, "1001") == "ready"
    assert rig.api("POST", "/api/agents/1001/call/hangup", me)[1]["error"] == "agent 1001 is not on a call"

    status, body = rig.api("POST", "/api/agents/1001/call/dial", rig.admin, {"number": LISTED, "override_dnc": True})
    assert status == 200
    pop_leg = wait_until(lambda: rig.emulator.channels.get(body["call"]), what="the listed number rung")
    assert pop_leg.destination == LISTED
    log = rig.api("GET", "/api/call-control-log?agent=1001", rig.admin)[1]
    assert [(r["actor"], r["action"], r["result"].split(":")[0]) for r in reversed(log)] == [
        ("agent:1001", "dial", "refused"),
        ("agent:1001", "dial", "refused"),
        ("agent:1001", "hangup", "refused"),
        ("admin", "dial", "ok"),
    ]
    assert rig.engine.metrics.value("hotline_agent_dials_total", outcome="dnc_refused") == 1
    wait_until(lambda: pop_leg.bridged_to, what="the listed number answered")
    assert rig.api("POST", "/api/agents/1001/call/hangup", rig.admin)[0] == 200
    wait_until(lambda: state(rig, "1001") == "wrap_up", what="1001 in wrap-up")


def consult_news(feed) -> dict[str, Any]:
    while True:
        message = feed.get(timeout=5)
        if message["kind"] == "consult":
            return message["data"]


def on_hold_with_music(rig, call_id: str) -> bool:
    caller = rig.emulator.channels[call_id]
    return (
        caller.bridged_to is None
        and caller.variables.get("current_application_data") == "{timeout=20000}local_stream://moh"
    )


def caller_with_1001(rig) -> str:
    login(rig, "1001")
    call_id = rig.emulator.place_call(Caller("13900000001", script=["1"]), HOTLINE_NUMBER)
    wait_until(lambda: talking(rig, "1001"), what="1001 talking")
    return call_id


def test_consult_another_agent_then_complete_joins_the_caller_to_them(rig) -> None:
    call_id = caller_with_1001(rig)
    agent_leg = rig.emulator.channels[rig.engine.acd.agent_legs[call_id]]
    login(rig, "1002")
    feed, mine = rig.feed("1002"), rig.feed("1001")
    me = rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "agent:1002"})
    assert status == 200, body
    assert state(rig, "1002") == "engaged"  # reserved through the ACD: never offered a queued call now
    assert screen_pop(feed)["phase"] == "consult"
    wait_until(lambda: on_hold_with_music(rig, call_id), what="the caller on hold with music")
    target = wait_until(lambda: agent_leg.bridged_to, what="1001 talking to 1002")
    assert target.uuid == body["leg"] and target.name.startswith("sofia/internal/1002@")
    assert state(rig, "1001") == "on_call"
    assert consult_news(mine) == {"call_id": call_id, "target": "agent:1002", "state": "answered"}

    status, body = rig.api("POST", "/api/agents/1001/call/complete", me)
    assert status == 200, body
    wait_until(lambda: rig.emulator.channels[call_id].bridged_to is target, what="caller bridged to 1002")
    wait_until(lambda: not agent_leg.alive, what="1001's leg released")
    assert state(rig, "1001") == "wrap_up" and state(rig, "1002") == "engaged"

    rig.emulator.hangup(call_id)
    trace = rig.next_call()
    assert (trace.outcome, trace.agent_id) == ("answered", "1001")
    wait_until(lambda: state(rig, "1002") == "wrap_up", what="1002 in wrap-up after the call")
    log = rig.api("GET", "/api/call-control-log?agent=1001", rig.admin)[1]
    assert [(r["action"], r["detail"], r["result"], r["call"]) for r in reversed(log)] == [
        ("consult", "agent:1002", "ok", call_id),
        ("complete", None, "ok", call_id),
    ]
    assert rig.engine.metrics.value("hotline_consults_total", kind="consult", result="completed") == 1


def test_cancel_or_no_answer_returns_the_agent_to_the_caller(rig) -> None:
    me = rig.agent_tokens["1001"]
    login(rig, "1002")
    status, body = rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "agent:1002"})
    assert status == 409 and "not on a queued call to consult" in body["error"]
    assert rig.api("POST", "/api/agents/1002/break", rig.agent_tokens["1002"], {"reason": "lunch"})[0] == 200
    call_id = caller_with_1001(rig)
    agent_leg = rig.emulator.channels[rig.engine.acd.agent_legs[call_id]]
    mine = rig.feed("1001")
    status, body = rig.api("POST", "/api/agents/1001/call/complete", me)
    assert (status, body["error"]) == (409, "agent 1001 is not consulting or conferencing anyone")
    status, body = rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "agent:1002"})
    assert status == 409 and "busy (break)" in body["error"]
    status, body = rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "agent:nobody"})
    assert status == 409 and "no such agent" in body["error"]
    status, body = rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "pigeon:1"})
    assert status == 400 and "use agent:ID, queue:NAME or number:N" in body["error"]
    assert rig.emulator.channels[call_id].bridged_to is agent_leg  # nothing happened to the call

    # a number that does not answer: the agent is back with the caller on their own
    assert rig.api("POST", "/api/agents/1001/call/consult", me, {"target": f"number:{SILENT}"})[0] == 200
    wait_until(lambda: on_hold_with_music(rig, call_id), what="the caller on hold")
    wait_until(lambda: rig.emulator.channels[call_id].bridged_to is agent_leg, what="back with the caller")

    # 1002 answers, then the agent cancels
    assert consult_news(mine)["state"] == "back: no_answer"
    assert rig.api("POST", "/api/agents/1002/ready", rig.agent_tokens["1002"])[0] == 200
    status, body = rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "agent:1002"})
    assert status == 200
    assert consult_news(mine)["state"] == "answered"
    assert agent_leg.bridged_to.uuid == body["leg"]
    assert rig.api("POST", "/api/agents/1001/call/cancel", me)[0] == 200
    assert consult_news(mine)["state"] == "back: cancelled"
    wait_until(lambda: rig.emulator.channels[call_id].bridged_to is agent_leg, what="back with the caller")
    assert body["leg"] not in rig.emulator.channels
    assert state(rig, "1001") == "on_call" and state(rig, "1002") == "wrap_up"

    rig.emulator.hangup(call_id)
    assert rig.next_call().agent_id == "1001"
    wait_until(lambda: not agent_leg.alive, what="1001's leg hung up with the caller")
    m = rig.engine.metrics
    assert m.value("hotline_consults_total", kind="consult", result="no_answer") == 1
    assert m.value("hotline_consults_total", kind="consult", result="cancelled") == 1


def test_consult_a_queue_rings_the_agent_its_strategy_picks_or_says_nobody_is_free(rig) -> None:
    call_id = caller_with_1001(rig)
    agent_leg = rig.emulator.channels[rig.engine.acd.agent_legs[call_id]]
    me = rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "queue:sales"})
    assert status == 409 and "nobody in it is free" in body["error"]  # 1001 is its only agent, and busy
    status, body = rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "queue:nowhere"})
    assert status == 409 and "no such queue" in body["error"]
    assert rig.emulator.channels[call_id].bridged_to is agent_leg  # nothing happened to the call

    login(rig, "1002")
    mine = rig.feed("1001")
    status, body = rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "queue:sales"})
    assert status == 200 and body["agent"] == "1002"
    assert state(rig, "1002") == "engaged"  # reserved: the queue cannot offer 1002 a call meanwhile
    assert consult_news(mine) == {"call_id": call_id, "target": "queue:sales", "state": "answered"}
    target = wait_until(lambda: agent_leg.bridged_to, what="1001 talking to 1002")
    assert target.name.startswith("sofia/internal/1002@")
    assert rig.api("POST", "/api/agents/1001/call/complete", me)[0] == 200
    wait_until(lambda: rig.emulator.channels[call_id].bridged_to is target, what="caller bridged to 1002")
    rig.emulator.hangup(call_id)
    assert rig.next_call().outcome == "answered"
    log = rig.api("GET", "/api/call-control-log?agent=1001", rig.admin)[1]
    assert [(r["action"], r["detail"], r["result"].split(":")[0]) for r in reversed(log)] == [
        ("consult", "queue:sales", "refused"),
        ("consult", "queue:nowhere", "refused"),
        ("consult", "queue:sales", "ok"),
        ("complete", None, "ok"),
    ]


def test_the_caller_hanging_up_during_a_consultation_releases_everyone(rig) -> None:
    call_id = caller_with_1001(rig)
    agent_leg = rig.emulator.channels[rig.engine.acd.agent_legs[call_id]]
    login(rig, "1002")
    mine, me = rig.feed("1001"), rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/consult", me, {"target": "agent:1002"})
    assert status == 200 and consult_news(mine)["state"] == "answered"
    rig.emulator.hangup(call_id)
    assert rig.next_call().outcome == "answered"
    assert state(rig, "1001") == "wrap_up" and agent_leg.alive  # still talking to 1002
    rig.emulator.hangup(body["leg"])
    assert consult_news(mine)["state"] == "back: cancelled"
    wait_until(lambda: not agent_leg.alive, what="1001's phone released")
    wait_until(lambda: state(rig, "1002") == "wrap_up", what="1002 in wrap-up")


def members(rig, call_id: str) -> set[str]:
    """The channels in the call's mod_conference room (empty once the room is gone)."""
    room = rig.emulator.conferences.rooms.get(f"hotline-{call_id}")
    return {m.channel.uuid for m in room.members.values()} if room else set()


def test_three_way_conference_then_the_agent_leaves_the_other_two_talking(rig) -> None:
    call_id = caller_with_1001(rig)
    caller = rig.emulator.channels[call_id]
    agent_leg = caller.bridged_to
    login(rig, "1002")
    mine, me = rig.feed("1001"), rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/conference", me, {"target": "agent:1002"})
    assert status == 200, body
    assert state(rig, "1002") == "engaged"
    assert consult_news(mine)["state"] == "answered"
    third = rig.emulator.channels[body["leg"]]
    # mod_conference: caller, agent and third party in the call's room, nobody bridged
    wait_until(lambda: members(rig, call_id) == {call_id, agent_leg.uuid, third.uuid}, what="all three in the room")
    assert caller.bridged_to is None and state(rig, "1001") == "on_call"
    status, body = rig.api("POST", "/api/agents/1001/call/complete", me)
    assert status == 409 and "in a conference, not a consult" in body["error"]
    status, body = rig.api("POST", "/api/agents/1001/call/hold", me)
    assert status == 409 and "is in a conference" in body["error"]

    assert rig.api("POST", "/api/agents/1001/call/leave", me)[0] == 200
    wait_until(lambda: not agent_leg.alive, what="1001's leg gone")
    assert members(rig, call_id) == {call_id, third.uuid}  # the other two go on talking
    assert state(rig, "1001") == "wrap_up" and state(rig, "1002") == "engaged"
    third.hangup()  # the third party hangs up: the caller is not left alone in the room
    trace = rig.next_call()
    assert (trace.outcome, trace.agent_id) == ("answered", "1001")
    assert not caller.alive and members(rig, call_id) == set()
    wait_until(lambda: state(rig, "1002") == "wrap_up", what="1002 in wrap-up")
    assert rig.engine.metrics.value("hotline_consults_total", kind="conference", result="completed") == 1
    with rig.engine.sessions() as s:
        cdr = s.scalars(select(Call).where(Call.uuid == call_id)).one()
        assert (str(cdr.outcome), cdr.agent_id) == ("answered", "1001")


def test_the_agent_drops_the_third_party_or_ends_the_conference_for_everyone(rig) -> None:
    call_id = caller_with_1001(rig)
    caller = rig.emulator.channels[call_id]
    agent_leg = caller.bridged_to
    me = rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/conference", me, {"target": f"number:{CUSTOMER}"})
    assert status == 200
    third = wait_until(lambda: rig.emulator.channels.get(body["leg"]), what="the third party rung")
    wait_until(lambda: third.uuid in members(rig, call_id), what="the third party in the room")
    assert rig.api("POST", "/api/agents/1001/call/cancel", me)[0] == 200  # drop the third party
    assert not third.alive
    assert members(rig, call_id) == {call_id, agent_leg.uuid}  # caller and agent stay in their room
    assert state(rig, "1001") == "on_call"
    status, body = rig.api("POST", "/api/agents/1001/call/conference", me, {"target": f"number:{CUSTOMER}"})
    assert status == 200, body
    third = wait_until(lambda: rig.emulator.channels.get(body["leg"]), what="the third party rung again")
    wait_until(lambda: third.uuid in members(rig, call_id), what="the third party in the room again")
    assert rig.api("POST", "/api/agents/1001/call/hangup", me)[0] == 200  # the end, for everyone
    trace = rig.next_call()
    assert (trace.outcome, trace.agent_id) == ("answered", "1001")
    wait_until(lambda: not (caller.alive or agent_leg.alive or third.alive), what="all three legs gone")
    wait_until(lambda: state(rig, "1001") == "wrap_up", what="1001 in wrap-up")
    log = rig.api("GET", "/api/call-control-log?agent=1001", rig.admin)[1]
    assert [r["action"] for r in reversed(log)] == ["conference", "cancel", "conference", "hangup"]


def test_the_caller_hanging_up_ends_the_conference_and_the_call_is_stored(rig) -> None:
    call_id = caller_with_1001(rig)
    agent_leg = rig.emulator.channels[call_id].bridged_to
    login(rig, "1002")
    mine, me = rig.feed("1001"), rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/conference", me, {"target": "agent:1002"})
    assert status == 200 and consult_news(mine)["state"] == "answered"
    third = rig.emulator.channels[body["leg"]]
    wait_until(lambda: len(members(rig, call_id)) == 3, what="all three in the room")
    rig.emulator.hangup(call_id)
    trace = rig.next_call()
    assert (trace.outcome, trace.agent_id) == ("answered", "1001")
    wait_until(lambda: not (agent_leg.alive or third.alive), what="the room ended for everyone")
    wait_until(lambda: state(rig, "1001") == "wrap_up" and state(rig, "1002") == "wrap_up", what="both wrap up")
    with rig.engine.sessions() as s:
        assert s.scalars(select(Interaction).where(Interaction.call_uuid == call_id)).one().agent_id == "1001"
    actions = [e.get("Action") for e in rig.emulator.switch.log if e.get("Event-Subclass") == "conference::maintenance"]
    assert actions == ["conference-create", *["add-member"] * 3, *["del-member"] * 3, "conference-destroy"]


def test_the_agent_hanging_up_their_phone_in_a_conference_leaves_it(rig) -> None:
    call_id = caller_with_1001(rig)
    caller = rig.emulator.channels[call_id]
    agent_leg = caller.bridged_to
    mine, me = rig.feed("1001"), rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/conference", me, {"target": f"number:{CUSTOMER}"})
    assert status == 200 and consult_news(mine)["state"] == "answered"
    third = rig.emulator.channels[body["leg"]]
    agent_leg.hangup()  # with a third party in the room: as leave
    wait_until(lambda: state(rig, "1001") == "wrap_up", what="1001 in wrap-up")
    wait_until(lambda: members(rig, call_id) == {call_id, third.uuid}, what="caller and third party still in the room")
    assert rig.engine.metrics.value("hotline_consults_total", kind="conference", result="completed") == 1
    third.hangup()
    assert rig.next_call().agent_id == "1001" and not caller.alive


def test_the_agent_hanging_up_alone_with_the_caller_in_the_room_ends_the_call(rig) -> None:
    call_id = caller_with_1001(rig)
    caller = rig.emulator.channels[call_id]
    agent_leg = caller.bridged_to
    me = rig.agent_tokens["1001"]
    status, body = rig.api("POST", "/api/agents/1001/call/conference", me, {"target": f"number:{CUSTOMER}"})
    assert status == 200, body
    wait_until(lambda: body["leg"] in members(rig, call_id), what="the third party in the room")
    assert rig.api("POST", "/api/agents/1001/call/cancel", me)[0] == 200
    agent_leg.hangup()  # caller alone in the room: the call ends
    trace = rig.next_call()
    assert (trace.outcome, trace.agent_id, caller.alive) == ("answered", "1001", False)
