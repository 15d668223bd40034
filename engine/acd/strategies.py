"""Pure choices: which eligible agent gets a call, and which call a freed agent takes.

Every agent strategy is ``f(eligible, queue, state, limit=None) -> list[Agent]``:
the agents in order of preference (at most ``limit``).  Ties always fall back
to the agent id, so the result depends only on the inputs (``random`` draws from
the seeded ``state.rng``).  The strategies never change their inputs; the ACD
core reports its choice back with :meth:`RoutingState.chosen`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.acd.model import Agent, QueueConfig, QueuedCall, Strategy


@dataclass(slots=True)
class RoutingState:
    """What the strategies remember between choices: round-robin cursors and the rng."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))
    last_chosen: dict[str, tuple[int, str]] = field(default_factory=dict)

    def chosen(self, queue: QueueConfig, agent: Agent) -> None:
        """Record that ``agent`` was picked for ``queue`` (moves the round-robin cursor)."""
        self.last_chosen[queue.name] = (agent.order, agent.id)


Selector = Callable[[Iterable[Agent], QueueConfig, RoutingState, int | None], list[Agent]]


def _ordered(eligible: Iterable[Agent], key: Callable[[Agent], Any], limit: int | None) -> list[Agent]:
    if limit == 1:
        best = min(eligible, key=key, default=None)
        return [] if best is None else [best]
    ordered = sorted(eligible, key=key)
    return ordered if limit is None else ordered[:limit]


AgentKey = Callable[[Agent, QueueConfig], tuple[Any, ...]]


def _idle_key(a: Agent, queue: QueueConfig) -> tuple[Any, ...]:
    return (a.state_since, a.id)


def _skill_key(a: Agent, queue: QueueConfig) -> tuple[Any, ...]:
    return (-a.level(queue.skill), a.state_since, a.id)


def _weighted_key(a: Agent, queue: QueueConfig) -> tuple[Any, ...]:
    return (a.state_since - a.level(queue.skill) * queue.skill_weight_seconds, a.id)


def _talk_key(a: Agent, queue: QueueConfig) -> tuple[Any, ...]:
    return (a.talk_seconds, a.state_since, a.id)


def _calls_key(a: Agent, queue: QueueConfig) -> tuple[Any, ...]:
    return (a.calls_handled, a.state_since, a.id)


def _order_key(a: Agent, queue: QueueConfig) -> tuple[Any, ...]:
    return (a.order, a.id)


def longest_idle(
    eligible: Iterable[Agent], queue: QueueConfig, state: RoutingState, limit: int | None = None
) -> list[Agent]:
    """The agent ready for the longest time first."""
    return _ordered(eligible, lambda a: _idle_key(a, queue), limit)


def most_skilled(
    eligible: Iterable[Agent], queue: QueueConfig, state: RoutingState, limit: int | None = None
) -> list[Agent]:
    """Highest level in the queue's skill first; then longest idle."""
    return _ordered(eligible, lambda a: _skill_key(a, queue), limit)


def skill_weighted(
    eligible: Iterable[Agent], queue: QueueConfig, state: RoutingState, limit: int | None = None
) -> list[Agent]:
    """Highest score first: idle seconds + level × ``queue.skill_weight_seconds``.

    Each level point counts as that many seconds of idle time, so a better agent
    wins unless a weaker one has been idle much longer.
    """
    return _ordered(eligible, lambda a: _weighted_key(a, queue), limit)


def least_talk_time(
    eligible: Iterable[Agent], queue: QueueConfig, state: RoutingState, limit: int | None = None
) -> list[Agent]:
    """Fewest accumulated talk seconds first; then longest idle."""
    return _ordered(eligible, lambda a: _talk_key(a, queue), limit)


def fewest_calls(
    eligible: Iterable[Agent], queue: QueueConfig, state: RoutingState, limit: int | None = None
) -> list[Agent]:
    """Fewest handled calls first; then longest idle."""
    return _ordered(eligible, lambda a: _calls_key(a, queue), limit)


def top_down(
    eligible: Iterable[Agent], queue: QueueConfig, state: RoutingState, limit: int | None = None
) -> list[Agent]:
    """Lowest ``order`` first, every time."""
    return _ordered(eligible, lambda a: _order_key(a, queue), limit)


def round_robin(
    eligible: Iterable[Agent], queue: QueueConfig, state: RoutingState, limit: int | None = None
) -> list[Agent]:
    """The next agent by ``order`` after the one last chosen for this queue, wrapping round."""
    last = state.last_chosen.get(queue.name)
    if last is None:
        return top_down(eligible, queue, state, limit)
    return _ordered(eligible, lambda a: ((a.order, a.id) <= last, a.order, a.id), limit)


def ring_all(
    eligible: Iterable[Agent], queue: QueueConfig, state: RoutingState, limit: int | None = None
) -> list[Agent]:
    """Every eligible agent (``limit`` ignored), longest idle first."""
    return longest_idle(eligible, queue, state)


def random_choice(
    eligible: Iterable[Agent], queue: QueueConfig, state: RoutingState, limit: int | None = None
) -> list[Agent]:
    """A random order drawn from ``state.rng`` (agents taken in id order, so it is reproducible)."""
    pool = sorted(eligible, key=lambda a: a.id)
    return state.rng.sample(pool, len(pool) if limit is None else min(limit, len(pool)))


STRATEGIES: dict[Strategy, Selector] = {
    Strategy.LONGEST_IDLE: longest_idle,
    Strategy.MOST_SKILLED: most_skilled,
    Strategy.SKILL_WEIGHTED: skill_weighted,
    Strategy.LEAST_TALK_TIME: least_talk_time,
    Strategy.FEWEST_CALLS: fewest_calls,
    Strategy.ROUND_ROBIN: round_robin,
    Strategy.TOP_DOWN: top_down,
    Strategy.RING_ALL: ring_all,
    Strategy.RANDOM: random_choice,
}


RANK_KEYS: dict[Strategy, AgentKey] = {
    Strategy.LONGEST_IDLE: _idle_key,
    Strategy.MOST_SKILLED: _skill_key,
    Strategy.SKILL_WEIGHTED: _weighted_key,
    Strategy.LEAST_TALK_TIME: _talk_key,
    Strategy.FEWEST_CALLS: _calls_key,
    Strategy.TOP_DOWN: _order_key,
}
"""Strategies whose choice is the agent with the smallest key, a key that cannot change while the
agent is available: the ACD keeps each such queue's available agents sorted by it."""


def choose_agents(eligible: Iterable[Agent], queue: QueueConfig, state: RoutingState) -> list[Agent]:
    """The agents to offer a call of ``queue`` to: all for ring_all, else at most one."""
    return STRATEGIES[queue.strategy](eligible, queue, state, 1)


class QueueChoice(StrEnum):
    """How an agent who frees up picks among the calls waiting for them."""

    LONGEST_WAITING = "longest_waiting"
    LONGEST_PREDICTED_WAIT = "longest_predicted_wait"


def longest_waiting_first(
    candidates: Iterable[QueuedCall], predicted_wait: Mapping[str, float | None]
) -> list[QueuedCall]:
    """Highest priority first, then the call that has waited longest (``predicted_wait`` unused)."""
    return sorted(candidates, key=QueuedCall.sort_key)


def longest_predicted_wait(
    candidates: Iterable[QueuedCall], predicted_wait: Mapping[str, float | None]
) -> list[QueuedCall]:
    """Highest priority first, then the queue with the longest predicted wait, then longest waiting.

    A queue whose wait cannot be predicted (no history or no staff) counts as 0.
    """
    return sorted(candidates, key=lambda c: (-c.priority, -(predicted_wait.get(c.queue) or 0.0), c.enqueued_at, c.seq))


CallChooser = Callable[[Iterable[QueuedCall], Mapping[str, float | None]], list[QueuedCall]]

QUEUE_CHOICES: dict[QueueChoice, CallChooser] = {
    QueueChoice.LONGEST_WAITING: longest_waiting_first,
    QueueChoice.LONGEST_PREDICTED_WAIT: longest_predicted_wait,
}
