"""The whole call path over real TCP between hotline and the FreeSWITCH emulator.

Caller dials the hotline number -> FreeSWITCH hands the call to hotline's socket -> the main flow
recognises the customer and the caller presses 2 -> queued for 'support' -> offered to the agent
(originate to the agent's phone, screen pop on the agent's feed) -> agent answers -> bridged ->
they talk -> caller hangs up -> CDR + CRM interaction stored, metrics counted.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.emulator import Caller, Phone
from engine.store import agents, customers, queues, skills
from engine.store.models import Call, Interaction
from tests.acd_rig import wait_until
from tests.hotline_rig import HOTLINE_NUMBER, seed, start_rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

CALLER = "13900139000"


def _seed(s) -> None:
    for name in ("sales", "support", "billing", "vip"):
        skills.create_skill(s, name)
    for name in ("sales", "support", "billing", "vip"):
        queues.create_queue(s, name, wrap_up_seconds=1, required_skills={name: 1})
    agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"support": 7})
    agents.create_agent(s, "1002", name="Linus", contact="user/1002", skills={"sales": 5})
    customers.create_customer(s, "Ada Lovelace", region="CN", numbers=[CALLER], tier="normal")


@pytest.fixture
def rig(tmp_path, db_url):
    seed(db_url, _seed)
    yield from start_rig(tmp_path, db_url, ["1001", "1002"])


def test_caller_is_routed_by_skill_answered_recorded_and_popped(rig):
    rig.emulator.phones["1001"] = Phone("1001", answer_delay=1.0)
    rig.emulator.phones["1002"] = Phone("1002", answer_delay=1.0)
    rig.ready("1001")
    rig.ready("1002")
    feed = rig.feed("1001")
    other_feed = rig.feed("1002")

    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=30), HOTLINE_NUMBER)
    trace = rig.next_call()

    # -- the CDR and the CRM interaction, as stored
    assert trace.uuid == uuid
    with rig.engine.sessions() as s:
        call = s.scalars(select(Call).where(Call.uuid == uuid)).one()
        interaction = s.scalars(select(Interaction).where(Interaction.call_uuid == uuid)).one()
        customer = customers.find_customer_by_number(s, CALLER, region="CN")
        assert customer is not None
        assert interaction.customer_id == customer.id
    assert call.outcome == "answered"
    assert call.queue == "support" and call.agent_id == "1001"  # the sales agent never rang
    assert call.caller_number == CALLER and call.destination == HOTLINE_NUMBER and call.flow == "main"
    assert call.answered_at <= call.queued_at <= call.offered_at <= call.bridged_at <= call.ended_at
    # talk: bridge to hang-up (docs/acd.md), as the stored times say
    assert call.talk_seconds == pytest.approx((call.ended_at - call.bridged_at).total_seconds(), abs=0.01)
    assert call.hangup_cause == "NORMAL_CLEARING"
    assert interaction.agent_id == "1001" and interaction.queue == "support" and interaction.kind == "inbound"
    assert "main/main_menu" in interaction.ivr_path
    assert "main/greet_customer" in interaction.ivr_path  # the flow's customer lookup found Ada (read at answer)

    # -- the screen pop: on offer, then again on answer, only on that agent's feed
    offer = feed.get(timeout=2)
    while offer["kind"] != "screen_pop":
        offer = feed.get(timeout=2)
    assert offer["data"]["phase"] == "offer"
    assert offer["data"]["caller_number"] == CALLER
    assert offer["data"]["customer_name"] == "Ada Lovelace"
    assert offer["data"]["queue"] == "support"
    answer = feed.get(timeout=2)
    while answer["kind"] != "screen_pop":
        answer = feed.get(timeout=2)
    assert answer["data"]["phase"] == "answer"

    # -- metrics, as Prometheus scrapes them
    status, text = rig.api("GET", "/metrics", rig.admin)
    assert status == 200
    assert 'hotline_calls_total{outcome="answered"} 1.0' in text
    assert 'hotline_queue_offered_total{queue="support"} 1.0' in text
    assert 'hotline_queue_calls_waiting{queue="support"} 0.0' in text
    assert 'hotline_esl_connected{connection="control"} 1.0' in text
    assert 'hotline_offers_total{result="answered"} 1.0' in text
    assert 'hotline_esl_command_seconds_count{command="bgapi originate"} 1.0' in text
    assert 'hotline_screen_pops_total{kind="offer"} 1.0' in text
    # the caller talked with their socket released (FreeSWITCH kept no listener): the hangup came by the relay
    assert 'hotline_outbound_sockets_released_total{result="released"} 1.0' in text
    m = rig.engine.metrics
    assert m.value("hotline_agents", state="wrap_up") + m.value("hotline_agents", state="ready") == 2

    # -- the other agent's feed: a state change published after the call marks how far its delivery got
    # (a feed is delivered in order), so everything before it, and no screen pop, has been read
    assert rig.api("POST", "/api/agents/1002/logout", rig.agent_tokens["1002"])[0] == 200
    seen = [other_feed.get(timeout=5)]
    while not (seen[-1]["kind"] == "agent_state" and seen[-1]["data"]["state"] == "logged_out"):
        seen.append(other_feed.get(timeout=5))
    assert [m for m in seen if m["kind"] == "screen_pop"] == []


def test_second_call_pop_shows_the_first_in_history(rig):
    rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
    rig.ready("1001")
    rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=10), HOTLINE_NUMBER)
    first = rig.next_call()
    feed = rig.feed("1001")
    rig.api("POST", "/api/agents/1001/end_wrap_up", rig.agent_tokens["1001"])
    rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=10), HOTLINE_NUMBER)
    second = rig.next_call()
    assert second.uuid != first.uuid
    message = feed.get(timeout=5)  # the feed may lag the CDR: wait for the second call's first pop
    while not (message["kind"] == "screen_pop" and message["data"]["call_id"] == second.uuid):
        message = feed.get(timeout=5)
    assert message["data"]["last_interactions"][0]["queue"] == "support"


def test_caller_who_hangs_up_in_queue_is_abandoned_and_nobody_stays_reserved(rig):
    rig.emulator.phones["1001"] = Phone("1001", behaviour="no_answer")
    rig.ready("1001")
    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"], patience_seconds=100_000), HOTLINE_NUMBER)
    offered = lambda: any(o.call_id == uuid for o in rig.engine.acd.acd.snapshot().offers.values())  # noqa: E731
    wait_until(offered, what="the call ringing the agent")  # then the caller gives up
    rig.emulator.hangup(uuid)
    trace = rig.next_call()
    assert trace.uuid == uuid and trace.outcome == "abandoned" and trace.queue == "support"
    assert rig.engine.acd.agent_state("1001") in ("ready", "break")  # never left reserved
    with rig.engine.sessions() as s:
        assert s.scalars(select(Call.outcome).where(Call.uuid == uuid)).one() == "abandoned"


def test_agent_api_refuses_other_agents_and_missing_tokens_and_illegal_moves(rig):
    rig.ready("1001")
    status, body = rig.api("POST", "/api/agents/1001/end_wrap_up", rig.agent_tokens["1001"])
    assert status == 409 and "not allowed in state 'ready'" in body["error"]
    assert rig.api("POST", "/api/agents/9999/login", rig.admin)[0] == 404
    assert rig.api("POST", "/api/agents/1001/ready", rig.agent_tokens["1002"])[0] == 403
    assert rig.api("POST", "/api/agents/1001/ready", "nope")[0] == 401
    assert rig.api("GET", "/api/queues", rig.agent_tokens["1001"])[0] == 403
    status, queues_view = rig.api("GET", "/api/queues", rig.admin)
    assert status == 200 and {q["queue"] for q in queues_view} == {"sales", "support", "billing", "vip"}


@pytest.fixture
def relayed(tmp_path, db_url):
    """Three support agents; released callers are carried by three connections."""

    def seeder(s) -> None:
        _seed(s)
        for agent in ("1003", "1004"):
            agents.create_agent(s, agent, name=agent, contact=f"user/{agent}", skills={"support": 5})

    seed(db_url, seeder)
    yield from start_rig(tmp_path, db_url, ["1001", "1003", "1004"], config={"freeswitch": {"relay_connections": 3}})


def test_talking_callers_are_spread_over_the_relay_connections_and_each_is_recorded(relayed):
    """``freeswitch.relay_connections: 3``: each caller's socket is released to the connection following the
    fewest calls, so three talking callers are carried by three connections; their hang-ups come through
    them and each call is recorded once."""
    for agent in ("1001", "1003", "1004"):
        relayed.emulator.phones[agent] = Phone(agent, answer_delay=0.5)
        relayed.ready(agent)
    callers = [relayed.emulator.place_call(Caller(f"1390013900{n}", script=["2"]), HOTLINE_NUMBER) for n in range(3)]
    released = 'hotline_outbound_sockets_released_total{result="released"} 3.0'
    wait_until(lambda: released in relayed.api("GET", "/metrics", relayed.admin)[1], what="three sockets released")
    assert [relay.following for relay in relayed.engine.relays] == [1, 1, 1]
    for uuid in callers:
        relayed.emulator.commands.run("uuid_kill", uuid)
    assert {relayed.next_call().uuid for _ in callers} == set(callers)
    with relayed.engine.sessions() as s:
        rows = s.scalars(select(Call).where(Call.uuid.in_(callers))).all()
    assert sorted((c.outcome, c.hangup_cause) for c in rows) == [("answered", "NORMAL_CLEARING")] * 3
    wait_until(lambda: sum(relay.following for relay in relayed.engine.relays) == 0, what="nothing followed")
