"""After a restart: engine.acd.restore's events (restore_agent, phone_busy, adopt_call) on a real Acd."""

from __future__ import annotations

import pytest

from engine.acd import commands
from engine.acd.core import Acd, UnknownAgent, UnknownQueue
from engine.acd.model import Agent, QueueConfig
from engine.acd.states import AgentState, IllegalTransition

SUPPORT = QueueConfig("support", "support", wrap_up_seconds=5)


def fresh(*agent_ids: str) -> Acd:
    """A restarted engine's ACD: the queue configured, every agent logged out."""
    acd = Acd()
    acd.configure_queue(SUPPORT, 0)
    for order, agent_id in enumerate(agent_ids):
        acd.add_agent(Agent(agent_id, {"support": 5}, contact=f"user/{agent_id}", order=order))
    return acd


def changes(out: list[commands.Command]) -> list[tuple[str, str, str, str]]:
    return [(c.agent_id, c.old, c.new, c.reason) for c in out if isinstance(c, commands.AgentStateChanged)]


def test_an_adopted_call_puts_its_agent_on_call_and_a_new_caller_goes_to_the_free_agent() -> None:
    acd = fresh("a1", "a2")
    out = acd.adopt_call("c1", "support", 3, "a1", enqueued_at=90, bridged_at=95, now=100, caller="+441")
    assert changes(out) == [("a1", "logged_out", "on_call", "adopted")]
    assert not [c for c in out if isinstance(c, commands.Offer | commands.Bridge)]
    acd.restore_agent("a1", "on_call", "", 100)  # the log said on_call: the adoption already decided
    acd.restore_agent("a2", "ready", "", 100)
    assert acd.agent_state("a1") is AgentState.ON_CALL
    offers = [c for c in acd.enqueue("c2", "support", 0, 101) if isinstance(c, commands.Offer)]
    assert [(o.call_id, o.agent_id) for o in offers] == [("c2", "a2")]
    status = acd.queue_status("support", 101)
    assert (status.bridged, status.offering, status.waiting) == (1, 1, 0)


def test_an_adopted_call_ends_like_any_bridged_call_talk_time_from_its_bridge() -> None:
    acd = fresh("a1")
    acd.adopt_call("c1", "support", 0, "a1", enqueued_at=90, bridged_at=95, now=100)
    out = acd.call_ended("c1", 130)
    assert changes(out) == [("a1", "on_call", "wrap_up", "")]
    assert acd.agents()[0].calls_handled == 1
    assert acd.agents()[0].talk_seconds == 35  # 130 - 95: the talk before the restart counts
    assert acd.queue_status("support", 130).stats.completed == 1
    assert acd.queue_status("support", 130).stats.answered == 1
    assert changes(acd.tick(135)) == [("a1", "wrap_up", "ready", "")]


def test_a_waiting_caller_is_not_offered_to_an_agent_whose_phone_is_busy() -> None:
    acd = fresh("a1")
    acd.enqueue("c9", "support", 0, 100)
    out = acd.phone_busy("a1", 100)
    assert changes(out) == [("a1", "logged_out", "engaged", "phone_busy")]
    acd.restore_agent("a1", "ready", "", 100)
    assert acd.agent_state("a1") is AgentState.ENGAGED
    assert not [c for c in acd.tick(200) if isinstance(c, commands.Offer)]
    acd.engaged_call_ended("a1", 0, 210)  # their call ended: the waiting caller is offered at once
    assert acd.agent_state("a1") is AgentState.RESERVED


@pytest.mark.parametrize(
    ("logged", "reason", "expected", "why"),
    [
        ("ready", "", AgentState.READY, "restored"),
        ("reserved", "", AgentState.READY, "restored"),
        ("on_call", "", AgentState.READY, "restored"),
        ("wrap_up", "", AgentState.READY, "restored"),
        ("engaged", "dial", AgentState.READY, "restored"),
        ("break", "lunch", AgentState.BREAK, "lunch"),
        ("logged_out", "", AgentState.LOGGED_OUT, None),
    ],
)
def test_an_agent_comes_back_in_the_state_the_log_kept(
    logged: str, reason: str, expected: AgentState, why: str | None
) -> None:
    acd = fresh("a1")
    out = acd.restore_agent("a1", logged, reason, 10)
    assert acd.agent_state("a1") is expected
    assert changes(out) == ([] if why is None else [("a1", "logged_out", str(expected), why)])


def test_a_restored_agent_takes_the_waiting_caller() -> None:
    acd = fresh("a1")
    acd.enqueue("c1", "support", 0, 5)
    out = acd.restore_agent("a1", "wrap_up", "", 10)
    assert [(o.call_id, o.agent_id) for o in out if isinstance(o, commands.Offer)] == [("c1", "a1")]


def test_restore_leaves_an_agent_who_logged_in_since_the_start_alone() -> None:
    acd = fresh("a1")
    acd.agent_login("a1", 1)
    assert changes(acd.restore_agent("a1", "break", "lunch", 2)) == []
    assert acd.agent_state("a1") is AgentState.READY


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"queue": "nope"}, UnknownQueue),
        ({"agent_id": "nobody"}, UnknownAgent),
        ({"priority": "1"}, ValueError),
        ({"enqueued_at": 99, "bridged_at": 98}, ValueError),
        ({"bridged_at": 101}, ValueError),
        ({"agent_id": "busy"}, IllegalTransition),
        ({"call_id": "c0"}, ValueError),
    ],
)
def test_an_adoption_that_does_not_fit_is_refused_and_changes_nothing(args: dict, error: type) -> None:
    acd = fresh("a1", "busy", "free")
    acd.phone_busy("busy", 100)
    acd.adopt_call("c0", "support", 0, "a1", enqueued_at=1, bridged_at=2, now=100)

    def seen() -> tuple[list[AgentState], int]:
        return [acd.agent_state(a) for a in ("a1", "busy", "free")], acd.queue_status("support", 100).stats.arrived

    before = seen()
    call = {"call_id": "c1", "queue": "support", "priority": 0, "agent_id": "free", "enqueued_at": 90, "bridged_at": 95}
    call.update(args)
    with pytest.raises(error):
        acd.adopt_call(
            call["call_id"], call["queue"], call["priority"], call["agent_id"],
            enqueued_at=call["enqueued_at"], bridged_at=call["bridged_at"], now=100,
        )  # fmt: skip
    assert seen() == before
    acd.adopt_call("c1", "support", 0, "free", enqueued_at=90, bridged_at=95, now=100)  # the fitting one
    assert acd.agent_state("free") is AgentState.ON_CALL


def test_restore_refuses_a_state_it_does_not_know() -> None:
    acd = fresh("a1")
    with pytest.raises(ValueError, match="'asleep' is not an agent state"):
        acd.restore_agent("a1", "asleep", "", 1)
    assert acd.agent_state("a1") is AgentState.LOGGED_OUT
