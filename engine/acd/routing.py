"""Routing: the waiting-call indexes and the pairing of available agents with waiting calls."""

from __future__ import annotations

from collections.abc import Iterable

from sortedcontainers import SortedList

from engine.acd.base import AcdBase, Rule
from engine.acd.model import Agent, QueuedCall
from engine.acd.states import (
    WAITING,
)
from engine.acd.strategies import choose_agents


class Routing(AcdBase):
    """Who may take a call, where it waits, and who takes it."""

    def _call_rules(self, call: QueuedCall) -> frozenset[Rule]:
        """Who may take the call now: the queue's skill and level, widened by the escalation steps applied."""
        config = self._queues[call.queue]
        level = config.min_level
        rules: set[Rule] = set()
        for step in config.escalation[: call.escalation]:
            level = step.min_level if step.min_level is not None else level
            rules.update((s.skill, s.level) for s in step.extra_skills)
            if step.overflow_queue is not None:
                overflow = self._queues[step.overflow_queue]
                rules.add((overflow.skill, overflow.min_level))
        rules.add((config.skill, level))
        return frozenset(rules)

    @staticmethod
    def _waiting_entry(call: QueuedCall) -> tuple[int, float, int, str]:
        return (*call.sort_key(), call.call_id)

    def _index_call(self, call: QueuedCall) -> None:
        """Make a queued call findable: in its queue, and per skill for rules beyond the queue's own."""
        config = self._queues[call.queue]
        rules = self._call_rules(call)
        self._rules[call.call_id] = rules
        entry = self._waiting_entry(call)
        self._waiting[call.queue].add(entry)
        for skill, level in rules - {(config.skill, config.min_level)}:
            self._widened.setdefault(skill, SortedList()).add((*entry, level))

    def _unindex_call(self, call_id: str) -> None:
        rules = self._rules.pop(call_id, None)
        if rules is None:
            return
        call = self._calls.get(call_id)
        assert call is not None, "an indexed call is always held"
        config = self._queues[call.queue]
        entry = self._waiting_entry(call)
        self._waiting[call.queue].remove(entry)
        for skill, level in rules - {(config.skill, config.min_level)}:
            self._widened[skill].remove((*entry, level))

    # ------------------------------------------------------------------ internals: routing

    def _route(self) -> None:
        """Pair available agents with queued calls until no eligible pair is left."""
        while self._dirty_agents:
            agent_id = next(iter(self._dirty_agents))
            del self._dirty_agents[agent_id]
            agent = self._agents.get(agent_id)
            while agent is not None and agent.id in self._indexed_agents:
                call = self._best_call_for(agent)
                if call is None:
                    break
                self._make_offers(call, self._best_agents_for(call))
        if self._dirty_calls:
            calls = [self._calls[c] for c in self._dirty_calls if c in self._calls]
            self._dirty_calls.clear()
            for call in sorted(calls, key=QueuedCall.sort_key):
                if call.state in WAITING:
                    agents = self._best_agents_for(call)
                    if agents:
                        self._make_offers(call, agents)

    def _best_call_for(self, agent: Agent) -> QueuedCall | None:
        candidates: list[QueuedCall] = []
        for name in self._agent_queues[agent.id]:
            waiting = self._waiting[name]
            if waiting:
                candidates.append(self._calls[waiting[0][-1]])
        for skill, level in agent.skills.items():
            for entry in self._widened.get(skill, ()):
                if entry[-1] <= level:
                    candidates.append(self._calls[entry[-2]])
                    break
        if not candidates:
            return None
        predicted = {c.queue: self.predicted_wait(c.queue) for c in candidates}
        return self._queue_choice(candidates, predicted)[0]

    def _best_agents_for(self, call: QueuedCall) -> list[Agent]:
        config = self._queues[call.queue]
        base = (config.skill, config.min_level)
        rules = self._rules[call.call_id]
        pool: Iterable[Agent]
        if rules == {base}:
            ranked = self._ranked.get(call.queue)
            if ranked is not None:  # the first of the strategy's index: no scan
                return [self._available[call.queue][ranked[0][1]]] if ranked else []
            pool = self._available[call.queue].values()
        else:
            found = dict(self._available[call.queue]) if base in rules else {}
            for skill, level in rules - {base}:
                for agent in self._available_by_skill.get(skill, {}).values():
                    if agent.level(skill) >= level:
                        found[agent.id] = agent
            pool = found.values()
        return choose_agents(pool, config, self._routing)
