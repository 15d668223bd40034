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
"""

from __future__ import annotations

import copy
import heapq
import itertools
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sortedcontainers import SortedList

from engine.acd import commands
from engine.acd.gone import GoneCalls
from engine.acd.model import Agent, Offer, QueueConfig, QueuedCall
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
from engine.acd.strategies import QUEUE_CHOICES, RANK_KEYS, QueueChoice, RoutingState, choose_agents

Rule = tuple[str, int]
"""A call accepts agents having skill ``rule[0]`` at level >= ``rule[1]``."""

STAFFED = frozenset({AgentState.READY, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.ENGAGED})
ENGAGE_EVENTS = {"dial": AgentEvent.DIAL, "consult": AgentEvent.CONSULT}
FAILURE_EVENTS = {
    "no_answer": OfferEvent.NO_ANSWER,
    "busy": OfferEvent.BUSY,
    "rejected": OfferEvent.REJECT,
    "failed": OfferEvent.FAIL,
}


class UnknownAgent(KeyError):
    """No agent with this id was added."""


class UnknownQueue(KeyError):
    """No queue with this name was configured."""


class _Timer(StrEnum):
    AVAILABLE = "available"
    WRAP_UP = "wrap_up"
    ESCALATE = "escalate"
    MAX_WAIT = "max_wait"
    OFFER_GUARD = "offer_guard"
    CONFIRM = "confirm"
    RETRY = "retry"


@dataclass(slots=True)
class QueueStats:
    """Running totals for one queue."""

    arrived: int = 0
    answered: int = 0
    abandoned: int = 0
    exited: int = 0
    completed: int = 0
    talk_seconds: float = 0.0
    wrap_ups: int = 0
    wrap_up_seconds: float = 0.0

    def average_handle_seconds(self) -> float | None:
        """Mean talk time plus mean wrap-up time; None before the first completed call."""
        if not self.completed:
            return None
        wrap = self.wrap_up_seconds / self.wrap_ups if self.wrap_ups else 0.0
        return self.talk_seconds / self.completed + wrap


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


class Acd:
    """The ACD state and routing; see the module docstring for its contract."""

    def __init__(
        self,
        *,
        queue_choice: QueueChoice = QueueChoice.LONGEST_WAITING,
        seed: int = 0,
        offer_grace_seconds: float = 5.0,
        reset_confirm_seconds: float = 10.0,
    ) -> None:
        """``offer_grace_seconds``: how long past its ring timeout an offer nobody reported on
        is failed as no_answer.  ``reset_confirm_seconds``: how long after :meth:`reset`
        a bridged call not reconfirmed is ended."""
        self._queue_choice = QUEUE_CHOICES[QueueChoice(queue_choice)]
        self._routing = RoutingState(rng=random.Random(seed))
        self._offer_grace = offer_grace_seconds
        self._reset_confirm = reset_confirm_seconds
        self._now = -math.inf
        self._out: list[commands.Command] = []
        self._queues: dict[str, QueueConfig] = {}
        self._stats: dict[str, QueueStats] = {}
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, QueuedCall] = {}
        self._offers: dict[str, Offer] = {}
        self._call_seq = itertools.count()
        self._offer_seq = itertools.count(1)
        self._timer_seq = itertools.count()
        self._timers: list[tuple[float, int, _Timer, str, int]] = []
        # Indexes (derived from the records above).
        self._queues_by_skill: dict[str, set[str]] = {}
        self._members: dict[str, set[str]] = {}
        self._agent_queues: dict[str, set[str]] = {}
        self._staffed: dict[str, int] = {}
        self._available: dict[str, dict[str, Agent]] = {}
        # For RANK_KEYS strategies: the queue's available agents by (key, id), and each one's key.
        self._ranked: dict[str, SortedList] = {}
        self._rank_keys: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._available_by_skill: dict[str, dict[str, Agent]] = {}
        self._indexed_agents: set[str] = set()
        self._waiting: dict[str, SortedList] = {}
        self._widened: dict[str, SortedList] = {}
        self._rules: dict[str, frozenset[Rule]] = {}
        self._dirty_agents: dict[str, None] = {}
        self._dirty_calls: dict[str, None] = {}
        # Abandoned callers who may resume their place: (caller, queue) -> (enqueued_at, until).
        self._resumable: dict[tuple[str, str], tuple[float, float]] = {}
        self._resume_expiry: list[tuple[float, tuple[str, str]]] = []
        self._gone = GoneCalls()  # calls whose caller's channel is gone: never enqueued or offered again

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

    def consult_agent(self, queue: str, exclude: str) -> str | None:
        """The free agent ``queue``'s strategy would pick for a colleague's consultation (never
        ``exclude``, the consulting agent); None when nobody eligible is free. A view: reserve them
        with :meth:`engage` (``consult``). Raises UnknownQueue."""
        config = self._queue(queue)
        pool = [agent for agent in self._available[queue].values() if agent.id != exclude]
        chosen = choose_agents(pool, config, self._routing)
        return chosen[0].id if chosen else None

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

    def add_callback(
        self,
        call_id: str,
        queue: str,
        priority: int,
        enqueued_at: float,
        now: float,
        *,
        caller: str = "",
        attempts: int = 0,
        retry_at: float | None = None,
    ) -> list[commands.Command]:
        """A caller who chose to be called back keeps their place: a virtual call joins ``queue`` with
        their first join time ``enqueued_at`` and ``priority`` (so it sorts where they were).

        It is routed like a queued call; when an agent answers its offer the ACD says
        :class:`~engine.acd.commands.DialCallback`.  ``attempts`` (dials already made) and
        ``retry_at`` (not routed before then) restore a callback after a restart.
        """
        config = self._queue(queue)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ValueError(f"add_callback({call_id!r}).priority: must be an integer, got {priority!r}")
        if call_id in self._calls:
            raise ValueError(f"add_callback({call_id!r}).call_id: the call is already in the ACD")
        self._advance(now)
        call = QueuedCall(
            call_id=call_id,
            queue=queue,
            priority=priority,
            enqueued_at=min(enqueued_at, now),
            caller=caller,
            seq=next(self._call_seq),
            state=CallState.VIRTUAL,
            callback=True,
            attempts=attempts,
        )
        self._arrive(call, config)
        if retry_at is not None and retry_at > now:
            call.state = CallState.RETRY_WAIT
            self._schedule(retry_at, _Timer.RETRY, call_id)
            self._callback_changed(call, "retry")
        else:
            self._index_call(call)
            self._dirty_calls[call_id] = None
            self._callback_changed(call, "pending")
        self._route()
        return self._flush()

    def callback_connected(self, call_id: str, now: float) -> list[commands.Command]:
        """The customer answered the callback and is bridged to the agent: dialling -> bridged."""
        self._advance(now)
        call = self._calls.get(call_id)
        if call is not None:
            call.state = transition(Machine.CALL, call.state, CallEvent.CONNECTED, call_id)
            call.bridged_at = now
            self._stats[call.queue].answered += 1
            self._callback_changed(call, "connected")
        return self._flush()

    def callback_failed(self, call_id: str, now: float) -> list[commands.Command]:
        """The customer was not reached (no answer, busy, failed): the agent is ready again (no delay);
        the call waits ``callback_retry_seconds`` out of routing, then is back at its place, or, after
        ``callback_attempts`` dials, leaves (``QueueExit(reason='callback_failed', target='ticket')``)."""
        self._advance(now)
        call = self._calls.get(call_id)
        if call is not None:
            config = self._queues[call.queue]
            give_up = call.attempts + 1 >= config.callback_attempts
            transition(Machine.CALL, call.state, CallEvent.GIVE_UP if give_up else CallEvent.NO_CONTACT, call_id)
            call.attempts += 1
            if call.agent_id is not None:
                agent = self._agents[call.agent_id]
                agent.call_id = call.agent_id = None
                self._agent_event(agent, AgentEvent.CALLBACK_FAILED, now)
            if give_up:
                self._exit_call(call, CallEvent.GIVE_UP, "callback_failed", "ticket")
                self._callback_changed(call, "failed")
            else:
                call.state = transition(Machine.CALL, call.state, CallEvent.NO_CONTACT, call_id)
                self._schedule(now + config.callback_retry_seconds, _Timer.RETRY, call_id)
                self._callback_changed(call, "retry")
            self._route()
        return self._flush()

    def cancel_callback(self, call_id: str, now: float) -> list[commands.Command]:
        """An operator cancels a callback not being dialled or talked to (else IllegalTransition);
        a ringing offer is withdrawn.  Calls the ACD does not hold are ignored."""
        self._advance(now)
        call = self._calls.get(call_id)
        if call is not None:
            transition(Machine.CALL, call.state, CallEvent.CANCEL, call_id)
            for offer_id in sorted(call.offer_ids):
                self._withdraw(self._offers[offer_id], OfferEvent.CANCEL, AgentEvent.OFFER_CANCELLED)
            self._exit_call(call, CallEvent.CANCEL, "cancelled", "callback")
            self._callback_changed(call, "cancelled")
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
            call.agent_id = call.bridged_at = None
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
        the head; bridged calls are ended after ``reset_confirm_seconds`` unless confirmed."""
        self._advance(now)
        for offer in sorted(self._offers.values(), key=lambda o: o.offer_id):
            self._withdraw(offer, OfferEvent.FAIL, AgentEvent.OFFER_CANCELLED)
            self._after_offer(self._calls[offer.call_id])
        for call in self._calls.values():
            if call.state is CallState.BRIDGED:
                call.confirmed = False
                self._schedule(now + self._reset_confirm, _Timer.CONFIRM, call.call_id)
        self._route()
        return self._flush()

    # ------------------------------------------------------------------ views

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

    # ------------------------------------------------------------------ internals: plumbing

    def _flush(self) -> list[commands.Command]:
        out, self._out = self._out, []
        return out

    def _agent(self, agent_id: str) -> Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownAgent(f"agent {agent_id!r} was never added") from None

    def _queue(self, name: str) -> QueueConfig:
        try:
            return self._queues[name]
        except KeyError:
            raise UnknownQueue(f"queue {name!r} is not configured") from None

    def _schedule(self, at: float, kind: _Timer, key: str, arg: int = 0) -> None:
        heapq.heappush(self._timers, (at, next(self._timer_seq), kind, key, arg))

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

    # ------------------------------------------------------------------ internals: agents

    def _join_queue(self, agent: Agent, config: QueueConfig) -> None:
        if agent.level(config.skill) < config.min_level:
            return
        self._members[config.name].add(agent.id)
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

    # ------------------------------------------------------------------ internals: offers

    def _resolve_offer(self, offer: Offer, event: OfferEvent) -> None:
        offer.state = transition(Machine.OFFER, offer.state, event, offer.offer_id)
        del self._offers[offer.offer_id]
        self._calls[offer.call_id].offer_ids.discard(offer.offer_id)
        self._agents[offer.agent_id].offer_id = None

    def _withdraw(self, offer: Offer, event: OfferEvent, agent_event: AgentEvent, reason: str = "") -> None:
        """Stop a ringing offer (CancelOffer) and move its agent on with ``agent_event``; no penalty."""
        self._out.append(commands.CancelOffer(offer.offer_id, offer.call_id, offer.agent_id))
        self._resolve_offer(offer, event)
        self._agent_event(self._agents[offer.agent_id], agent_event, self._now, reason or "cancelled")

    def _fail_offer(self, offer: Offer, reason: str) -> None:
        self._resolve_offer(offer, FAILURE_EVENTS[reason])
        agent = self._agents[offer.agent_id]
        config = self._queues[offer.queue]
        if reason == "no_answer":
            agent.no_answer_count += 1
        elif reason == "rejected":
            agent.no_answer_count = 0
        if reason == "no_answer" and config.max_no_answer and agent.no_answer_count >= config.max_no_answer:
            agent.no_answer_count = 0
            self._agent_event(agent, AgentEvent.TOO_MANY_NO_ANSWERS, self._now, "no_answer")
        else:
            delay = {
                "no_answer": config.no_answer_delay_seconds,
                "busy": config.busy_delay_seconds,
                "rejected": config.reject_delay_seconds,
                "failed": config.failed_delay_seconds,
            }[reason]
            agent.available_at = self._now + delay
            self._agent_event(agent, AgentEvent.OFFER_FAILED, self._now, reason)
        self._after_offer(self._calls[offer.call_id])

    def _after_offer(self, call: QueuedCall) -> None:
        """A call lost an offer: once none rings, it returns to the head of its queue (or exits)."""
        if call.offer_ids:
            return
        call.state = transition(Machine.CALL, call.state, CallEvent.OFFER_FAILED, call.call_id)
        self._requeue(call)

    def _requeue(self, call: QueuedCall) -> None:
        """Back in its queue at its old place (or out of it, if it waited its queue's maximum)."""
        config = self._queues[call.queue]
        if (
            call.state is CallState.QUEUED
            and config.max_wait_seconds is not None
            and self._now >= call.enqueued_at + config.max_wait_seconds
        ):
            self._exit_call(call, CallEvent.MAX_WAIT, "max_wait", config.exit_target or "")
            return
        self._index_call(call)
        self._dirty_calls[call.call_id] = None

    def _make_offers(self, call: QueuedCall, agents: list[Agent]) -> None:
        config = self._queues[call.queue]
        self._unindex_call(call.call_id)
        call.state = transition(Machine.CALL, call.state, CallEvent.OFFER, call.call_id)
        self._routing.chosen(config, agents[0])
        for agent in agents:
            offer = Offer(f"offer-{next(self._offer_seq)}", call.call_id, agent.id, call.queue, self._now)
            self._offers[offer.offer_id] = offer
            call.offer_ids.add(offer.offer_id)
            agent.offer_id = offer.offer_id
            self._agent_event(agent, AgentEvent.OFFER, self._now)
            self._schedule(
                self._now + config.ring_timeout_seconds + self._offer_grace, _Timer.OFFER_GUARD, offer.offer_id
            )
            self._out.append(
                commands.Offer(
                    offer.offer_id, call.call_id, agent.id, call.queue, config.ring_timeout_seconds, agent.contact
                )
            )

    # ------------------------------------------------------------------ internals: calls

    def _end_call(self, call: QueuedCall, event: CallEvent = CallEvent.HANG_UP) -> None:
        """The call is gone (caller hung up, its channel is gone, or a bridged call was not reconfirmed
        after reset)."""
        state = call.state
        ended = transition(Machine.CALL, state, event, call.call_id)
        for offer_id in sorted(call.offer_ids):
            self._withdraw(self._offers[offer_id], OfferEvent.CANCEL, AgentEvent.OFFER_CANCELLED)
        call.state = ended
        self._unindex_call(call.call_id)
        del self._calls[call.call_id]
        stats = self._stats[call.queue]
        if state is CallState.BRIDGED and event is CallEvent.HANG_UP:
            stats.completed += 1
            self._finish_call(call)
            if call.callback:
                self._callback_changed(call, "completed")
            return
        stats.abandoned += 1
        self._out.append(commands.CallAbandoned(call.call_id, call.queue, self._now - call.enqueued_at))
        window = self._queues[call.queue].resume_seconds
        if call.caller and window > 0:
            key = (call.caller, call.queue)
            self._resumable[key] = (call.enqueued_at, self._now + window)
            heapq.heappush(self._resume_expiry, (self._now + window, key))

    def _resume(self, caller: str, queue: str) -> float | None:
        """The arrival time of ``caller``'s call abandoned in ``queue`` within its resume window."""
        while self._resume_expiry and self._resume_expiry[0][0] < self._now:
            until, key = heapq.heappop(self._resume_expiry)
            if self._resumable.get(key, (0.0, None))[1] == until:
                del self._resumable[key]
        found = self._resumable.pop((caller, queue), None) if caller else None
        return None if found is None else found[0]

    def _finish_call(self, call: QueuedCall) -> None:
        """Account the ended bridged call and put its agent into wrap-up."""
        assert call.agent_id is not None and call.bridged_at is not None, "a bridged call has an agent"
        agent = self._agents[call.agent_id]
        talk = self._now - call.bridged_at
        config = self._queues[call.queue]
        self._stats[call.queue].talk_seconds += talk
        agent.talk_seconds += talk
        agent.calls_handled += 1
        agent.last_call_ended_at = self._now
        agent.call_id = None
        self._agent_event(agent, AgentEvent.CALL_ENDED, self._now)
        agent.wrap_up_queue = call.queue
        agent.wrap_up_until = self._now + config.wrap_up_seconds
        if config.wrap_up_seconds <= 0:
            self._agent_event(agent, AgentEvent.WRAP_UP_ENDED, self._now)
        else:
            self._schedule(agent.wrap_up_until, _Timer.WRAP_UP, agent.id)

    def _arrive(self, call: QueuedCall, config: QueueConfig) -> None:
        """Hold a new call; count it; apply the escalation steps due and schedule the others."""
        self._calls[call.call_id] = call
        self._stats[call.queue].arrived += 1
        for step_no, step in enumerate(config.escalation, start=1):
            if call.enqueued_at + step.after_seconds <= self._now:
                call.escalation = step_no
            else:
                self._schedule(call.enqueued_at + step.after_seconds, _Timer.ESCALATE, call.call_id, step_no)

    def _callback_changed(self, call: QueuedCall, status: str) -> None:
        self._out.append(commands.CallbackChanged(call.call_id, call.queue, status, call.attempts, call.agent_id))

    def _exit_call(self, call: QueuedCall, event: CallEvent, reason: str, target: str) -> None:
        call.state = transition(Machine.CALL, call.state, event, call.call_id)
        self._unindex_call(call.call_id)
        del self._calls[call.call_id]
        self._stats[call.queue].exited += 1
        self._out.append(commands.QueueExit(call.call_id, call.queue, reason, target, call.enqueued_at))

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
