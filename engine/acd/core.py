"""The ACD: the single owner of every agent, queued call and offer.

:class:`Acd` is sans-IO.  The I/O shell feeds it events (each with the current
time ``now``, which must never go backwards) and carries out the commands each
method returns (:mod:`engine.acd.commands`).  Before handling an event the ACD
catches up on everything due by ``now`` (delays and wrap-ups expiring, escalation
steps, maximum-wait exits, offers nobody reported on); after it, it routes.

Invariants that hold whenever a method returns (tests/test_acd_properties.py
checks them after every step of random event sequences):

1. An agent has at most one ringing offer; an agent is ``reserved`` exactly when
   one references them.
2. A call is ``offering`` exactly when it has ringing offers, and has more than one
   only in a ring_all queue; a call is bridged with exactly one agent, who is
   ``on_call`` with it.
3. No call is queued while a ready agent out of delay is eligible for it.
4. Calls are conserved: arrived = queued + offering + bridged + abandoned +
   exited + completed.

Routing: when agents become available each one, in turn, takes the best call it
is eligible for (priority first, then the queue-choice policy); that call then goes
to the agent its queue's strategy prefers among all available eligible agents.
Calls that became queued then take the best available agent, highest priority
first.  A method that raises leaves the ACD as it was, except for work that fell
due by ``now``, whose commands are returned by the next call.

:class:`Acd` is this module's events over mixins that each do one job on the shared
records of :mod:`engine.acd.base`: :mod:`~engine.acd.staffing` (agent moves),
:mod:`~engine.acd.offers` (offers and calls), :mod:`~engine.acd.routing`,
:mod:`~engine.acd.callbacks`, :mod:`~engine.acd.restore` (after a restart) and :mod:`~engine.acd.queries`
(read-only views).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sortedcontainers import SortedList

from engine.acd import commands
from engine.acd.base import (
    ENGAGE_EVENTS,
    FAILURE_EVENTS,
    STAFFED,
    QueueStats,
    Rule,
    UnknownAgent,
    UnknownQueue,
    _Timer,
)
from engine.acd.callbacks import Callbacks
from engine.acd.model import Agent, QueueConfig, QueuedCall
from engine.acd.offers import Offers
from engine.acd.queries import AgentView, CallView, Queries, QueueStatus, Snapshot
from engine.acd.reclaim import Reclaims
from engine.acd.restore import Restore
from engine.acd.routing import Routing
from engine.acd.staffing import Staffing
from engine.acd.states import (
    WAITING,
    AgentEvent,
    AgentState,
    CallEvent,
    CallState,
    Machine,
    OfferEvent,
    transition,
)
from engine.acd.strategies import RANK_KEYS

__all__ = [
    "ENGAGE_EVENTS",
    "FAILURE_EVENTS",
    "STAFFED",
    "Acd",
    "AgentView",
    "CallView",
    "QueueStats",
    "QueueStatus",
    "Rule",
    "Snapshot",
    "UnknownAgent",
    "UnknownQueue",
]


class Acd(Restore, Reclaims, Callbacks, Queries, Routing, Offers, Staffing):
    """The ACD state and routing; see the module docstring for its contract."""

    # ------------------------------------------------------------------ configuration

    def configure_queue(self, config: QueueConfig, now: float) -> list[commands.Command]:
        """Add a queue or replace its settings; waiting calls are re-evaluated.

        Overflow queues named by escalation steps must already be configured.
        """
        for i, step in enumerate(config.escalation):
            if (
                step.overflow_queue is not None
                and step.overflow_queue not in self._queues
                and step.overflow_queue != config.name
            ):
                raise UnknownQueue(
                    f"QueueConfig({config.name!r}).escalation[{i}].overflow_queue: "
                    f"{step.overflow_queue!r} is not configured"
                )
        self._advance(now)
        queued = [c.call_id for c in self._calls.values() if c.state in WAITING]
        for call_id in queued:
            self._unindex_call(call_id)
        old = self._queues.get(config.name)
        if old is not None:
            self._queues_by_skill[old.skill].discard(old.name)
            for agent_id in self._members[old.name]:
                self._agent_queues[agent_id].discard(old.name)
        self._queues[config.name] = config
        self._stats.setdefault(config.name, QueueStats())
        self._waiting.setdefault(config.name, SortedList())
        self._queues_by_skill.setdefault(config.skill, set()).add(config.name)
        self._members[config.name] = set()
        self._member_counts[config.name] = dict.fromkeys(AgentState, 0)
        self._queue_calls.setdefault(config.name, set())
        for agent_id in self._available.get(config.name, {}):
            self._rank_keys.pop((config.name, agent_id), None)
        self._available[config.name] = {}
        self._ranked.pop(config.name, None)
        if config.strategy in RANK_KEYS:
            self._ranked[config.name] = SortedList()
        self._staffed[config.name] = 0
        for agent in self._agents.values():
            self._join_queue(agent, config)
        for call_id in queued:
            self._index_call(self._calls[call_id])
        self._dirty_agents.update(dict.fromkeys(self._indexed_agents))
        self._route()
        return self._flush()

    def configure_queues(self, configs: Iterable[QueueConfig], now: float) -> list[commands.Command]:
        """Configure several queues, each after the overflow queues it names.

        Queues that overflow into each other (a cycle) are first added without escalation,
        then given their full settings.  Overflow queues neither here nor configured raise.
        """
        pending = {c.name: c for c in configs}
        out: list[commands.Command] = []
        while pending:
            ready = [
                c
                for c in pending.values()
                if all(s.overflow_queue in self._queues or s.overflow_queue in (None, c.name) for s in c.escalation)
            ]
            if ready:
                for config in ready:
                    out += self.configure_queue(config, now)
                    del pending[config.name]
                continue
            missing = {s.overflow_queue for c in pending.values() for s in c.escalation} - pending.keys()
            missing -= self._queues.keys() | {None}
            if missing:
                first = next(c for c in pending.values() if any(s.overflow_queue in missing for s in c.escalation))
                return out + self.configure_queue(first, now)  # raises UnknownQueue naming the step
            # A cycle: some member is not configured yet (configured ones would be ready by now).
            cyclic = next(c for c in pending.values() if c.name not in self._queues)
            out += self.configure_queue(replace(cyclic, escalation=()), now)
        return out

    def add_agent(self, agent: Agent) -> None:
        """Register a logged-out agent (the ACD keeps its own copy)."""
        if agent.id in self._agents:
            raise ValueError(f"Agent({agent.id!r}): already added")
        if agent.state is not AgentState.LOGGED_OUT:
            raise ValueError(f"Agent({agent.id!r}).state: must be logged_out when added, got {agent.state}")
        own = replace(agent, skills=dict(agent.skills))
        self._agents[own.id] = own
        self._agent_queues[own.id] = set()
        self._state_counts[own.state] += 1
        for skill in own.skills:
            for name in self._queues_by_skill.get(skill, ()):
                self._join_queue(own, self._queues[name])

    def remove_agent(self, agent_id: str, now: float) -> list[commands.Command]:
        """Log the agent out if needed (withdrawing a ringing offer) and forget them."""
        agent = self._agent(agent_id)
        self._advance(now)
        if agent.state is not AgentState.LOGGED_OUT:
            self._leave(agent, AgentEvent.LOGOUT, "")
        for name in self._agent_queues.pop(agent_id):
            self._members[name].discard(agent_id)
            self._member_counts[name][agent.state] -= 1
        self._state_counts[agent.state] -= 1
        del self._agents[agent_id]
        self._route()
        return self._flush()

    # ------------------------------------------------------------------ agent events

    def agent_login(self, agent_id: str, now: float) -> list[commands.Command]:
        """logged_out -> ready."""
        agent = self._agent(agent_id)
        self._advance(now)
        transition(Machine.AGENT, agent.state, AgentEvent.LOGIN, agent.id)
        agent.no_answer_count = 0
        agent.available_at = now
        self._agent_event(agent, AgentEvent.LOGIN, now)
        self._route()
        return self._flush()

    def agent_logout(self, agent_id: str, now: float) -> list[commands.Command]:
        """Log out; a ringing offer is cancelled and its call goes back to the head of its queue."""
        agent = self._agent(agent_id)
        self._advance(now)
        self._leave(agent, AgentEvent.LOGOUT, "")
        self._route()
        return self._flush()

    def agent_ready(self, agent_id: str, now: float) -> list[commands.Command]:
        """break -> ready (also clears the consecutive no-answer count)."""
        agent = self._agent(agent_id)
        self._advance(now)
        self._agent_event(agent, AgentEvent.READY, now)
        agent.no_answer_count = 0
        self._route()
        return self._flush()

    def agent_break(self, agent_id: str, reason: str, now: float) -> list[commands.Command]:
        """Go on break with a reason code; a ringing offer is cancelled and its call re-queued at the head."""
        if not reason:
            raise ValueError(f"agent_break({agent_id!r}).reason: a non-empty reason code is required")
        agent = self._agent(agent_id)
        self._advance(now)
        self._leave(agent, AgentEvent.BREAK, reason)
        self._route()
        return self._flush()

    def end_wrap_up(self, agent_id: str, now: float) -> list[commands.Command]:
        """The agent ends wrap-up early: wrap_up -> ready."""
        agent = self._agent(agent_id)
        self._advance(now)
        self._agent_event(agent, AgentEvent.WRAP_UP_ENDED, now)
        self._route()
        return self._flush()

    def engage(self, agent_id: str, why: str, now: float) -> list[commands.Command]:
        """The agent is on a call the ACD did not route: ``dial`` (their own call, from ready, break
        or wrap-up) or ``consult`` (rung by a colleague, only from ready); never offered calls meanwhile."""
        if why not in ENGAGE_EVENTS:
            raise ValueError(f"engage({agent_id!r}).why: {why!r} is not one of {', '.join(ENGAGE_EVENTS)}")
        agent = self._agent(agent_id)
        self._advance(now)
        self._agent_event(agent, ENGAGE_EVENTS[why], now, why)
        self._route()
        return self._flush()

    def engaged_call_ended(self, agent_id: str, wrap_up_seconds: float, now: float) -> list[commands.Command]:
        """The engaged agent's call ended: engaged -> wrap_up for ``wrap_up_seconds`` (0: straight to ready)."""
        agent = self._agent(agent_id)
        self._advance(now)
        self._agent_event(agent, AgentEvent.ENGAGED_CALL_ENDED, now)
        agent.wrap_up_until = now + wrap_up_seconds
        if wrap_up_seconds <= 0:
            self._agent_event(agent, AgentEvent.WRAP_UP_ENDED, now)
        else:
            self._schedule(agent.wrap_up_until, _Timer.WRAP_UP, agent.id)
        self._route()
        return self._flush()

    # ------------------------------------------------------------------ call events

    def enqueue(
        self,
        call_id: str,
        queue: str,
        priority: int,
        now: float,
        *,
        caller: str = "",
        data: dict[str, Any] | None = None,
    ) -> list[commands.Command]:
        """A call joins ``queue``; higher ``priority`` is served first.

        A ``caller`` who abandoned this queue at most its ``resume_seconds`` ago takes the
        place of that call (its arrival time; the call is ``resumed``).
        """
        config = self._queue(queue)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ValueError(f"enqueue({call_id!r}).priority: must be an integer, got {priority!r}")
        if call_id in self._calls:
            raise ValueError(f"enqueue({call_id!r}).call_id: the call is already in the ACD")
        if call_id in self._gone:
            raise ValueError(f"enqueue({call_id!r}).call_id: the caller's channel is gone")
        self._advance(now)
        since = self._resume(caller, queue)
        call = QueuedCall(
            call_id=call_id,
            queue=queue,
            priority=priority,
            enqueued_at=now if since is None else since,
            caller=caller,
            data=dict(data or {}),
            seq=next(self._call_seq),
            resumed=since is not None,
        )
        self._arrive(call, config)
        if config.max_wait_seconds is not None:
            self._schedule(max(now, call.enqueued_at + config.max_wait_seconds), _Timer.MAX_WAIT, call_id)
        self._index_call(call)
        self._dirty_calls[call_id] = None
        self._route()
        return self._flush()

    def offer_answered(self, offer_id: str, now: float) -> list[commands.Command]:
        """The agent answered: Bridge; the agent is on_call; other ring_all offers are cancelled.

        Reports for offers the ACD already resolved (it sent CancelOffer) are ignored.
        """
        self._advance(now)
        offer = self._offers.get(offer_id)
        if offer is not None:
            call = self._calls[offer.call_id]
            agent = self._agents[offer.agent_id]
            self._resolve_offer(offer, OfferEvent.ANSWER)
            call.state = transition(Machine.CALL, call.state, CallEvent.ANSWER, call.call_id)
            call.agent_id = agent.id
            agent.call_id, agent.no_answer_count = call.call_id, 0
            self._agent_event(agent, AgentEvent.ANSWER, now)
            if call.callback:  # the agent is there: now ring the customer
                self._out.append(commands.DialCallback(call.call_id, agent.id, offer_id, call.queue, call.attempts + 1))
                self._callback_changed(call, "dialling")
            else:
                call.bridged_at = now
                self._stats[call.queue].answered += 1
                self._out.append(commands.Bridge(call.call_id, agent.id, offer_id))
            for other_id in sorted(call.offer_ids):
                self._withdraw(self._offers[other_id], OfferEvent.CANCEL, AgentEvent.OFFER_CANCELLED)
            self._route()
        return self._flush()

    def offer_failed(self, offer_id: str, reason: str, now: float) -> list[commands.Command]:
        """The offer failed (no_answer, busy, rejected, failed); the call returns to the head of its queue.

        The agent is held out of routing for the queue's delay for that reason; after
        ``max_no_answer`` consecutive no-answers they go on break with reason 'no_answer'.
        Reports for offers the ACD already resolved are ignored.
        """
        if reason not in FAILURE_EVENTS:
            raise ValueError(f"offer_failed({offer_id!r}).reason: {reason!r} is not one of {', '.join(FAILURE_EVENTS)}")
        self._advance(now)
        offer = self._offers.get(offer_id)
        if offer is not None:
            self._fail_offer(offer, reason)
            self._route()
        return self._flush()

    def bridge_failed(self, call_id: str, now: float) -> list[commands.Command]:
        """The agent answered but the bridge to the caller did not form (their leg vanished, or
        FreeSWITCH never bridged): the call returns to the head of its queue, the agent to ``ready``
        (no wrap-up; held out for the queue's failed delay).  Calls not bridged, callbacks (whose
        bridge is the customer's answer) and calls the ACD no longer holds are ignored."""
        self._advance(now)
        call = self._calls.get(call_id)
        if call is not None and call.state is CallState.BRIDGED and not call.callback and call.agent_id:
            agent = self._agents[call.agent_id]
            call.state = transition(Machine.CALL, call.state, CallEvent.BRIDGE_FAILED, call_id)
            call.agent_id = call.bridged_at = call.agent_leg = None
            call.confirmed = True  # a reset's pending confirmation was for this bridge, not the next
            self._stats[call.queue].answered -= 1
            agent.call_id = None
            agent.available_at = self._now + self._queues[call.queue].failed_delay_seconds
            self._agent_event(agent, AgentEvent.BRIDGE_FAILED, self._now, "bridge_failed")
            self._requeue(call)
            self._route()
        return self._flush()

    def caller_gone(self, call_id: str, now: float) -> list[commands.Command]:
        """FreeSWITCH says the caller's channel is gone (``-ERR No such channel!`` for the caller, or its
        hangup seen before the bridge formed): the call ends as abandoned and is never offered again.
        Ringing offers are withdrawn; an agent who answered goes back to ``ready`` with no wrap-up and no
        penalty (the shell releases their leg).  Callbacks (no caller channel) and calls the ACD no
        longer holds are ignored."""
        self._advance(now)
        call = self._calls.get(call_id)
        if call is not None and not call.callback:
            transition(Machine.CALL, call.state, CallEvent.CALLER_GONE, call_id)
            self._gone.add(call_id)
            if call.state is CallState.BRIDGED and call.agent_id:
                agent = self._agents[call.agent_id]
                self._stats[call.queue].answered -= 1
                call.agent_id = call.bridged_at = None
                agent.call_id = None
                self._agent_event(agent, AgentEvent.CALLER_GONE, self._now, "caller_gone")
            self._end_call(call, CallEvent.CALLER_GONE)
            self._route()
        return self._flush()

    def call_ended(self, call_id: str, now: float) -> list[commands.Command]:
        """The caller hung up: queued -> abandoned; offering -> offers cancelled; bridged -> agent wrap_up.

        Calls the ACD no longer holds (ended, left the queue) are ignored.
        """
        self._advance(now)
        if call_id in self._calls:
            self._end_call(self._calls[call_id])
            self._route()
        return self._flush()

    def leave(self, call_id: str, target: str, now: float) -> list[commands.Command]:
        """The caller chose to leave the queue for ``target`` (e.g. a keypress while waiting).

        Ringing offers are withdrawn; ``QueueExit(reason='caller')`` follows.  Calls the ACD no
        longer holds, or holds bridged, are ignored.
        """
        self._advance(now)
        call = self._calls.get(call_id)
        if call is not None and call.state in (CallState.QUEUED, CallState.OFFERING):
            for offer_id in sorted(call.offer_ids):
                self._withdraw(self._offers[offer_id], OfferEvent.CANCEL, AgentEvent.OFFER_CANCELLED)
            self._exit_call(call, CallEvent.LEAVE, "caller", target)
            self._route()
        return self._flush()

    def confirm_bridged(self, call_id: str) -> bool:
        """After :meth:`reset`, the shell confirms a bridged call still exists; False if none is held."""
        call = self._calls.get(call_id)
        if call is None or call.state is not CallState.BRIDGED:
            return False
        call.confirmed = True
        return True

    def tick(self, now: float) -> list[commands.Command]:
        """Let time pass: expire delays and wrap-ups, escalate, exit on max wait, route."""
        self._advance(now)
        self._route()
        return self._flush()

    def reset(self, now: float) -> list[commands.Command]:
        """FreeSWITCH reconnected: fail every ringing offer (no agent penalty) and re-queue its call at
        the head; agents held out by a lost offer are available again; bridged calls are ended after
        ``reset_confirm_seconds`` unless confirmed."""
        self._advance(now)
        for offer in sorted(self._offers.values(), key=lambda o: o.offer_id):
            self._withdraw(offer, OfferEvent.FAIL, AgentEvent.OFFER_CANCELLED)
            self._after_offer(self._calls[offer.call_id])
        for agent in self._agents.values():  # held out since an offer was lost with the connection
            if agent.available_at == math.inf:
                agent.available_at = now
                self._sync_availability(agent)
        for call in self._calls.values():
            if call.state is CallState.BRIDGED:
                call.confirmed = False
                self._schedule(now + self._reset_confirm, _Timer.CONFIRM, call.call_id)
        self._route()
        return self._flush()

    def _advance(self, now: float) -> None:
        if now < self._now:
            raise ValueError(f"now={now} is earlier than the last event's time {self._now}")
        self._now = now
        while self._timers and self._timers[0][0] <= now:
            at, _, kind, key, arg = heapq.heappop(self._timers)
            self._fire(kind, key, arg, at)
            self._route()

    def _fire(self, kind: _Timer, key: str, arg: int, at: float) -> None:
        """Act on a timer if what it was set for still stands (timers are never removed)."""
        if kind in (_Timer.AVAILABLE, _Timer.WRAP_UP):
            agent = self._agents.get(key)
            if agent is None:
                return
            if kind is _Timer.AVAILABLE:
                self._sync_availability(agent)
            elif agent.state is AgentState.WRAP_UP and agent.wrap_up_until == at:
                self._agent_event(agent, AgentEvent.WRAP_UP_ENDED, at)
            return
        if kind is _Timer.OFFER_GUARD:
            offer = self._offers.get(key)
            if offer is not None:
                self._out.append(commands.CancelOffer(offer.offer_id, offer.call_id, offer.agent_id))
                self._fail_offer(offer, "no_answer")
            return
        call = self._calls.get(key)
        if call is None:
            return
        if kind is _Timer.ESCALATE and arg > call.escalation:
            call.escalation = arg
            if call.state in WAITING:
                self._unindex_call(key)
                self._index_call(call)
                self._dirty_calls[key] = None
        elif kind is _Timer.MAX_WAIT and call.state is CallState.QUEUED:
            self._exit_call(call, CallEvent.MAX_WAIT, "max_wait", self._queues[call.queue].exit_target or "")
        elif kind is _Timer.CONFIRM and call.state is CallState.BRIDGED and not call.confirmed:
            self._end_call(call)
        elif kind is _Timer.RETRY and call.state is CallState.RETRY_WAIT:
            call.state = transition(Machine.CALL, call.state, CallEvent.RETRY, key)
            self._index_call(call)
            self._dirty_calls[key] = None
            self._callback_changed(call, "pending")
