"""Keep-your-place callbacks: virtual calls holding a caller's place until an agent takes them."""

from __future__ import annotations

from engine.acd import commands
from engine.acd.base import AcdBase, _Timer
from engine.acd.model import QueuedCall
from engine.acd.states import (
    AgentEvent,
    CallEvent,
    CallState,
    Machine,
    OfferEvent,
    transition,
)


class Callbacks(AcdBase):
    """The callback events of the ACD."""

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
