"""Scenario tests for engine.acd.core.Acd."""

from __future__ import annotations

from typing import TypeVar

import pytest

from engine.acd import commands
from engine.acd.core import Acd, UnknownAgent, UnknownQueue
from engine.acd.model import Agent, AgentSkill, EscalationStep, QueueConfig, Strategy
from engine.acd.states import AgentState, CallState, IllegalTransition
from engine.acd.strategies import QueueChoice

T = TypeVar("T")


def of(kind: type[T], out: list[commands.Command]) -> list[T]:
    return [c for c in out if isinstance(c, kind)]


def make(
    *queues: QueueConfig,
    agents: dict[str, dict[str, int]],
    login: bool = True,
    queue_choice: QueueChoice = QueueChoice.LONGEST_WAITING,
) -> Acd:
    acd = Acd(queue_choice=queue_choice)
    for queue in queues:
        acd.configure_queue(queue, 0)
    for order, (agent_id, skills) in enumerate(agents.items()):
        acd.add_agent(Agent(agent_id, skills, contact=f"user/{agent_id}", order=order))
        if login:
            acd.agent_login(agent_id, 0)
    return acd


def state(acd: Acd, agent_id: str) -> AgentState:
    return acd.snapshot().agents[agent_id].state


SALES = QueueConfig("sales", "sales", min_level=5)


def test_offer_goes_only_to_an_agent_with_the_skill_at_min_level() -> None:
    acd = make(SALES, agents={"low": {"sales": 4}, "other": {"support": 9}, "good": {"sales": 5}})
    out = acd.enqueue("c1", "sales", 0, 1)
    [offer] = of(commands.Offer, out)
    assert (offer.agent_id, offer.call_id, offer.queue, offer.timeout_seconds, offer.contact) == (
        "good",
        "c1",
        "sales",
        20.0,
        "user/good",
    )
    assert commands.AgentStateChanged("good", AgentState.READY, AgentState.RESERVED, "", 1) in out
    assert of(commands.Offer, acd.enqueue("c2", "sales", 0, 2)) == []
    assert acd.position("c2") == 1


def test_calls_are_served_priority_first_then_longest_waiting() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}, "b": {"sales": 5}, "c": {"sales": 5}}, login=False)
    acd.enqueue("old-low", "sales", 0, 1)
    acd.enqueue("new-high", "sales", 5, 2)
    acd.enqueue("newer-low", "sales", 0, 3)
    assert [acd.position(c) for c in ("new-high", "old-low", "newer-low")] == [1, 2, 3]
    served = [of(commands.Offer, acd.agent_login(a, 4))[0].call_id for a in ("a", "b", "c")]
    assert served == ["new-high", "old-low", "newer-low"]


def test_no_answer_returns_the_call_to_the_head_and_delays_the_agent() -> None:
    queue = QueueConfig("sales", "sales", no_answer_delay_seconds=10, max_no_answer=2)
    acd = make(queue, agents={"a": {"sales": 5}})
    first = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    acd.enqueue("c2", "sales", 0, 1)
    out = acd.offer_failed(first.offer_id, "no_answer", 5)
    assert of(commands.Offer, out) == []
    assert acd.position("c1") == 1 and acd.position("c2") == 2
    snap = acd.snapshot()
    assert snap.calls["c1"].enqueued_at == 0
    assert (snap.agents["a"].state, snap.agents["a"].available_at, snap.agents["a"].no_answer_count) == (
        AgentState.READY,
        15,
        1,
    )
    assert of(commands.Offer, acd.tick(14.9)) == []
    second = of(commands.Offer, acd.tick(15))[0]
    assert second.call_id == "c1"
    out = acd.offer_failed(second.offer_id, "no_answer", 20)
    assert commands.AgentStateChanged("a", AgentState.RESERVED, AgentState.BREAK, "no_answer", 20) in out
    assert acd.snapshot().agents["a"].reason == "no_answer"
    assert acd.position("c1") == 1
    out = acd.agent_ready("a", 30)
    assert of(commands.Offer, out)[0].call_id == "c1"
    assert acd.snapshot().agents["a"].no_answer_count == 0


def test_a_bridge_that_does_not_form_requeues_the_call_at_the_head_and_frees_the_agent() -> None:
    queue = QueueConfig("sales", "sales", failed_delay_seconds=45, wrap_up_seconds=30)
    acd = make(queue, agents={"a": {"sales": 5}, "b": {"sales": 5}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    acd.enqueue("c2", "sales", 0, 1)  # rung at the other agent
    out = acd.offer_answered(offer.offer_id, 2)
    assert of(commands.Bridge, out) and acd.snapshot().stats["sales"].answered == 1
    acd.enqueue("c3", "sales", 0, 3)
    out = acd.bridge_failed("c1", 4)
    agent, call = acd.snapshot().agents[offer.agent_id], acd.snapshot().calls["c1"]
    assert commands.AgentStateChanged(offer.agent_id, AgentState.ON_CALL, AgentState.READY, "bridge_failed", 4) in out
    assert (agent.call_id, agent.available_at) == (None, 49)  # no wrap-up; held out for the failed delay
    assert (call.state, call.agent_id, call.enqueued_at) == (CallState.QUEUED, None, 0)
    assert acd.position("c1") == 1 and acd.position("c3") == 2
    assert acd.snapshot().stats["sales"].answered == 0
    assert acd.bridge_failed("c1", 5) == [] and acd.bridge_failed("gone", 5) == []  # only a bridged call


def test_consult_agent_is_the_queue_strategys_free_pick_and_changes_nothing() -> None:
    queue = QueueConfig("sales", "sales", strategy=Strategy.MOST_SKILLED)
    acd = make(queue, agents={"me": {"sales": 9}, "low": {"sales": 3}, "high": {"sales": 7}})
    before = acd.snapshot()
    assert acd.consult_agent("sales", exclude="me") == "high"  # most skilled, never the consulting agent
    assert acd.snapshot() == before
    acd.engage("high", "consult", 1)
    assert acd.consult_agent("sales", exclude="me") == "low"
    acd.agent_break("low", "lunch", 2)
    assert acd.consult_agent("sales", exclude="me") is None
    with pytest.raises(UnknownQueue):
        acd.consult_agent("nowhere", exclude="me")


@pytest.mark.parametrize(("reason", "delay"), [("busy", 30), ("rejected", 7), ("failed", 45)])
def test_busy_reject_and_failure_delays(reason: str, delay: float) -> None:
    queue = QueueConfig(
        "sales", "sales", busy_delay_seconds=30, reject_delay_seconds=7, failed_delay_seconds=45, max_no_answer=1
    )
    acd = make(queue, agents={"a": {"sales": 5}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    acd.offer_failed(offer.offer_id, reason, 1)
    agent = acd.snapshot().agents["a"]
    assert (agent.state, agent.available_at, agent.no_answer_count) == (AgentState.READY, 1 + delay, 0)
    assert of(commands.Offer, acd.tick(1 + delay - 0.1)) == []
    assert of(commands.Offer, acd.tick(1 + delay))[0].call_id == "c1"


def test_rejected_offer_goes_to_the_next_agent() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}, "b": {"sales": 5}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 1))[0]
    assert offer.agent_id == "a"
    assert of(commands.Offer, acd.offer_failed(offer.offer_id, "rejected", 2))[0].agent_id == "b"


def test_bad_failure_reason_is_rejected() -> None:
    acd = make(SALES, agents={})
    with pytest.raises(ValueError, match="reason"):
        acd.offer_failed("offer-1", "gone", 1)


def test_logout_mid_offer_cancels_and_requeues_at_head() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}, "b": {"sales": 5}})
    acd.agent_break("b", "lunch", 0)
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 1))[0]
    acd.enqueue("c2", "sales", 0, 2)
    out = acd.agent_logout("a", 3)
    assert of(commands.CancelOffer, out) == [commands.CancelOffer(offer.offer_id, "c1", "a")]
    assert state(acd, "a") is AgentState.LOGGED_OUT
    assert acd.position("c1") == 1
    assert of(commands.Offer, acd.agent_ready("b", 4))[0].call_id == "c1"


def test_break_mid_offer_cancels_and_requeues() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 1))[0]
    out = acd.agent_break("a", "meeting", 2)
    assert of(commands.CancelOffer, out) == [commands.CancelOffer(offer.offer_id, "c1", "a")]
    assert acd.snapshot().agents["a"].reason == "meeting"
    assert acd.snapshot().calls["c1"].state is CallState.QUEUED


def test_hangup_while_queued_is_an_abandon() -> None:
    acd = make(SALES, agents={})
    acd.enqueue("c1", "sales", 0, 1)
    assert acd.call_ended("c1", 9) == [commands.CallAbandoned("c1", "sales", 8)]
    assert acd.queue_status("sales", 9).stats.abandoned == 1
    assert acd.call_ended("c1", 10) == []


def test_hangup_while_offering_cancels_and_frees_the_agent_for_the_next_call() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 1))[0]
    acd.enqueue("c2", "sales", 0, 2)
    out = acd.call_ended("c1", 3)
    assert commands.CancelOffer(offer.offer_id, "c1", "a") in out
    assert commands.CallAbandoned("c1", "sales", 2) in out
    assert of(commands.Offer, out)[0].call_id == "c2"
    assert acd.snapshot().agents["a"].available_at <= 3


def test_hangup_while_bridged_puts_the_agent_in_wrap_up_which_expires() -> None:
    acd = make(QueueConfig("sales", "sales", wrap_up_seconds=10), agents={"a": {"sales": 5}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    out = acd.offer_answered(offer.offer_id, 2)
    assert of(commands.Bridge, out) == [commands.Bridge("c1", "a", offer.offer_id)]
    assert state(acd, "a") is AgentState.ON_CALL
    acd.enqueue("c2", "sales", 0, 3)
    out = acd.call_ended("c1", 32)
    assert of(commands.CallAbandoned, out) == []
    agent = acd.snapshot().agents["a"]
    assert (agent.state, agent.calls_handled, agent.talk_seconds, agent.last_call_ended_at) == (
        AgentState.WRAP_UP,
        1,
        30,
        32,
    )
    assert of(commands.Offer, acd.tick(41.9)) == []
    out = acd.tick(42)
    assert commands.AgentStateChanged("a", AgentState.WRAP_UP, AgentState.READY, "", 42) in out
    assert of(commands.Offer, out)[0].call_id == "c2"
    assert acd.average_handle_time("sales") == 40


def test_wrap_up_can_end_early_and_zero_wrap_up_skips_it() -> None:
    acd = make(
        QueueConfig("sales", "sales", wrap_up_seconds=60),
        QueueConfig("fast", "fast", wrap_up_seconds=0),
        agents={"a": {"sales": 5, "fast": 5}},
    )
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    acd.offer_answered(offer.offer_id, 1)
    acd.call_ended("c1", 5)
    acd.end_wrap_up("a", 6)
    assert state(acd, "a") is AgentState.READY
    with pytest.raises(IllegalTransition):
        acd.end_wrap_up("a", 7)
    offer = of(commands.Offer, acd.enqueue("c2", "fast", 0, 8))[0]
    acd.offer_answered(offer.offer_id, 9)
    out = acd.call_ended("c2", 10)
    assert [(c.old, c.new) for c in of(commands.AgentStateChanged, out)] == [
        (AgentState.ON_CALL, AgentState.WRAP_UP),
        (AgentState.WRAP_UP, AgentState.READY),
    ]


def test_escalation_lowers_the_level_then_adds_skills_then_overflows() -> None:
    escalation = (
        EscalationStep(30, min_level=3),
        EscalationStep(60, extra_skills=(AgentSkill("general", 2),)),
        EscalationStep(90, overflow_queue="backup"),
    )
    acd = make(
        QueueConfig("backup", "backup", min_level=4),
        QueueConfig("sales", "sales", min_level=8, escalation=escalation),
        agents={"mid": {"sales": 3}, "gen": {"general": 2}, "bak": {"backup": 4}},
    )
    acd.enqueue("c1", "sales", 0, 0)
    acd.enqueue("c2", "sales", 0, 0.5)
    acd.enqueue("c3", "sales", 0, 1)
    assert of(commands.Offer, acd.tick(29.9)) == []
    [offer] = of(commands.Offer, acd.tick(30))
    assert (offer.call_id, offer.agent_id) == ("c1", "mid")
    acd.offer_answered(offer.offer_id, 31)
    [offer] = of(commands.Offer, acd.tick(60.5))
    assert (offer.call_id, offer.agent_id) == ("c2", "gen")
    acd.offer_answered(offer.offer_id, 61)
    assert [(o.call_id, o.agent_id) for o in of(commands.Offer, acd.tick(91))] == [("c3", "bak")]


def test_escalation_needs_a_configured_overflow_queue() -> None:
    acd = Acd()
    with pytest.raises(UnknownQueue, match="overflow_queue"):
        acd.configure_queue(QueueConfig("q", "s", escalation=(EscalationStep(5, overflow_queue="nope"),)), 0)


def test_max_wait_exit_and_exit_after_a_failed_offer() -> None:
    queue = QueueConfig("sales", "sales", max_wait_seconds=60, exit_target="voicemail")
    acd = make(queue, agents={"a": {"sales": 5}}, login=False)
    acd.enqueue("c1", "sales", 0, 0)
    assert acd.tick(59) == []
    assert acd.tick(61) == [commands.QueueExit("c1", "sales", "max_wait", "voicemail", 0)]
    assert acd.queue_status("sales", 61).stats.exited == 1
    acd.enqueue("c2", "sales", 0, 100)
    offer = of(commands.Offer, acd.agent_login("a", 150))[0]
    assert of(commands.QueueExit, acd.tick(165)) == []
    out = acd.offer_failed(offer.offer_id, "no_answer", 170)
    assert of(commands.QueueExit, out) == [commands.QueueExit("c2", "sales", "max_wait", "voicemail", 100)]


def test_reset_fails_offers_requeues_and_keeps_only_confirmed_bridges() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}, "b": {"sales": 5}, "c": {"sales": 5}})
    o1 = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    o2 = of(commands.Offer, acd.enqueue("c2", "sales", 0, 1))[0]
    o3 = of(commands.Offer, acd.enqueue("c3", "sales", 0, 2))[0]
    acd.offer_answered(o2.offer_id, 3)
    acd.offer_answered(o3.offer_id, 3)
    out = acd.reset(10)
    assert commands.CancelOffer(o1.offer_id, "c1", o1.agent_id) in out
    reoffer = of(commands.Offer, out)
    assert [(o.call_id, o.agent_id) for o in reoffer] == [("c1", o1.agent_id)]
    assert acd.snapshot().agents[o1.agent_id].no_answer_count == 0
    assert acd.confirm_bridged("c2") and not acd.confirm_bridged("c1") and not acd.confirm_bridged("zz")
    assert of(commands.AgentStateChanged, acd.tick(19.9)) == []
    out = acd.tick(20)
    assert [(c.agent_id, c.new) for c in of(commands.AgentStateChanged, out)] == [(o3.agent_id, AgentState.WRAP_UP)]
    assert set(acd.snapshot().calls) == {"c1", "c2"}


def test_ring_all_rings_everyone_and_the_first_answer_wins() -> None:
    acd = make(
        QueueConfig("help", "help", strategy=Strategy.RING_ALL),
        agents={"a": {"help": 1}, "b": {"help": 1}, "c": {"help": 1}},
    )
    offers = of(commands.Offer, acd.enqueue("c1", "help", 0, 1))
    assert sorted(o.agent_id for o in offers) == ["a", "b", "c"]
    out = acd.offer_failed(offers[0].offer_id, "no_answer", 2)
    assert acd.snapshot().calls["c1"].state is CallState.OFFERING
    out = acd.offer_answered(offers[1].offer_id, 3)
    last = offers[2]
    assert of(commands.CancelOffer, out) == [commands.CancelOffer(last.offer_id, "c1", last.agent_id)]
    assert state(acd, offers[2].agent_id) is AgentState.READY
    assert acd.offer_answered(offers[2].offer_id, 4) == []


def test_an_offer_nobody_reports_on_is_failed_after_its_timeout() -> None:
    acd = Acd(offer_grace_seconds=5)
    acd.configure_queue(QueueConfig("sales", "sales", ring_timeout_seconds=20, no_answer_delay_seconds=1), 0)
    acd.add_agent(Agent("a", {"sales": 1}))
    acd.agent_login("a", 0)
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    assert acd.tick(24.9) == []
    out = acd.tick(25)
    assert commands.CancelOffer(offer.offer_id, "c1", "a") in out
    assert acd.snapshot().agents["a"].no_answer_count == 1
    assert of(commands.Offer, acd.tick(26))[0].call_id == "c1"


def test_queue_status_position_and_estimated_wait() -> None:
    acd = make(QueueConfig("sales", "sales", wrap_up_seconds=20), agents={"a": {"sales": 5}, "b": {"sales": 5}})
    for n, agent in enumerate("ab"):
        offer = of(commands.Offer, acd.enqueue(f"h{n}", "sales", 0, 0))[0]
        assert offer.agent_id == agent
        acd.offer_answered(offer.offer_id, 0)
    acd.call_ended("h0", 100)
    acd.end_wrap_up("a", 110)
    assert acd.average_handle_time("sales") == 110
    offer = of(commands.Offer, acd.enqueue("h2", "sales", 0, 120))[0]
    acd.offer_answered(offer.offer_id, 121)
    for n in range(3):
        acd.enqueue(f"w{n}", "sales", 0, 130 + n)
    status = acd.queue_status("sales", 140)
    assert (status.waiting, status.bridged, status.longest_wait) == (3, 2, 10)
    assert status.agents[AgentState.ON_CALL] == 2
    assert [acd.position(f"w{n}") for n in range(3)] == [1, 2, 3]
    assert acd.estimated_wait("w2") == 3 * 110 / 2
    assert acd.position("h2") is None and acd.estimated_wait("h2") is None
    assert acd.agents_by_state()[AgentState.ON_CALL] == ["a", "b"]


def test_longest_predicted_wait_prefers_the_more_backlogged_queue() -> None:
    queues = (QueueConfig("q1", "s1", wrap_up_seconds=0), QueueConfig("q2", "s2", wrap_up_seconds=0))
    acd = make(
        *queues,
        agents={"x": {"s1": 1, "s2": 1}, "y": {"s1": 1}, "z": {"s2": 1}},
        queue_choice=QueueChoice.LONGEST_PREDICTED_WAIT,
    )
    for call_id, queue, agent in (("h1", "q1", "x"), ("h2", "q1", "y"), ("h3", "q2", "z")):
        offer = of(commands.Offer, acd.enqueue(call_id, queue, 0, 0))[0]
        assert offer.agent_id == agent
        acd.offer_answered(offer.offer_id, 0)
    acd.call_ended("h2", 10)
    acd.call_ended("h3", 10)
    acd.agent_break("y", "lunch", 10)
    acd.agent_break("z", "lunch", 10)
    acd.enqueue("old-q1", "q1", 0, 20)
    acd.enqueue("new-q2a", "q2", 0, 21)
    acd.enqueue("new-q2b", "q2", 0, 22)
    acd.enqueue("new-q2c", "q2", 0, 23)
    out = acd.call_ended("h1", 30)
    assert of(commands.Offer, out)[0].call_id == "new-q2a"


def test_illegal_and_bad_input_errors() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}})
    with pytest.raises(IllegalTransition, match="agent a: event 'login' is not allowed in state 'ready'"):
        acd.agent_login("a", 1)
    with pytest.raises(UnknownAgent):
        acd.agent_ready("nobody", 1)
    with pytest.raises(UnknownQueue):
        acd.enqueue("c1", "nowhere", 0, 1)
    with pytest.raises(ValueError, match="reason"):
        acd.agent_break("a", "", 1)
    acd.enqueue("c1", "sales", 0, 1)
    with pytest.raises(ValueError, match="already"):
        acd.enqueue("c1", "sales", 0, 2)
    with pytest.raises(ValueError, match="earlier"):
        acd.tick(0.5)
    offer = acd.snapshot().agents["a"].offer_id
    acd.offer_answered(offer, 2)
    with pytest.raises(IllegalTransition):
        acd.agent_logout("a", 3)
    with pytest.raises(ValueError, match="logged_out"):
        acd.add_agent(Agent("b", {}, state=AgentState.READY))


def test_remove_agent_logs_out_first_and_views_are_copies() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 1))[0]
    snap = acd.snapshot()
    snap.agents["a"].state = AgentState.BREAK
    assert state(acd, "a") is AgentState.RESERVED
    out = acd.remove_agent("a", 2)
    assert commands.CancelOffer(offer.offer_id, "c1", "a") in out
    assert "a" not in acd.snapshot().agents
    assert acd.queue_status("sales", 2).waiting == 1


def test_configure_queues_orders_overflow_targets_first_and_resolves_cycles() -> None:
    acd = Acd()
    configs = [
        QueueConfig("a", "s", escalation=(EscalationStep(5, overflow_queue="b"),)),
        QueueConfig("b", "t", escalation=(EscalationStep(5, overflow_queue="c"),)),
        QueueConfig("c", "u", escalation=(EscalationStep(5, overflow_queue="b"),)),
    ]
    acd.configure_queues(configs, 0)
    assert acd.snapshot().queues == {c.name: c for c in configs}  # full settings, cycle b<->c included
    with pytest.raises(UnknownQueue, match="'nope' is not configured"):
        acd.configure_queues([QueueConfig("d", "s", escalation=(EscalationStep(5, overflow_queue="nope"),))], 1)


def test_a_caller_who_abandoned_and_calls_back_in_time_resumes_their_place() -> None:
    queue = QueueConfig("sales", "sales", resume_seconds=60, escalation=(EscalationStep(30, min_level=1),))
    acd = make(queue, agents={"a": {"sales": 5}}, login=False)
    acd.enqueue("c1", "sales", 0, 0, caller="+1")
    acd.enqueue("c2", "sales", 0, 10, caller="+2")
    acd.call_ended("c1", 20)  # abandoned after 20 s
    acd.enqueue("c3", "sales", 0, 50, caller="+1")  # back 30 s later: ahead of c2, escalated (waited 50 s)
    calls = acd.snapshot().calls
    assert (calls["c3"].enqueued_at, calls["c3"].resumed, calls["c3"].escalation) == (0, True, 1)
    assert acd.position("c3") == 1 and acd.position("c2") == 2
    assert [o.call_id for o in of(commands.Offer, acd.agent_login("a", 51))] == ["c3"]
    acd.call_ended("c2", 60)
    acd.enqueue("c4", "sales", 0, 200, caller="+2")  # too late: a new arrival
    assert acd.snapshot().calls["c4"].resumed is False


def test_resume_is_off_by_default_and_per_queue() -> None:
    acd = make(QueueConfig("sales", "sales"), agents={}, login=False)
    acd.enqueue("c1", "sales", 0, 0, caller="+1")
    acd.call_ended("c1", 5)
    acd.enqueue("c2", "sales", 0, 6, caller="+1")
    assert acd.snapshot().calls["c2"].enqueued_at == 6


def test_caller_leaves_the_queue_by_choice_withdrawing_a_ringing_offer() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    out = acd.leave("c1", "callback", 3)
    assert out == [
        commands.CancelOffer(offer.offer_id, "c1", "a"),
        commands.AgentStateChanged("a", AgentState.RESERVED, AgentState.READY, "cancelled", 3),
        commands.QueueExit("c1", "sales", "caller", "callback", 0),
    ]
    assert acd.queue_status("sales", 3).stats.exited == 1 and state(acd, "a") is AgentState.READY
    assert acd.leave("c1", "callback", 4) == []  # no longer held: ignored


# ---- keep-your-place callbacks ---------------------------------------------------------------

CALLBACKS = QueueConfig("sales", "sales", callback_attempts=2, callback_retry_seconds=60)


def test_a_callback_keeps_its_place_and_counts_for_the_callers_behind() -> None:
    acd = make(CALLBACKS, agents={"a": {"sales": 5}}, login=False)
    acd.enqueue("first", "sales", 0, 0)
    acd.enqueue("second", "sales", 0, 5)
    acd.leave("first", "callback", 10)
    out = acd.add_callback("cb-1", "sales", 0, 0, 12, caller="13900000001")
    assert of(commands.CallbackChanged, out) == [commands.CallbackChanged("cb-1", "sales", "pending", 0, None)]
    assert acd.position("cb-1") == 1 and acd.position("second") == 2
    status = acd.queue_status("sales", 12)
    assert (status.waiting, status.callbacks) == (1, 1)


def test_the_agent_is_reserved_first_then_the_customer_is_dialled_and_bridged() -> None:
    acd = make(CALLBACKS, agents={"a": {"sales": 5}}, login=False)
    acd.add_callback("cb-1", "sales", 0, 0, 1)
    acd.enqueue("live", "sales", 0, 2)
    [offer] = of(commands.Offer, acd.agent_login("a", 3))
    assert offer.call_id == "cb-1"
    out = acd.offer_answered(offer.offer_id, 4)
    assert of(commands.Bridge, out) == []
    assert of(commands.DialCallback, out) == [commands.DialCallback("cb-1", "a", offer.offer_id, "sales", 1)]
    assert acd.snapshot().calls["cb-1"].state is CallState.DIALLING and state(acd, "a") is AgentState.ON_CALL
    assert acd.position("cb-1") is None
    acd.callback_connected("cb-1", 6)
    assert acd.snapshot().calls["cb-1"].state is CallState.BRIDGED
    out = acd.call_ended("cb-1", 30)
    assert of(commands.CallbackChanged, out)[0].status == "completed"
    stats = acd.queue_status("sales", 30).stats
    assert (stats.answered, stats.completed, stats.talk_seconds) == (1, 1, 24)


def test_an_unreached_customer_is_retried_at_the_same_place_then_given_up() -> None:
    acd = make(CALLBACKS, agents={"a": {"sales": 5}})
    [offer] = of(commands.Offer, acd.add_callback("cb-1", "sales", 0, 0, 1))
    acd.offer_answered(offer.offer_id, 2)
    acd.enqueue("behind", "sales", 0, 3)
    out = acd.callback_failed("cb-1", 10)
    assert state(acd, "a") is AgentState.RESERVED  # ready at once, no delay: takes the caller behind
    assert [o.call_id for o in of(commands.Offer, out)] == ["behind"]
    assert of(commands.CallbackChanged, out) == [commands.CallbackChanged("cb-1", "sales", "retry", 1, None)]
    assert acd.snapshot().calls["cb-1"].state is CallState.RETRY_WAIT and acd.position("cb-1") is None
    acd.agent_break("a", "lunch", 11)  # "behind" goes back to the head of the queue
    acd.enqueue("later", "sales", 0, 20)
    out = acd.tick(70)
    assert of(commands.CallbackChanged, out)[0].status == "pending"
    assert [acd.position(c) for c in ("cb-1", "behind", "later")] == [1, 2, 3]  # back at its old place
    [again] = of(commands.Offer, acd.agent_ready("a", 71))
    assert again.call_id == "cb-1"
    [dial] = of(commands.DialCallback, acd.offer_answered(again.offer_id, 72))
    assert dial.attempt == 2
    out = acd.callback_failed("cb-1", 80)
    assert of(commands.QueueExit, out) == [commands.QueueExit("cb-1", "sales", "callback_failed", "ticket", 0)]
    assert of(commands.CallbackChanged, out)[0].status == "failed"
    assert "cb-1" not in acd.snapshot().calls


def test_cancel_and_illegal_callback_events() -> None:
    acd = make(CALLBACKS, agents={"a": {"sales": 5}})
    [offer] = of(commands.Offer, acd.add_callback("cb-1", "sales", 0, 0, 1))
    with pytest.raises(IllegalTransition):
        acd.callback_connected("cb-1", 2)  # the agent has not answered: nobody is dialled
    with pytest.raises(IllegalTransition):
        acd.call_ended("cb-1", 2)  # a kept place has no line to hang up
    out = acd.cancel_callback("cb-1", 3)
    assert of(commands.CancelOffer, out) and of(commands.QueueExit, out)[0].reason == "cancelled"
    assert state(acd, "a") is AgentState.READY
    [offer] = of(commands.Offer, acd.add_callback("cb-2", "sales", 0, 0, 4))
    acd.offer_answered(offer.offer_id, 5)
    with pytest.raises(IllegalTransition):
        acd.cancel_callback("cb-2", 6)  # being dialled
    assert acd.cancel_callback("gone", 6) == []


def test_a_restored_callback_waits_for_its_retry_time() -> None:
    acd = make(CALLBACKS, agents={"a": {"sales": 5}})
    out = acd.add_callback("cb-1", "sales", 2, 0, 10, attempts=1, retry_at=40)
    assert of(commands.Offer, out) == [] and acd.snapshot().calls["cb-1"].attempts == 1
    [offer] = of(commands.Offer, acd.tick(40))
    assert offer.call_id == "cb-1"


def test_an_engaged_agent_is_never_offered_a_call_and_wraps_up_after() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}})
    out = acd.engage("a", "dial", 1)
    assert out == [commands.AgentStateChanged("a", AgentState.READY, AgentState.ENGAGED, "dial", 1)]
    assert of(commands.Offer, acd.enqueue("c1", "sales", 0, 2)) == []
    with pytest.raises(IllegalTransition, match="'logout' is not allowed in state 'engaged'"):
        acd.agent_logout("a", 3)
    with pytest.raises(IllegalTransition):
        acd.engage("a", "consult", 3)
    out = acd.engaged_call_ended("a", 10, 4)
    assert of(commands.AgentStateChanged, out)[0].new is AgentState.WRAP_UP
    assert of(commands.Offer, acd.tick(13.9)) == []
    [offer] = of(commands.Offer, acd.tick(14))  # wrap-up over: the waiting call is offered
    assert offer.agent_id == "a"


def test_only_a_ready_agent_can_be_consulted_and_engage_names_its_reason() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}})
    acd.agent_break("a", "lunch", 1)
    with pytest.raises(IllegalTransition):
        acd.engage("a", "consult", 2)
    acd.engage("a", "dial", 2)  # an agent on break may still place a call of their own
    with pytest.raises(ValueError, match="'chat' is not one of dial, consult"):
        acd.engage("a", "chat", 3)
    acd.engaged_call_ended("a", 0, 3)
    assert state(acd, "a") is AgentState.READY  # no wrap-up: ready at once
    with pytest.raises(IllegalTransition):
        acd.engaged_call_ended("a", 0, 4)


def test_a_caller_gone_before_the_bridge_ends_the_call_and_frees_the_agent_at_once() -> None:
    """The answer never became a bridge because the caller went: abandoned, never offered again;
    the agent is ready with no failed delay (contrast bridge_failed) and takes the next call."""
    queue = QueueConfig("sales", "sales", failed_delay_seconds=30, wrap_up_seconds=60)
    acd = make(queue, agents={"a": {"sales": 5}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    acd.enqueue("c2", "sales", 0, 1)
    acd.offer_answered(offer.offer_id, 2)
    out = acd.caller_gone("c1", 3)
    assert of(commands.CallAbandoned, out) == [commands.CallAbandoned("c1", "sales", 3)]
    assert commands.AgentStateChanged("a", AgentState.ON_CALL, AgentState.READY, "caller_gone", 3) in out
    assert [o.call_id for o in of(commands.Offer, out)] == ["c2"]  # at once: no delay, no wrap-up
    stats = acd.snapshot().stats["sales"]
    assert (stats.answered, stats.abandoned, stats.completed) == (0, 1, 0)
    assert acd.caller_gone("c1", 4) == [] and acd.call_ended("c1", 4) == []  # late reports: ignored
    with pytest.raises(ValueError, match="caller's channel is gone"):
        acd.enqueue("c1", "sales", 0, 5)


def test_a_caller_gone_while_ringing_withdraws_the_offer_without_penalty() -> None:
    acd = make(SALES, agents={"a": {"sales": 5}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    out = acd.caller_gone("c1", 1)
    assert of(commands.CancelOffer, out) == [commands.CancelOffer(offer.offer_id, "c1", "a")]
    assert state(acd, "a") is AgentState.READY and acd.snapshot().agents["a"].available_at <= 1
    assert acd.offer_answered(offer.offer_id, 2) == []  # the late answer changes nothing


def test_an_offer_lost_with_the_control_connection_holds_its_agent_until_reset_without_penalty() -> None:
    acd = make(SALES, agents={"a": {"sales": 9}, "b": {"sales": 5}})
    first = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    assert first.agent_id == "a"
    out = acd.offer_lost(first.offer_id, 1)
    assert of(commands.CancelOffer, out) == [commands.CancelOffer(first.offer_id, "c1", "a")]  # kill the leg
    assert commands.AgentStateChanged("a", AgentState.RESERVED, AgentState.READY, "switch_lost", 1) in out
    [again] = of(commands.Offer, out)  # back at the head, to the other agent at once
    assert (again.call_id, again.agent_id) == ("c1", "b")
    assert acd.offer_lost(first.offer_id, 2) == []  # a second report of the same offer changes nothing
    acd.offer_answered(again.offer_id, 2)  # "b" takes c1
    assert of(commands.Offer, acd.enqueue("c2", "sales", 0, 3)) == []  # "a" is offered nothing...
    assert of(commands.Offer, acd.tick(3600)) == []  # ...however long FreeSWITCH stays out of reach
    assert acd.snapshot().agents["a"].no_answer_count == 0
    [after_reset] = [o for o in of(commands.Offer, acd.reset(3601)) if o.call_id == "c2"]
    assert after_reset.agent_id == "a"  # FreeSWITCH back: available again


def test_a_lost_offer_is_forgotten_by_a_fresh_login() -> None:
    acd = make(SALES, agents={"a": {"sales": 9}})
    offer = of(commands.Offer, acd.enqueue("c1", "sales", 0, 0))[0]
    acd.offer_lost(offer.offer_id, 1)
    acd.agent_logout("a", 2)
    assert of(commands.Offer, acd.agent_login("a", 3))[0].call_id == "c1"


def test_timers_of_ended_calls_are_dropped_and_live_ones_still_fire() -> None:
    """Every queued call sets a max-wait timer; calls that end long before it must not keep it (a soak at
    30 calls/s kept 9,000 dead timers), while a call still waiting gets its exit on time."""
    sales = QueueConfig("sales", "sales", max_wait_seconds=300, exit_target="voicemail", wrap_up_seconds=0)
    support = QueueConfig("support", "support", max_wait_seconds=300, exit_target="voicemail")
    acd = make(sales, support, agents={"a1": {"sales": 5}})
    acd.enqueue("waiting", "support", 0, 0)  # nobody has the skill: it waits for its max-wait exit
    peak = 0
    for n in range(5000):
        at = 1 + n * 0.05
        [offer] = of(commands.Offer, acd.enqueue(f"c{n}", "sales", 0, at))
        acd.offer_answered(offer.offer_id, at)
        acd.call_ended(f"c{n}", at)
        peak = max(peak, len(acd._timers))
    assert peak < 300, f"the timer heap grew to {peak} entries with one call waiting"
    assert acd.tick(299.9) == []
    out = acd.tick(300.5)
    assert of(commands.QueueExit, out) == [commands.QueueExit("waiting", "support", "max_wait", "voicemail", 0)]
