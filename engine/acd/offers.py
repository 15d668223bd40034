"""Offers and calls: ringing, failing, withdrawing, re-queueing, ending and leaving."""

from __future__ import annotations

import heapq
import math

from engine.acd import commands
from engine.acd.base import FAILURE_EVENTS, AcdBase, _Timer
from engine.acd.model import Agent, Offer, QueueConfig, QueuedCall
from engine.acd.states import (
    AgentEvent,
    CallEvent,
    CallState,
    Machine,
    OfferEvent,
    transition,
)


class Offers(AcdBase):
    """The lifecycle of offers and calls once the ACD holds them."""

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

    def bridge_formed(self, call_id: str, agent_leg: str) -> bool:
        """The shell saw the call joined to the agent's channel ``agent_leg`` (the caller's bridge formed,
        an adopted call, a callback's customer answered): the fact transfers, consultations and reconnects
        ask for (:meth:`~engine.acd.queries.Queries.agent_leg`). Changes no state; False (nothing recorded)
        for a call not held or with no agent."""
        call = self._calls.get(call_id)
        if call is None or call.agent_id is None or call.state not in (CallState.BRIDGED, CallState.DIALLING):
            return False
        call.agent_leg = agent_leg
        return True

    def offer_lost(self, offer_id: str, now: float) -> list[commands.Command]:
        """The offer's ``originate`` was lost with the control connection (FreeSWITCH out of reach):
        the offer ends ``lost`` (a CancelOffer kills the leg, had it been made), the call returns to the
        head of its queue, and the agent is ``ready`` with no penalty but held out of routing until
        FreeSWITCH is back (:meth:`reset`): no more offers that cannot ring. Offers the ACD already
        resolved are ignored."""
        self._advance(now)
        offer = self._offers.get(offer_id)
        if offer is not None:
            agent = self._agents[offer.agent_id]
            agent.available_at = math.inf
            self._withdraw(offer, OfferEvent.LOSE, AgentEvent.OFFER_LOST, "switch_lost")
            self._after_offer(self._calls[offer.call_id])
            self._route()
        return self._flush()

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
        self._queue_calls[call.queue].discard(call.call_id)
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
        self._queue_calls[call.queue].add(call.call_id)
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
        self._queue_calls[call.queue].discard(call.call_id)
        self._stats[call.queue].exited += 1
        self._out.append(commands.QueueExit(call.call_id, call.queue, reason, target, call.enqueued_at))
