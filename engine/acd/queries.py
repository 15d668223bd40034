"""Read-only questions to the ACD: frozen views, each costing what it returns, never a whole copy.

The runtime asks these on every agent action, call-control action and metrics scrape; :meth:`Queries.snapshot`
(a deep copy of everything) is for tests and diagnostics only.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from engine.acd.base import AcdBase, QueueStats, Rule
from engine.acd.model import Agent, Offer, QueueConfig, QueuedCall
from engine.acd.states import (
    WAITING,
    AgentState,
    CallState,
)
from engine.acd.strategies import choose_agents


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """A queue at one moment, for metrics, the CLI and announcements."""

    queue: str
    waiting: int
    offering: int
    bridged: int
    longest_wait: float
    agents: dict[AgentState, int]
    average_handle_seconds: float | None
    stats: QueueStats
    callbacks: int = 0
    """Virtual calls of callback requesters (waiting, ringing an agent, dialling, waiting to retry)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Copies of everything the ACD holds (changing them changes nothing)."""

    now: float
    queues: dict[str, QueueConfig]
    agents: dict[str, Agent]
    calls: dict[str, QueuedCall]
    offers: dict[str, Offer]
    rules: dict[str, frozenset[Rule]]
    stats: dict[str, QueueStats]


class Queries(AcdBase):
    """The ACD's views."""

    def consult_agent(self, queue: str, exclude: str) -> str | None:
        """The free agent ``queue``'s strategy would pick for a colleague's consultation (never
        ``exclude``, the consulting agent); None when nobody eligible is free. A view: reserve them
        with :meth:`engage` (``consult``). Raises UnknownQueue."""
        config = self._queue(queue)
        pool = [agent for agent in self._available[queue].values() if agent.id != exclude]
        chosen = choose_agents(pool, config, self._routing)
        return chosen[0].id if chosen else None

    def queue_config(self, queue: str) -> QueueConfig:
        """The settings of ``queue`` (frozen); raises UnknownQueue."""
        return self._queue(queue)

    def queue_status(self, queue: str, now: float) -> QueueStatus:
        """Waiting/offering/bridged counts, the longest wait and member agents by state."""
        self._queue(queue)
        counts = dict.fromkeys(CallState, 0)
        longest = 0.0
        callbacks = 0
        for call in self._calls.values():
            if call.queue == queue:
                counts[call.state] += 1
                callbacks += call.callback and call.state is not CallState.BRIDGED
                if call.state is CallState.QUEUED:
                    longest = max(longest, now - call.enqueued_at)
        agents = dict.fromkeys(AgentState, 0)
        for agent_id in self._members[queue]:
            agents[self._agents[agent_id].state] += 1
        stats = self._stats[queue]
        return QueueStatus(
            queue,
            counts[CallState.QUEUED],
            counts[CallState.OFFERING],
            counts[CallState.BRIDGED],
            longest,
            agents,
            stats.average_handle_seconds(),
            replace(stats),
            callbacks,
        )

    def queue_names(self) -> list[str]:
        """Every configured queue, sorted."""
        return sorted(self._queues)

    def members(self, queue: str) -> list[str]:
        """Ids of the agents who take the queue's calls (its skill at its level), sorted."""
        self._queue(queue)
        return sorted(self._members[queue])

    def agents_by_state(self) -> dict[AgentState, list[str]]:
        """Agent ids grouped by state (every state present, ids sorted)."""
        groups: dict[AgentState, list[str]] = {state: [] for state in AgentState}
        for agent in self._agents.values():
            groups[agent.state].append(agent.id)
        return {state: sorted(ids) for state, ids in groups.items()}

    def snapshot(self) -> Snapshot:
        """Deep copies of all records, the calls' current acceptance rules and queue statistics."""
        return Snapshot(
            self._now,
            dict(self._queues),
            copy.deepcopy(self._agents),
            copy.deepcopy(self._calls),
            copy.deepcopy(self._offers),
            {cid: self._call_rules(c) for cid, c in self._calls.items()},
            {name: replace(s) for name, s in self._stats.items()},
        )

    def average_handle_time(self, queue: str) -> float | None:
        """Mean talk + wrap-up seconds of the queue's completed calls; None before the first."""
        self._queue(queue)
        return self._stats[queue].average_handle_seconds()

    def position(self, call_id: str) -> int | None:
        """1-based place of a waiting (queued or virtual) call in its queue; None for other calls."""
        call = self._calls.get(call_id)
        if call is None or call.state not in WAITING:
            return None
        return self._waiting[call.queue].index(self._waiting_entry(call)) + 1

    def estimated_wait(self, call_id: str) -> float | None:
        """position × average handle time / staffed agents; None when any of them is unknown."""
        place = self.position(call_id)
        if place is None:
            return None
        queue = self._calls[call_id].queue
        aht, staffed = self._stats[queue].average_handle_seconds(), self._staffed[queue]
        if aht is None or not staffed:
            return None
        return place * aht / staffed

    def predicted_wait(self, queue: str) -> float | None:
        """The queue's waiting calls × average handle time / staffed agents (None when unknown)."""
        aht, staffed = self._stats[queue].average_handle_seconds(), self._staffed[queue]
        if aht is None or not staffed:
            return None
        return len(self._waiting[queue]) * aht / staffed
