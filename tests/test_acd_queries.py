"""The ACD's cheap read-only queries (engine/acd/queries.py), and the rule that the runtime never asks for
a whole-state snapshot."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from engine.acd import commands
from engine.acd.core import Acd, UnknownAgent, UnknownQueue
from engine.acd.model import Agent, QueueConfig
from engine.acd.states import AgentState, CallState

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PACKAGES = ("engine/runtime", "engine/campaigns", "engine/api")
WHOLE_STATE = {"snapshot", "agents_by_state"}

SALES = QueueConfig("sales", "sales", min_level=5, wrap_up_seconds=30)
SUPPORT = QueueConfig("support", "support", min_level=5)


def make() -> Acd:
    """ann, bob and eve take sales; cat takes support; dan and bob have skills below the queues' levels;
    eve is logged out."""
    acd = Acd()
    acd.configure_queue(SALES, 0)
    acd.configure_queue(SUPPORT, 0)
    staff = {
        "ann": {"sales": 7},
        "bob": {"sales": 5, "support": 2},
        "cat": {"support": 9},
        "dan": {"sales": 3},
        "eve": {"sales": 9},
    }
    for agent_id, skills in staff.items():
        acd.add_agent(Agent(agent_id, skills, contact=f"user/{agent_id}"))
    for agent_id in ("ann", "bob", "cat", "dan"):
        acd.agent_login(agent_id, 0)
    return acd


def offers(out: list[commands.Command]) -> list[commands.Offer]:
    return [c for c in out if isinstance(c, commands.Offer)]


def test_agent_view_follows_the_agent_through_a_call() -> None:
    acd = make()
    acd.agent_break("bob", "lunch", 1)
    [offer] = offers(acd.enqueue("c1", "sales", 0, 2, caller="+441"))
    assert offer.agent_id == "ann"
    view = acd.agent("ann")
    assert (view.id, view.state, view.state_since, view.contact, view.offer_id, view.call_id) == (
        "ann",
        AgentState.RESERVED,
        2,
        "user/ann",
        offer.offer_id,
        None,
    )
    assert dict(view.skills) == {"sales": 7} and view.level("sales") == 7 and view.level("support") == 0
    acd.offer_answered(offer.offer_id, 3)
    assert acd.agent_state("ann") is AgentState.ON_CALL
    assert acd.agent_call("ann") == "c1"
    assert acd.agent("bob").reason == "lunch"
    acd.call_ended("c1", 10)
    after = acd.agent("ann")
    assert (after.state, after.call_id, after.calls_handled, after.talk_seconds, after.wrap_up_until) == (
        AgentState.WRAP_UP,
        None,
        1,
        7,
        40,
    )
    assert acd.agent_call("ann") is None


def test_unknown_agents_and_queues_are_refused_by_name() -> None:
    acd = make()
    assert acd.has_agent("ann") and not acd.has_agent("zed")
    for ask in (acd.agent, acd.agent_state, acd.agent_call):
        with pytest.raises(UnknownAgent, match="'zed'"):
            ask("zed")
    assert acd.has_queue("sales") and not acd.has_queue("billing")
    with pytest.raises(UnknownQueue, match="'billing'"):
        acd.member_states("billing")
    with pytest.raises(UnknownQueue, match="'billing'"):
        acd.queue_status("billing", 0)


def test_views_cannot_change_the_acd() -> None:
    acd = make()
    acd.enqueue("c1", "support", 0, 1)
    agent, call = acd.agent("cat"), acd.call("c1")
    assert call is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        agent.state = AgentState.READY  # type: ignore[misc]
    with pytest.raises(TypeError):
        agent.skills["sales"] = 10  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.queue = "sales"  # type: ignore[misc]
    status = acd.queue_status("support", 1)
    status.agents[AgentState.READY] = 99
    counts = acd.agent_counts()
    counts[AgentState.READY] = 99
    acd.member_states("support")["cat"] = AgentState.BREAK
    assert acd.agent_state("cat") is AgentState.RESERVED
    assert acd.queue_status("support", 1).agents[AgentState.READY] == 0
    assert acd.agent_counts()[AgentState.READY] == 3
    assert acd.call("c1").queue == "support"  # type: ignore[union-attr]
    assert acd.member_states("support") == {"cat": AgentState.RESERVED}


def test_a_view_is_the_moment_it_was_taken() -> None:
    acd = make()
    before = acd.agent("ann")
    acd.agent_break("ann", "training", 5)
    assert (before.state, before.reason) == (AgentState.READY, "")
    assert (acd.agent("ann").state, acd.agent("ann").reason) == (AgentState.BREAK, "training")


def test_agent_counts_by_state_as_agents_move_and_leave() -> None:
    acd = make()
    expected = dict.fromkeys(AgentState, 0)
    assert acd.agent_counts() == {**expected, AgentState.READY: 4, AgentState.LOGGED_OUT: 1}
    acd.agent_break("dan", "lunch", 1)
    acd.enqueue("c1", "support", 0, 2)  # cat is rung
    assert acd.agent_counts() == {
        **expected,
        AgentState.READY: 2,
        AgentState.BREAK: 1,
        AgentState.RESERVED: 1,
        AgentState.LOGGED_OUT: 1,
    }
    acd.remove_agent("cat", 3)  # the offer is withdrawn: c1 waits (nobody else takes support)
    acd.remove_agent("eve", 3)
    assert acd.agent_counts() == {**expected, AgentState.READY: 2, AgentState.BREAK: 1}


def test_queue_status_counts_only_its_own_calls_and_members() -> None:
    acd = make()
    [first] = offers(acd.enqueue("s1", "sales", 0, 1))  # ann
    acd.offer_answered(first.offer_id, 2)
    offers(acd.enqueue("s2", "sales", 0, 3))  # bob rings
    acd.enqueue("s3", "sales", 0, 4)
    acd.enqueue("s4", "sales", 5, 5)
    [support] = offers(acd.enqueue("p1", "support", 0, 6))  # cat
    acd.offer_answered(support.offer_id, 6)
    status = acd.queue_status("sales", 10)
    assert (status.waiting, status.offering, status.bridged, status.longest_wait) == (2, 1, 1, 6)
    assert {k: v for k, v in status.agents.items() if v} == {
        AgentState.ON_CALL: 1,
        AgentState.RESERVED: 1,
        AgentState.LOGGED_OUT: 1,
    }
    other = acd.queue_status("support", 10)
    assert (other.waiting, other.offering, other.bridged) == (0, 0, 1)
    assert {k: v for k, v in other.agents.items() if v} == {AgentState.ON_CALL: 1}
    acd.call_ended("s3", 11)  # abandoned
    acd.leave("s4", "flow:voicemail", 11)
    acd.call_ended("s1", 12)  # completed: ann in wrap-up
    status = acd.queue_status("sales", 12)
    assert (status.waiting, status.offering, status.bridged, status.longest_wait) == (0, 1, 0, 0)
    assert status.stats.abandoned == 1 and status.stats.exited == 1 and status.stats.completed == 1
    assert status.agents[AgentState.WRAP_UP] == 1


def test_members_and_their_counts_follow_a_reconfigured_queue() -> None:
    acd = make()
    assert acd.member_states("sales") == {
        "ann": AgentState.READY,
        "bob": AgentState.READY,
        "eve": AgentState.LOGGED_OUT,
    }
    acd.configure_queue(QueueConfig("sales", "sales", min_level=3), 1)  # dan now qualifies
    assert acd.member_states("sales")["dan"] is AgentState.READY
    assert acd.queue_status("sales", 1).agents[AgentState.READY] == 3
    acd.configure_queue(QueueConfig("sales", "support", min_level=5), 2)  # now the support skill
    assert acd.member_states("sales") == {"cat": AgentState.READY}
    assert {k: v for k, v in acd.queue_status("sales", 2).agents.items() if v} == {AgentState.READY: 1}


def test_call_view_and_has_call_follow_the_call() -> None:
    acd = make()
    assert acd.call("c1") is None and not acd.has_call("c1")
    [offer] = offers(acd.enqueue("c1", "support", 2, 1, caller="+4420"))
    call = acd.call("c1")
    assert call is not None
    assert (call.queue, call.state, call.priority, call.enqueued_at, call.caller, call.agent_id) == (
        "support",
        CallState.OFFERING,
        2,
        1,
        "+4420",
        None,
    )
    acd.offer_answered(offer.offer_id, 4)
    bridged = acd.call("c1")
    assert bridged is not None and (bridged.state, bridged.agent_id, bridged.bridged_at) == (
        CallState.BRIDGED,
        "cat",
        4,
    )
    acd.call_ended("c1", 9)
    assert acd.call("c1") is None and not acd.has_call("c1")


def test_the_agent_leg_is_known_once_the_bridge_formed_and_forgotten_when_it_fails() -> None:
    acd = make()
    [offer] = offers(acd.enqueue("c1", "support", 0, 1, caller="+4420"))
    assert not acd.bridge_formed("c1", "leg-early")  # still ringing: no agent to have a leg
    assert any(isinstance(c, commands.Bridge) for c in acd.offer_answered(offer.offer_id, 2))
    assert acd.agent_leg("c1") is None and acd.call_ids() == {"c1"}  # answered, the bridge not formed yet
    assert [c.call_id for c in acd.bridged_calls()] == ["c1"]
    assert acd.bridge_formed("c1", "leg-1")
    view = acd.call("c1")
    assert view is not None and (view.agent_id, view.agent_leg, view.bridged_at) == ("cat", "leg-1", 2)
    assert acd.agent_leg("c1") == "leg-1"
    acd.bridge_failed("c1", 3)  # FreeSWITCH never bridged: back at the head of its queue, no leg
    assert acd.agent_leg("c1") is None and acd.bridged_calls() == []
    assert not acd.bridge_formed("c1", "leg-1") and acd.agent_leg("c1") is None
    assert not acd.bridge_formed("nobody", "leg-2") and acd.agent_leg("nobody") is None


def test_bridged_calls_and_call_ids_list_what_the_acd_holds() -> None:
    acd = make()
    acd.agent_break("ann", "lunch", 1)
    acd.agent_break("bob", "lunch", 1)
    [offer] = offers(acd.enqueue("c1", "support", 0, 2))
    acd.enqueue("c2", "support", 0, 3)  # cat is busy ringing: c2 waits
    acd.park("p1", "sales", 0, 1.5, 3)  # a parked caller's held place
    acd.offer_answered(offer.offer_id, 4)
    acd.bridge_formed("c1", "leg-1")
    assert acd.call_ids() == {"c1", "c2", "p1"}
    assert [(c.call_id, c.agent_leg) for c in acd.bridged_calls()] == [("c1", "leg-1")]
    acd.call_ended("c1", 5)
    assert acd.call_ids() == {"c2", "p1"} and acd.agent_leg("c1") is None


def test_an_adopted_call_takes_the_leg_it_is_bridged_to() -> None:
    acd = make()
    acd.adopt_call("c9", "sales", 0, "eve", enqueued_at=1, bridged_at=2, now=3, caller="+4421")
    assert acd.bridge_formed("c9", "leg-9") and acd.agent_leg("c9") == "leg-9"
    assert [(c.call_id, c.agent_id, c.bridged_at) for c in acd.bridged_calls()] == [("c9", "eve", 2)]


def test_agents_lists_every_agent_by_id() -> None:
    acd = make()
    assert [(a.id, a.state) for a in acd.agents()] == [
        ("ann", AgentState.READY),
        ("bob", AgentState.READY),
        ("cat", AgentState.READY),
        ("dan", AgentState.READY),
        ("eve", AgentState.LOGGED_OUT),
    ]


# ---- the runtime never copies the whole ACD ---------------------------------------------------------


def whole_state_calls(source: str, filename: str) -> list[str]:
    """``file:line: name`` for every call of a whole-state ACD method in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WHOLE_STATE:
            found.append((node.lineno, node.col_offset, f"{filename}:{node.lineno}: .{node.func.attr}("))
    return [hit for *_, hit in sorted(found)]


def test_the_scan_finds_a_whole_state_call() -> None:
    planted = "def f(shell):\n    x = 1\n    return shell.acd.acd.snapshot().agents, shell.acd.agents_by_state()\n"
    assert whole_state_calls(planted, "planted.py") == [
        "planted.py:3: .snapshot(",
        "planted.py:3: .agents_by_state(",
    ]


def test_the_runtime_api_and_campaigns_never_copy_the_whole_acd() -> None:
    files = sorted(p for package in RUNTIME_PACKAGES for p in (ROOT / package).rglob("*.py"))
    assert len(files) > 20  # the packages were found
    found = [hit for p in files for hit in whole_state_calls(p.read_text(), str(p.relative_to(ROOT)))]
    assert found == [], "use the ACD's queries (engine/acd/queries.py), not a whole-state copy:\n" + "\n".join(found)
