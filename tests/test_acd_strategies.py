"""Agent-selection strategies and queue-choice helpers on hand-built cases."""

from __future__ import annotations

import random

import pytest

from engine.acd.model import Agent, QueueConfig, QueuedCall, Strategy
from engine.acd.strategies import (
    STRATEGIES,
    RoutingState,
    choose_agents,
    fewest_calls,
    least_talk_time,
    longest_idle,
    longest_predicted_wait,
    longest_waiting_first,
    most_skilled,
    random_choice,
    ring_all,
    round_robin,
    skill_weighted,
    top_down,
)

QUEUE = QueueConfig("sales", "sales", skill_weight_seconds=60)
AGENTS = [
    #     id       level  ready since  calls  talk   order
    Agent("ann", {"sales": 3}, state_since=100, calls_handled=5, talk_seconds=900, order=3),
    Agent("ben", {"sales": 9}, state_since=400, calls_handled=2, talk_seconds=1200, order=1),
    Agent("cat", {"sales": 6}, state_since=50, calls_handled=9, talk_seconds=300, order=2),
    Agent("dan", {"sales": 6}, state_since=300, calls_handled=2, talk_seconds=300, order=4),
]


def ids(agents: list[Agent]) -> list[str]:
    return [a.id for a in agents]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (longest_idle, ["cat", "ann", "dan", "ben"]),
        (most_skilled, ["ben", "cat", "dan", "ann"]),
        # score = idle + 60 × level, i.e. state_since - 60 × level ascending: ann -80, ben -140, cat -310, dan -60
        (skill_weighted, ["cat", "ben", "ann", "dan"]),
        (least_talk_time, ["cat", "dan", "ann", "ben"]),
        (fewest_calls, ["dan", "ben", "ann", "cat"]),
        (top_down, ["ben", "cat", "ann", "dan"]),
        (ring_all, ["cat", "ann", "dan", "ben"]),
    ],
)
def test_full_order(strategy: object, expected: list[str]) -> None:
    assert ids(strategy(AGENTS, QUEUE, RoutingState())) == expected
    assert ids(strategy(reversed(AGENTS), QUEUE, RoutingState())) == expected


def test_limit_one_is_the_head_of_the_order() -> None:
    for name, strategy in STRATEGIES.items():
        if name not in (Strategy.RANDOM, Strategy.RING_ALL):
            assert strategy(AGENTS, QUEUE, RoutingState(), 1) == strategy(AGENTS, QUEUE, RoutingState())[:1]
    assert most_skilled([], QUEUE, RoutingState(), 1) == []


def test_round_robin_continues_after_the_last_chosen_and_wraps() -> None:
    state = RoutingState()
    picks = []
    for _ in range(5):
        [agent] = round_robin(AGENTS, QUEUE, state, 1)
        state.chosen(QUEUE, agent)
        picks.append(agent.id)
    assert picks == ["ben", "cat", "ann", "dan", "ben"]
    state.last_chosen["sales"] = (3, "ann")
    assert ids(round_robin(AGENTS[1:], QUEUE, state)) == ["dan", "ben", "cat"]


def test_random_is_reproducible_and_a_permutation() -> None:
    first = ids(random_choice(AGENTS, QUEUE, RoutingState(rng=random.Random(42))))
    again = ids(random_choice(list(reversed(AGENTS)), QUEUE, RoutingState(rng=random.Random(42))))
    assert first == again and sorted(first) == ["ann", "ben", "cat", "dan"]
    assert len(random_choice(AGENTS, QUEUE, RoutingState(), 1)) == 1


def test_choose_agents_offers_to_one_or_to_all_for_ring_all() -> None:
    assert ids(choose_agents(AGENTS, QUEUE, RoutingState())) == ["cat"]
    ring = QueueConfig("help", "sales", strategy=Strategy.RING_ALL)
    assert len(choose_agents(AGENTS, ring, RoutingState())) == 4
    assert choose_agents([], ring, RoutingState()) == []


def test_queue_choice_helpers() -> None:
    calls = [
        QueuedCall("a", "q1", 0, 10.0, seq=1),
        QueuedCall("b", "q2", 0, 20.0, seq=2),
        QueuedCall("c", "q2", 1, 30.0, seq=3),
        QueuedCall("d", "q1", 0, 10.0, seq=4),
    ]
    assert [c.call_id for c in longest_waiting_first(calls, {})] == ["c", "a", "d", "b"]
    predicted = {"q1": 30.0, "q2": 90.0}
    assert [c.call_id for c in longest_predicted_wait(calls, predicted)] == ["c", "b", "a", "d"]
    assert [c.call_id for c in longest_predicted_wait(calls, {"q1": 5.0, "q2": None})] == ["c", "a", "d", "b"]
