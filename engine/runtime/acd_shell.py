"""The I/O shell around the ACD: feeds it events, carries out its commands over ESL.

The :class:`~engine.acd.core.Acd` decides; this module only acts. Every ACD method runs to
completion without yielding (gevent is cooperative), so the ACD is never seen half-changed; the
commands it returns are then carried out, those that wait on FreeSWITCH in their own greenlets.

Offers ring an agent with ``bgapi originate {origination_uuid=...}<contact> &park()``: the
BACKGROUND_JOB result says answered (``+OK <uuid>``) or why not (``-ERR NO_ANSWER``...). An answered
agent leg is joined to the caller with ``uuid_bridge``. Call sessions learn what happened to their
call through an inbox (:class:`Bridged`, :class:`BridgeFailed`, :class:`LeftQueue`).

The bridge is made on the caller's own connection, after ``uuid_break <caller> all``: FreeSWITCH
runs applications still queued on a channel *inside* its bridge (switch_ivr_bridge.c parses the
private events in the bridge loop), so hold music sent just before the agent answered would play
over the agent for good. The call counts as talking only once the caller's CHANNEL_BRIDGE arrives
(``uuid_bridge`` answers before the bridge exists); a bridge that does not form is retried, then
the agent's leg is released and the call goes back to the head of its queue; if FreeSWITCH says the
*caller's* channel is gone, the call ends as abandoned instead (``Acd.caller_gone``), never offered again.

No agent's phone stays parked: an offer's leg carries ``park_timeout`` (FreeSWITCH hangs it up when nobody
bridged it in time, even with the engine gone), every leg hotline originates carries its own ``origination_uuid``; a leg
the shell lets go of (an offer that failed, timed out or was withdrawn, a bridge that did not form) is
killed at once and remembered, and :meth:`AcdShell.reconcile` (every ``reconcile_seconds``) kills those
FreeSWITCH still lists: a leg whose originate reply timed out may only appear after the kill was sent.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import gevent
from gevent.event import Event

from engine.acd import commands
from engine.acd.base import UnknownQueue
from engine.acd.causes import HANGUP_CAUSES, OFFER_FAILURES, offer_failure
from engine.acd.core import Acd
from engine.acd.states import AgentState
from engine.cti import Hub
from engine.esl import dialstring
from engine.esl.codec import UnsafeValue
from engine.metrics import LiveSample, Metrics, QueueSample
from engine.runtime import adopt_vars
from engine.runtime.notices import (  # re-exported: sessions, campaigns and callbacks import them from here
    AgentLegs,
    Bridged,
    BridgeFailed,
    CallerGone,
    ConsultHold,
    Esl,
    LeftQueue,
    QueuedInfo,
    TransferCall,
)
from engine.runtime.orphans import OrphanLegs
from engine.runtime.supervise import supervised
from engine.transport import CommandFailed, CommandTimeout, ConnectionLost, ESLError, InboundClient

log = logging.getLogger(__name__)
__all__ = [
    "AcdShell", "AgentLegs", "BridgeFailed", "Bridged", "CallerGone", "ConsultHold", "Esl", "LeftQueue", "QueuedInfo",
    "TransferCall", "failure_reason",
]  # fmt: skip

BRIDGE_ATTEMPTS = 2

# FreeSWITCH originate failures (the text after -ERR) -> the ACD's offer failure reasons, from the one
# map of hang-up causes (engine.acd.causes).
FAILURE_REASONS = {cause: OFFER_FAILURES[o] for cause, o in HANGUP_CAUSES.items() if o in OFFER_FAILURES}


def failure_reason(exc: CommandFailed) -> str:
    """The ACD's failure reason for a failed ``originate`` (``-ERR NO_ANSWER`` -> ``no_answer``)."""
    return offer_failure(str(exc))


@dataclass
class _OfferIO:
    offer_id: str
    call_id: str
    agent_id: str
    queue: str
    leg: str
    cancelled: bool = False
    lost: bool = False  # its originate was lost with the control connection


class CallbackHandler(Protocol):
    """Carries out keep-your-place callbacks (``engine.runtime.callbacks.Callbacks``)."""

    def dial(self, command: commands.DialCallback, agent_leg: str | None) -> None: ...

    def changed(self, change: commands.CallbackChanged) -> None: ...


StateListener = Callable[[commands.AgentStateChanged], None]
BridgeListener = Callable[[str, str, str], None]
"""Told (call id, agent id, queue) once a caller and an agent are bridged."""


class AcdShell:
    """Owns the :class:`Acd` and carries out its commands; keeps no copy of what the ACD knows.

    Which calls are held and where (queue, priority, join time), which agent and which agent leg a
    bridged call has and when it bridged are asked of the ACD (``self.acd.call``, ``agent_leg``,
    ``bridged_calls``; :attr:`agent_legs` is a view of them). The shell's own dictionaries are I/O
    bookkeeping only:

    - ``inboxes``: call id -> its session's :class:`QueuedInfo` (where notices go, the caller's
      connection, the screen pop), from :meth:`enqueue` until the call ends or leaves the queue;
    - ``_offers``: offer id -> the ``originate`` in flight (the leg uuid hotline chose, whether the ACD
      withdrew the offer meanwhile), until its reply is handled;
    - ``_joining``: call id -> the Event its CHANNEL_BRIDGE sets while a ``uuid_bridge`` is confirmed;
    - the ticker and reconciler greenlets, and :class:`~engine.runtime.orphans.OrphanLegs` (legs let go
      of, killed until FreeSWITCH no longer lists them).
    """

    def __init__(
        self,
        acd: Acd,
        control: InboundClient,
        hub: Hub,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.monotonic,
        tick_seconds: float = 0.25,
        bridge_confirm_seconds: float = 5.0,
        reconcile_seconds: float = 30.0,
        leg_memory_seconds: float = 300.0,
    ) -> None:
        """``reconcile_seconds``: how often legs let go of are checked against FreeSWITCH's channels;
        ``leg_memory_seconds``: how long a leg let go of is looked for (it may appear late)."""
        self.acd = acd
        self.run_id = uuid.uuid4().hex[:12]  # this engine run's mark on the agent legs it rings
        self.control = control
        self.hub = hub
        self.metrics = metrics
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.bridge_confirm_seconds = bridge_confirm_seconds
        self.reconcile_seconds = reconcile_seconds
        self.originate_margin_seconds = 10.0  # how long past the ring timeout an originate's result may take
        #: An answered agent leg that nobody bridges within this many seconds (a callback's: plus the queue's
        #: ``callback_ring_seconds``, as its agent waits parked while the customer's phone rings) is hung up
        #: by FreeSWITCH itself (``park_timeout``): no phone stays parked, whatever became of the engine.
        self.offer_park_seconds = 30
        self.leg_memory_seconds = leg_memory_seconds
        self.orphans = OrphanLegs(control, metrics, clock, leg_memory_seconds)
        self._reconciler: gevent.Greenlet | None = None
        self.inboxes: dict[str, QueuedInfo] = {}  # I/O: each queued call's session handle (see the class)
        self.agent_legs = AgentLegs(acd)  # a view of the ACD's bridged calls, not a copy
        self._offers: dict[str, _OfferIO] = {}  # I/O: originates in flight, by offer id
        self._joining: dict[str, tuple[Event, Bridged]] = {}  # call id -> (set on its CHANNEL_BRIDGE, the notice)
        self._state_listeners: list[StateListener] = []
        self._bridge_listeners: list[BridgeListener] = []
        self._seen_listeners: list[Callable[[str], None]] = []
        self._ticker: gevent.Greenlet | None = None
        self.callbacks: CallbackHandler | None = None
        metrics.watch_live(self.live_sample)

    def on_agent_state(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    def on_bridged(self, listener: BridgeListener) -> None:
        self._bridge_listeners.append(listener)

    def on_bridge_seen(self, listener: Callable[[str], None]) -> None:
        """``listener(call id)`` hears every CHANNEL_BRIDGE of a caller's own connection (any bridge,
        also one FreeSWITCH's dialplan made after a blind transfer)."""
        self._seen_listeners.append(listener)

    # ---- feeding the ACD --------------------------------------------------------------------

    def apply(self, event: Callable[[float], list[commands.Command]]) -> None:
        """Run one ACD event at the current time and carry out what it decided."""
        for command in event(self.clock()):
            self._carry_out(command)

    def start(self) -> None:
        # supervised: an error in one tick is logged and ticking goes on (timers must keep moving)
        self._ticker = supervised("acd_ticker", self._tick_forever, self.metrics, backoff=(self.tick_seconds, 5.0))
        self._reconciler = supervised(
            "acd_reconciler", self.orphans.run_forever, self.metrics, lambda: self.reconcile_seconds
        )
        self.control.on_connected(self._reconnected)

    def stop(self) -> None:
        for greenlet in (self._ticker, self._reconciler):
            if greenlet:
                greenlet.kill()

    def _tick_forever(self) -> None:
        while True:
            gevent.sleep(self.tick_seconds)  # a timer, not synchronisation: the ACD's clock advances
            self.apply(self.acd.tick)

    def _reconnected(self) -> None:
        """FreeSWITCH (re)connected: offers in flight are void; bridged calls are kept if still there
        (the caller's channel or the agent's leg: a callback's virtual call has only the latter)."""
        self.apply(self.acd.reset)
        for call in self.acd.bridged_calls():
            legs = [call.call_id, call.agent_leg] if call.agent_leg else [call.call_id]
            try:
                if any(self.control.api("uuid_exists", leg).strip() == "true" for leg in legs):
                    self.acd.confirm_bridged(call.call_id)
            except ESLError:
                continue

    def enqueue(self, info: QueuedInfo, priority: int) -> None:
        self.inboxes[info.call_id] = info
        if self.acd.is_parked(info.call_id):  # a parked caller back after a restart: their held place
            self.apply(lambda now: self.acd.reclaim(info.call_id, now))
            return
        self.metrics.calls_offered.labels(info.queue).inc()
        self.apply(lambda now: self.acd.enqueue(info.call_id, info.queue, priority, now, caller=info.caller))

    def leave(self, call_id: str, target: str) -> None:
        """The caller chose to leave the queue for ``target``; their session hears :class:`LeftQueue`."""
        self.apply(lambda now: self.acd.leave(call_id, target, now))

    def call_ended(self, call_id: str) -> None:
        """The caller hung up (or the session ended). Before the bridge formed (an agent answered, the
        bridge is being made) this is the caller gone: abandoned, the agent back to ready at once."""
        info = self.inboxes.get(call_id)
        if info is not None and info.connecting:
            self.caller_gone(call_id)
        call = self.acd.call(call_id)  # before the ACD forgets it
        self.apply(lambda now: self.acd.call_ended(call_id, now))
        info = self.inboxes.pop(call_id, None)
        if call is not None and call.agent_leg and call.bridged_at is not None:
            self.metrics.talk_seconds.labels(call.queue).observe(max(0.0, self.clock() - call.bridged_at))
        if info:
            for offer in [o for o in self._offers.values() if o.call_id == call_id]:
                self.hub.clear(offer.agent_id)

    def caller_gone(self, call_id: str) -> None:
        """FreeSWITCH says the caller's channel is gone: the ACD ends the call (abandoned, never offered
        again) and its session hears :class:`CallerGone`."""
        info, call = self.inboxes.get(call_id), self.acd.call(call_id)
        if info is None:
            return
        self.metrics.callers_gone.labels(call.queue if call else info.queue).inc()
        info.connecting = False
        self.apply(lambda now: self.acd.caller_gone(call_id, now))
        info.inbox.put(CallerGone())

    # ---- carrying out commands --------------------------------------------------------------

    def _carry_out(self, command: commands.Command) -> None:
        match command:
            case commands.Offer():
                self._offer(command)
            case commands.CancelOffer():
                self._cancel(command)
            case commands.Bridge():
                if info := self.inboxes.get(command.call_id):
                    info.connecting = True  # before anything yields: the session queues no more media
                gevent.spawn(self._bridge, command)
            case commands.QueueExit():
                info = self.inboxes.pop(command.call_id, None)
                if info:
                    info.inbox.put(LeftQueue(command.reason, command.target, command.enqueued_at))
            case commands.AgentStateChanged():
                self.hub.publish(
                    command.agent_id,
                    "agent_state",
                    {"agent": command.agent_id, "state": str(command.new), "reason": command.reason},
                )
                for listener in self._state_listeners:
                    listener(command)
            case commands.DialCallback() if self.callbacks is not None:
                io = self._offers.pop(command.offer_id, None)
                gevent.spawn(self.callbacks.dial, command, io.leg if io else None)
            case commands.CallbackChanged() if self.callbacks is not None:
                self.callbacks.changed(command)
            case commands.CallAbandoned():
                self.metrics.wait_seconds.labels(command.queue, "abandoned").observe(command.waited)

    def _offer(self, offer: commands.Offer) -> None:
        info, call = self.inboxes.get(offer.call_id), self.acd.call(offer.call_id)
        io = _OfferIO(offer.offer_id, offer.call_id, offer.agent_id, offer.queue, str(uuid.uuid4()))
        self._offers[offer.offer_id] = io
        if info is not None and call is not None:
            info.first_offer_at = info.first_offer_at or datetime.now(UTC)
            pop = {**info.pop, "phase": "offer", "waited_seconds": round(self.clock() - call.enqueued_at, 3)}
            self.hub.publish(offer.agent_id, "screen_pop", pop, sticky=True)
            self.metrics.screen_pops.labels("offer").inc()
        gevent.spawn(self._ring, offer, io, call.caller if call else "", call is not None and call.callback)

    def _ring(self, offer: commands.Offer, io: _OfferIO, caller: str, callback: bool = False) -> None:
        parked = self.offer_park_seconds
        if callback:  # the agent waits parked while the customer's phone rings
            with contextlib.suppress(UnknownQueue):
                parked += int(self.acd.queue_config(offer.queue).callback_ring_seconds)
        variables = {
            "origination_uuid": io.leg,
            "originate_timeout": int(offer.timeout_seconds),
            "hotline_call": offer.call_id,
            "hotline_offer": offer.offer_id,
            "hotline_engine": self.run_id,  # whose offer: a restarted engine kills the legs of offers not its own
            "origination_caller_id_number": dialstring.caller_id(caller) if caller else "hotline",
            "hangup_after_bridge": "true",
            "park_timeout": f"{parked}:ALLOTTED_TIMEOUT",
            **adopt_vars.offer_leg_variables(offer.agent_id, offer.call_id),  # for adoption, set from birth
        }
        try:
            self.control.bgapi(
                *dialstring.originate(variables, offer.contact, "park"),
                timeout=offer.timeout_seconds + self.originate_margin_seconds,
            )
        except (CommandFailed, UnsafeValue) as exc:
            reason = failure_reason(exc) if isinstance(exc, CommandFailed) else "failed"
            if isinstance(exc, UnsafeValue):
                log.warning("offer %s to %s: not rung: %s", offer.offer_id, offer.agent_id, exc)
                self.metrics.unsafe_values.labels("agent_contact").inc()
            self._offers.pop(offer.offer_id, None)
            self._count_offer(io, reason)
            if not io.cancelled:
                self.apply(lambda now: self.acd.offer_failed(offer.offer_id, reason, now))
            return
        except ConnectionLost as exc:
            # FreeSWITCH is out of reach, nobody to blame: the ACD's offer_lost rule. The leg, had it been made,
            # is killed once FreeSWITCH is back (and reconciled, should that kill miss it).
            log.warning("offer %s to %s: %s", offer.offer_id, offer.agent_id, exc)
            if not io.cancelled:
                io.lost = True
                self.apply(lambda now: self.acd.offer_lost(offer.offer_id, now))
            if self.control.wait_connected(self.orphans.memory_seconds):
                self.orphans.release(io.leg, "ORIGINATOR_CANCEL")
            return
        except ESLError as exc:
            log.warning("offer %s to %s: %s", offer.offer_id, offer.agent_id, exc)
            self._offers.pop(offer.offer_id, None)
            self._count_offer(io, "failed")
            if not io.cancelled:
                self.apply(lambda now: self.acd.offer_failed(offer.offer_id, "failed", now))
            if isinstance(exc, CommandTimeout):  # the leg may exist, or appear later
                self.orphans.release(io.leg, "ORIGINATOR_CANCEL", "command_timeout")
            return
        if io.cancelled:  # answered just as the ACD withdrew the offer: release the agent's phone
            self.orphans.release(io.leg, "ORIGINATOR_CANCEL")
            return
        self._count_offer(io, "answered")
        self.apply(lambda now: self.acd.offer_answered(offer.offer_id, now))

    def _count_offer(self, io: _OfferIO, result: str) -> None:
        self.metrics.offers.labels(result).inc()
        self.metrics.queue_offers.labels(io.queue, result).inc()

    def _cancel(self, cancel: commands.CancelOffer) -> None:
        io = self._offers.pop(cancel.offer_id, None)
        self.hub.clear(cancel.agent_id)
        if io is not None:
            io.cancelled = True
            self._count_offer(io, "lost" if io.lost else "cancelled")
            gevent.spawn(self.orphans.release, io.leg, "ORIGINATOR_CANCEL")

    def reconcile(self) -> int:
        """Kill the legs hotline let go of that FreeSWITCH still lists (see :mod:`engine.runtime.orphans`)."""
        return self.orphans.reconcile()

    def _bridge(self, bridge: commands.Bridge) -> None:
        io = self._offers.pop(bridge.offer_id, None)
        info = self.inboxes.get(bridge.call_id)
        if io is None or info is None:
            return
        queue = held.queue if (held := self.acd.call(bridge.call_id)) else info.queue
        failure = self._join(info, Bridged(bridge.agent_id, io.leg))
        if failure is None and not self.acd.has_call(bridge.call_id):
            # The caller hung up between its CHANNEL_BRIDGE and now: the call has ended and is recorded, so
            # nothing may start tracking it (hold, segments, talk time: a soak found them kept for ever).
            return
        if failure is None:
            self._bridged(bridge, info, io.leg)
            return
        self.orphans.release(io.leg, "NORMAL_CLEARING")
        if failure == "caller_gone" or not self.acd.has_call(bridge.call_id):
            log.warning("bridge %s <-> %s: the caller is gone; the call ends", info.call_id, io.leg)
            self.metrics.bridge_failures.labels(queue, "caller_gone").inc()
            self.caller_gone(bridge.call_id)
            return
        log.warning("bridge %s <-> %s: %s; the call goes back to the head of %s", info.call_id, io.leg, failure, queue)
        self.metrics.bridge_failures.labels(queue, failure).inc()
        info.connecting = False
        self.apply(lambda now: self.acd.bridge_failed(bridge.call_id, now))
        info.inbox.put(BridgeFailed())

    def _join(self, info: QueuedInfo, notice: Bridged) -> str | None:
        """Bridge the caller to the agent's leg (see the module's notes); None once bridged, else why
        not: ``caller_gone`` (FreeSWITCH says the caller's channel is gone), ``refused`` (the agent's leg is
        gone, or no reply) or ``no_bridge_event`` (FreeSWITCH accepted, never bridged).
        The session hears ``notice`` when its CHANNEL_BRIDGE arrives, in order with its other events;
        a call with no session of its own hears it once FreeSWITCH accepted."""
        try:
            for _ in range(BRIDGE_ATTEMPTS):
                seen = Event()
                self._joining[info.call_id] = (seen, notice)
                try:
                    self.bridge_caller(info.call_id, notice.agent_leg, info.esl)
                except ESLError as exc:
                    log.info("bridge %s <-> %s: %s", info.call_id, notice.agent_leg, exc)
                    return "caller_gone" if self._caller_is_gone(info.call_id) else "refused"
                if info.esl is None:
                    info.inbox.put(notice)
                    return None
                if seen.wait(self.bridge_confirm_seconds):
                    return None
                log.warning("bridge %s <-> %s: no CHANNEL_BRIDGE yet, bridging again", info.call_id, notice.agent_leg)
            return "no_bridge_event"
        finally:
            self._joining.pop(info.call_id, None)

    def _caller_is_gone(self, call_id: str) -> bool:
        """After a refused bridge (``-ERR No such channel!``, ``-ERR Invalid uuid``, no reply): is it the
        caller's channel that is gone? FreeSWITCH is asked (``uuid_exists``); no answer: not known gone."""
        try:
            return self.control.api("uuid_exists", call_id).strip() == "false"
        except ESLError:
            return False

    def bridge_caller(self, call_id: str, leg: str, esl: Esl | None = None) -> None:
        """``uuid_break <caller> all``, then ``uuid_bridge <caller> <leg>``, in one write (on the control
        connection unless told): nothing left queued on the caller plays inside the bridge. Raises ESLError."""
        (esl or self.control).apis(("uuid_break", call_id, "all"), ("uuid_bridge", call_id, leg))

    def bridge_seen(self, call_id: str) -> None:
        """The caller's own connection saw its CHANNEL_BRIDGE: an agent's answer became a bridge."""
        joining, info = self._joining.pop(call_id, None), self.inboxes.get(call_id)
        if joining is not None:
            seen, notice = joining
            if info is not None:
                info.connecting = False  # bridged: a hangup from now on ends a talking call, not a gone caller
                info.inbox.put(notice)  # before the session reads any later event of its call
            seen.set()
        for listener in self._seen_listeners:
            listener(call_id)

    def _bridged(self, bridge: commands.Bridge, info: QueuedInfo, leg: str) -> None:
        info.connecting = False
        call = self.acd.call(bridge.call_id)
        if call is None:  # ended as the bridge formed (checked by the caller; nothing yielded since)
            return
        waited = self.clock() - call.enqueued_at
        self.metrics.wait_seconds.labels(call.queue, "answered").observe(waited)
        pop = {**info.pop, "phase": "answer", "waited_seconds": round(waited, 3)}
        self.hub.publish(bridge.agent_id, "screen_pop", pop, sticky=True)
        self.metrics.screen_pops.labels("answer").inc()
        for listener in self._bridge_listeners:  # before the call is seen bridged: e.g. hold is tracked
            listener(bridge.call_id, bridge.agent_id, call.queue)
        self.joined(bridge.call_id, leg)

    def joined(self, call_id: str, agent_leg: str) -> None:
        """The call is talking to the agent on ``agent_leg``: the ACD records it (for transfers,
        consultations, reconnects and talk time)."""
        self.acd.bridge_formed(call_id, agent_leg)

    def transfer(self, call_id: str, target: str) -> None:
        """Send a bridged caller on to ``target``: the caller is kept after the bridge, the session is
        told, then the agent's leg is hung up."""
        info, leg = self.inboxes.get(call_id), self.acd.agent_leg(call_id)
        if info is None or leg is None:
            raise LookupError(f"call {call_id} is not bridged to an agent")
        self.control.api("uuid_setvar", call_id, "park_after_bridge", "true")  # a uuid_bridge'd caller is
        info.inbox.put(TransferCall(target))  # otherwise hung up when the agent's leg goes
        self.orphans.kill(leg, "NORMAL_CLEARING")

    def hold_for_consult(self, call_id: str, *, music: bool = True) -> str:
        """The caller's bridge with the agent is about to end without ending the call: the session hears
        :class:`ConsultHold` (with ``music`` it plays music once the bridge ends); returns the agent's leg."""
        info, leg = self.inboxes.get(call_id), self.acd.agent_leg(call_id)
        if info is None or leg is None:
            raise LookupError(f"call {call_id} is not bridged to an agent")
        info.inbox.put(ConsultHold(music))
        return leg

    # ---- views ------------------------------------------------------------------------------

    def live_sample(self) -> LiveSample:
        now = self.clock()
        queues = []
        for name in self.acd.queue_names():
            status = self.acd.queue_status(name, now)
            by_state = {str(state): n for state, n in status.agents.items()}
            queues.append(QueueSample(name, status.waiting, status.longest_wait, by_state))
        by_state = {str(state): n for state, n in self.acd.agent_counts().items()}
        return LiveSample(queues, by_state)

    def agent_state(self, agent_id: str) -> AgentState:
        return self.acd.agent_state(agent_id)
