"""Agent state moves and the availability indexes they keep in step."""

from __future__ import annotations

from engine.acd import commands
from engine.acd.base import STAFFED, AcdBase, _Timer
from engine.acd.model import Agent, QueueConfig
from engine.acd.states import (
    AgentEvent,
    AgentState,
    Machine,
    OfferEvent,
    transition,
)
from engine.acd.strategies import RANK_KEYS


class Staffing(AcdBase):
    """Moving agents through the AGENT table; who is available to which queue."""

    def _join_queue(self, agent: Agent, config: QueueConfig) -> None:
        if agent.level(config.skill) < config.min_level:
            return
        self._members[config.name].add(agent.id)
        self._member_counts[config.name][agent.state] += 1
        self._agent_queues[agent.id].add(config.name)
        if agent.state in STAFFED:
            self._staffed[config.name] += 1
        if agent.id in self._indexed_agents:
            self._make_available(config.name, agent)

    def _agent_event(self, agent: Agent, event: AgentEvent, at: float, reason: str = "") -> None:
        """Move an agent through the AGENT table, keeping indexes and statistics in step."""
        old = agent.state
        new = transition(Machine.AGENT, old, event, agent.id)
        if old is AgentState.WRAP_UP and agent.wrap_up_queue in self._stats:
            stats = self._stats[agent.wrap_up_queue]
            stats.wrap_ups += 1
            stats.wrap_up_seconds += at - agent.state_since
        if new is not AgentState.WRAP_UP:
            agent.wrap_up_until = agent.wrap_up_queue = None
        if (old in STAFFED) != (new in STAFFED):
            for name in self._agent_queues[agent.id]:
                self._staffed[name] += 1 if new in STAFFED else -1
        if new is not old:
            self._state_counts[old] -= 1
            self._state_counts[new] += 1
            for name in self._agent_queues[agent.id]:
                counts = self._member_counts[name]
                counts[old] -= 1
                counts[new] += 1
        agent.state, agent.state_since = new, at
        agent.reason = reason if new in (AgentState.BREAK, AgentState.ENGAGED) else ""
        # the change carries why it happened (e.g. ready again after "no_answer"), stored in the state log
        self._out.append(commands.AgentStateChanged(agent.id, old, new, reason, at))
        self._sync_availability(agent)

    def _is_available(self, agent: Agent) -> bool:
        return agent.state is AgentState.READY and agent.available_at <= self._now

    def _make_available(self, queue: str, agent: Agent) -> None:
        self._available[queue][agent.id] = agent
        ranked = self._ranked.get(queue)
        if ranked is not None:
            config = self._queues[queue]
            key = RANK_KEYS[config.strategy](agent, config)
            self._rank_keys[(queue, agent.id)] = key
            ranked.add((key, agent.id))

    def _make_unavailable(self, queue: str, agent_id: str) -> None:
        del self._available[queue][agent_id]
        key = self._rank_keys.pop((queue, agent_id), None)
        if key is not None:
            self._ranked[queue].remove((key, agent_id))

    def _sync_availability(self, agent: Agent) -> None:
        indexed = agent.id in self._indexed_agents
        if self._is_available(agent) and not indexed:
            self._indexed_agents.add(agent.id)
            for name in self._agent_queues[agent.id]:
                self._make_available(name, agent)
            for skill in agent.skills:
                self._available_by_skill.setdefault(skill, {})[agent.id] = agent
            self._dirty_agents[agent.id] = None
        elif indexed and not self._is_available(agent):
            self._indexed_agents.discard(agent.id)
            for name in self._agent_queues[agent.id]:
                self._make_unavailable(name, agent.id)
            for skill in agent.skills:
                del self._available_by_skill[skill][agent.id]
        if agent.state is AgentState.READY and agent.available_at > self._now:
            self._schedule(agent.available_at, _Timer.AVAILABLE, agent.id)

    def _leave(self, agent: Agent, event: AgentEvent, reason: str) -> None:
        """Logout or break, withdrawing the agent's ringing offer (checked before anything changes)."""
        transition(Machine.AGENT, agent.state, event, agent.id)
        offer = self._offers.get(agent.offer_id) if agent.offer_id else None
        if offer is None:
            self._agent_event(agent, event, self._now, reason)
            return
        self._withdraw(offer, OfferEvent.CANCEL, event, reason)
        self._after_offer(self._calls[offer.call_id])
