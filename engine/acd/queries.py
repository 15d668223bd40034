"""Read-only questions to the ACD: frozen views, each costing what it returns, never a whole copy.

The runtime asks these on every agent action, call-control action and metrics scrape; :meth:`Queries.snapshot`
(a deep copy of everything) is for tests and diagnostics only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

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


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent at one moment (frozen; ``skills`` is a read-only mapping of a copy)."""

    id: str
    state: AgentState
    state_since: float
    reason: str
    contact: str
    skills: Mapping[str, int]
    call_id: str | None
    offer_id: str | None
    calls_handled: int
    talk_seconds: float
    available_at: float
    wrap_up_until: float | None

    @classmethod
    def of(cls, agent: Agent) -> AgentView:
        """The view of ``agent`` (costs its skills, nothing else)."""
        return cls(
            agent.id,
            agent.state,
            agent.state_since,
            agent.reason,
            agent.contact,
            MappingProxyType(dict(agent.skills)),
            agent.call_id,
            agent.offer_id,
            agent.calls_handled,
            agent.talk_seconds,
            agent.available_at,
            agent.wrap_up_until,
        )

    def level(self, skill: str) -> int:
        """The agent's level in ``skill``; 0 when they do not have it."""
        return self.skills.get(skill, 0)


@dataclass(frozen=True, slots=True)
class CallView:
    """One call the ACD holds, at one moment (frozen; no caller data, which the shell keeps)."""

    call_id: str
    queue: str
    state: CallState
    priority: int
    enqueued_at: float
    caller: str
    agent_id: str | None
    bridged_at: float | None
    callback: bool
    attempts: int
    agent_leg: str | None = None
    """The agent's channel once joined to the caller (:meth:`~engine.acd.offers.Offers.bridge_formed`)."""

    @classmethod
    def of(cls, call: QueuedCall) -> CallView:
        """The view of ``call``."""
        return cls(
            call.call_id,
            call.queue,
            call.state,
            call.priority,
            call.enqueued_at,
            call.caller,
            call.agent_id,
            call.bridged_at,
            call.callback,
            call.attempts,
            call.agent_leg,
        )


class Queries(AcdBase):
    """The ACD's views.  Each costs O(1) or O(what it returns); none copies the whole state but
    :meth:`snapshot` and :meth:`agents_by_state` (tests, the CLI and diagnostics only)."""

    def has_agent(self, agent_id: str) -> bool:
        """Whether an agent with this id was added (and not removed)."""
        return agent_id in self._agents

    def agent(self, agent_id: str) -> AgentView:
        """The agent's frozen view; raises UnknownAgent."""
        return AgentView.of(self._agent(agent_id))

    def agent_state(self, agent_id: str) -> AgentState:
        """The agent's state; raises UnknownAgent."""
        return self._agent(agent_id).state

    def agent_call(self, agent_id: str) -> str | None:
        """The call the agent is on (bridged, or dialling a callback), else None; raises UnknownAgent."""
        return self._agent(agent_id).call_id

    def agents(self) -> list[AgentView]:
        """Every agent's view, by id (costs every agent: for listings, not for single questions)."""
        return [AgentView.of(self._agents[agent_id]) for agent_id in sorted(self._agents)]

    def agent_counts(self) -> dict[AgentState, int]:
        """How many agents are in each state (every state present); O(number of states)."""
        return dict(self._state_counts)

    def member_states(self, queue: str) -> dict[str, AgentState]:
        """The state of each agent taking ``queue``'s calls (see :meth:`members`); raises UnknownQueue."""
        self._queue(queue)
        return {agent_id: self._agents[agent_id].state for agent_id in self._members[queue]}

    def has_queue(self, queue: str) -> bool:
        """Whether ``queue`` is configured."""
        return queue in self._queues

    def has_call(self, call_id: str) -> bool:
        """Whether the ACD holds this call (queued, ringing, bridged, or a callback)."""
        return call_id in self._calls

    def call(self, call_id: str) -> CallView | None:
        """The frozen view of a call the ACD holds; None for calls it does not hold."""
        call = self._calls.get(call_id)
        return None if call is None else CallView.of(call)

    def agent_leg(self, call_id: str) -> str | None:
        """The agent's channel a call is joined to (see :meth:`~engine.acd.offers.Offers.bridge_formed`);
        None for a call not joined (queued, ringing, bridging) or not held."""
        call = self._calls.get(call_id)
        return None if call is None else call.agent_leg

    def bridged_calls(self) -> list[CallView]:
        """Every call in state ``bridged`` (joined or still being joined), by id; costs every call held:
        for a reconnect and the bridged-legs listing, not for single questions."""
        return [CallView.of(self._calls[c]) for c in sorted(self._calls) if self._calls[c].state is CallState.BRIDGED]

    def call_ids(self) -> frozenset[str]:
        """The ids of every call held (queued, parked, ringing, bridged, callbacks); costs every call held."""
        return frozenset(self._calls)

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
        """Waiting/offering/bridged counts, the longest wait and member agents by state; costs the
        queue's own calls (member counts are kept as agents move)."""
        self._queue(queue)
        counts = dict.fromkeys(CallState, 0)
        longest = 0.0
        callbacks = 0
        for call_id in self._queue_calls[queue]:  # this queue's calls only
            call = self._calls[call_id]
            counts[call.state] += 1
            callbacks += call.callback and call.state is not CallState.BRIDGED
            if call.state is CallState.QUEUED:
                longest = max(longest, now - call.enqueued_at)
        agents = dict(self._member_counts[queue])
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
        """Agent ids grouped by state (every state present, ids sorted); sorts every agent: for tests
        and the CLI; the runtime asks :meth:`agent_counts` or :meth:`agent_state`."""
        groups: dict[AgentState, list[str]] = {state: [] for state in AgentState}
        for agent in self._agents.values():
            groups[agent.state].append(agent.id)
        return {state: sorted(ids) for state, ids in groups.items()}

    def snapshot(self) -> Snapshot:
        """Deep copies of all records, the calls' current acceptance rules and queue statistics.

        Costs the whole state (about 200 ms with 5,000 agents and 7,000 calls): tests and diagnostics
        only; the runtime (engine/runtime, engine/campaigns, engine/api) never calls it."""
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
