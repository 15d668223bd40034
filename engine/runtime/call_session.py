"""One inbound call, from FreeSWITCH handing it over to the CDR: the call path of hotline.

answer -> IVR flow (actions carried out by :class:`IvrExecutor`) -> terminal action:
queue (wait with music on hold until the ACD bridges an agent, or moves the call on), transfer,
hang up, or callback -> on hangup, one CDR and one CRM interaction, in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from gevent.queue import Empty, Queue

from engine.esl import dialstring
from engine.esl.codec import UnsafeValue
from engine.ivr import actions as a
from engine.ivr.flow import Flow
from engine.ivr.interpreter import CallContext, FlowRun
from engine.ivr.tally import tally
from engine.metrics import Metrics
from engine.runtime import adopt_vars, reclaim
from engine.runtime.acd_shell import (
    AcdShell,
    Bridged,
    BridgeFailed,
    CallerGone,
    ConsultHold,
    LeftQueue,
    QueuedInfo,
    TransferCall,
)
from engine.runtime.callbacks import CallbackRequest
from engine.runtime.drain import HandOn, hand_on
from engine.runtime.ivr_executor import IvrExecutor
from engine.runtime.queue_exit import QueueExit
from engine.transport import ESLError, OutboundCall
from engine.transport.outbound import Relay

log = logging.getLogger(__name__)

MAX_FLOW_TRANSFERS = 8
KEY_PROMPTS = {"callback": "To be called back", "voicemail": "To leave a message", "flow": "For more options"}
HUNG_UP, UNBRIDGED, MUSIC_ENDED = object(), object(), object()
NO_TERMINATORS = {"playback_terminators": "none"}  # for the hold music: keys do not stop it

# What the IVR's terminal outcome means for the CDR when no agent took the call.
IVR_OUTCOMES = {
    "self_served": "self_served",
    "hangup": "self_served",
    "transferred": "transferred",
    "voicemail": "voicemail",
    "callback": "voicemail",
    "abandoned": "abandoned",
}


@dataclass(frozen=True)
class Key:
    """The caller pressed a key (a DTMF event on the call)."""

    digit: str


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CallTrace:
    """Everything the CDR and the interaction need, filled in as the call goes."""

    uuid: str
    caller: str
    destination: str
    created_at: datetime = field(default_factory=now)
    flow: str | None = None
    answered_at: datetime | None = None
    queue: str | None = None
    priority: int = 0
    queued_at: datetime | None = None
    offered_at: datetime | None = None
    bridged_at: datetime | None = None
    agent_id: str | None = None
    outcome: str = "abandoned"
    kind: str = "inbound"
    hangup_cause: str = ""
    ivr_path: list[str] = field(default_factory=list)
    ivr_inputs: dict[str, Any] = field(default_factory=dict)
    customer: dict[str, Any] | None = None
    recording: str | None = None
    ended_at: datetime | None = None  # when not now: a call recorded after it ended (engine.runtime.ended_calls)


@dataclass(frozen=True)
class SessionServices:
    """What a call session uses, provided by the engine."""

    flows: Callable[[], dict[str, Flow]]
    flow_clock: Callable[[], datetime]
    flow_for: Callable[[str], str]
    executor: Callable[[OutboundCall], IvrExecutor]
    customer_pop: Callable[[str], tuple[dict[str, Any] | None, list[dict[str, Any]]]]
    acd: AcdShell
    metrics: Metrics
    record_call: Callable[[CallTrace], None]
    record_survey: Callable[[str, str | None, str, int], None]
    request_callback: Callable[[CallbackRequest], int]
    music_on_hold: str
    post_call_flow: str | None
    hold_chunk_seconds: float = 20.0  # hold music is sent in chunks: losing the socket ends it (docs/operations.md)
    # the connection that takes a bridged caller's commands and events once their socket is released (None: kept)
    relay: Callable[[], Relay | None] = lambda: None


class CallSession:
    """Drives one call; :meth:`run` returns when the call is over and recorded."""

    def __init__(self, call: OutboundCall, services: SessionServices) -> None:
        self.call = call
        self.s = services
        self.trace = CallTrace(call.uuid, call.caller_number, call.destination)
        # the ACD's word (Bridged, LeftQueue, TransferCall), the caller's keys, HUNG_UP, UNBRIDGED
        self._inbox: Queue = Queue()
        self._sent_by: str | None = None  # the agent who sent the caller into a flow, to get its result
        self._recorded = False
        self._handed_on = False  # left to FreeSWITCH's park: the engine that takes the caller back records the call
        self._place_written = False
        self._closed = Event()  # the caller's socket closed (FreeSWITCH's disconnect, or the socket lost)
        call.on_closed(lambda _c: self._closed.set())
        call.register_handle("CHANNEL_BRIDGE", lambda _e: services.acd.bridge_seen(call.uuid))
        call.register_handle("CHANNEL_UNBRIDGE", lambda _e: self._inbox.put(UNBRIDGED))
        call.register_handle("DTMF", lambda e: self._inbox.put(Key(e.get("DTMF-Digit"))))

    def run(self) -> None:
        """Drive the call; whichever way it ends (hang-up, lost socket, command timeout, engine error,
        the greenlet killed) it is recorded exactly once. Engine errors are re-raised after the record."""
        wait = True
        try:
            self._run()
        except ESLError as exc:
            log.info("%s: %s", self.call.name, exc)
        except Exception:
            if self.trace.agent_id is None:
                self.trace.outcome = "failed"
            raise
        except BaseException:  # killed (the engine stops): record now, do not wait for the hangup
            wait = False
            raise
        finally:
            self._finish(wait)

    def _run(self) -> None:
        flows = self.s.flows()  # this call keeps the flow version it started with across reloads
        place = reclaim.read_place(self.call) if self.s.acd.acd.is_parked(self.call.uuid) else None
        if place is None:
            self.call.execute("answer", timeout=10)
            self.trace.answered_at = now()
        customer, history = self.s.customer_pop(self.trace.caller)
        self.trace.customer = customer
        variables = {"customer_tier": customer["tier"] if customer else "unknown"}
        flow_name = self.s.flow_for(self.trace.destination)
        executor = self.s.executor(self.call)
        # the flow's `lookup: customer` of the caller is this same read (an unknown caller's too): not asked twice
        executor.remember("customer", self.trace.caller, customer or {})
        if place is None:
            action: a.Action = self._run_flow(flows[flow_name], executor, variables)
        else:  # taken back after a restart: its place, not the IVR again (engine/runtime/reclaim.py)
            action = reclaim.resume(self.call, self.trace, place)
        for _hop in range(MAX_FLOW_TRANSFERS):
            match action:
                case a.Transfer(kind="flow") if action.target in flows:
                    flow_name, agent = action.target, self._sent_by
                    action = self._run_flow(flows[flow_name], executor, {**variables, "agent": agent or ""})
                    if agent:
                        self._report_flow(agent, flow_name, action)
                case a.Transfer(kind="flow"):
                    log.warning("%s: no flow named %r; hanging up", self.call.name, action.target)
                    self.call.hangup("NORMAL_TEMPORARY_FAILURE")
                    return
                case a.Queue():
                    left = self._queue(action, history, executor)
                    if left is None:
                        return
                    self._sent_by = self.trace.agent_id if left.reason == "transfer" else None
                    exit_ = QueueExit(self.trace, executor, self.s.acd.clock, self.s.request_callback, self.call.name)
                    action = exit_.next_action(left, action)
                case _:
                    self._terminal(action, history)
                    return
        log.warning("%s: more than %d flow transfers; hanging up", self.call.name, MAX_FLOW_TRANSFERS)
        self.call.hangup("NORMAL_TEMPORARY_FAILURE")

    def _run_flow(self, flow: Flow, executor: IvrExecutor, variables: dict[str, Any]) -> a.Action:
        self.trace.flow = self.trace.flow or flow.name
        context = CallContext(self.trace.caller, self.trace.destination, self.call.uuid, variables)
        run = FlowRun(flow, context, self.s.flow_clock)
        started = time.monotonic()
        action = run.start()
        try:
            while not a.is_terminal(action):
                self.s.metrics.ivr_steps.labels(flow.name, type(action).__name__).inc()
                action = run.resume(executor.perform(action))
        except ESLError:
            run.abandon()
            raise
        finally:
            self._count(flow.name, run, time.monotonic() - started)
            self.trace.ivr_path += [f"{flow.name}/{entry.node}" for entry in run.trace]
            self.trace.ivr_inputs.update(
                (k, v) for k, v in run.variables.items() if k not in ("caller", "called", "call_uuid", "customer")
            )
            for answer in run.survey:
                self.s.record_survey(answer.call_uuid or self.call.uuid, answer.agent, answer.question, answer.score)
        return action

    def _count(self, flow: str, run: FlowRun, seconds: float) -> None:
        m = self.s.metrics
        counts = tally(run.trace)
        for node, n in counts.entries.items():
            m.ivr_entries.labels(flow, node).inc(n)
        for (node, kind), n in counts.failures.items():
            m.ivr_failures.labels(flow, node, kind).inc(n)
        m.ivr_exits.labels(flow, run.outcome or "abandoned").inc()
        m.ivr_seconds.labels(flow).observe(seconds)

    def _terminal(self, action: a.Action, history: list[dict[str, Any]]) -> None:
        match action:
            case a.Transfer():  # a number or an agent's extension, in FreeSWITCH's default context
                check = dialstring.number if action.kind == "number" else dialstring.extension
                try:
                    destination = check(action.target, f"transfer to {action.kind}")
                except UnsafeValue as exc:  # built from caller keys, speech or CRM data: never sent as is
                    log.warning("%s: transfer refused: %s", self.call.name, exc)
                    self.s.metrics.unsafe_values.labels("ivr_transfer").inc()
                    self.trace.outcome = "self_served"
                    self.call.hangup("INVALID_NUMBER_FORMAT")
                    return
                self.trace.outcome = "transferred"
                self.call.execute("transfer", f"{destination} XML default", timeout=10)
            case a.Callback():
                self.trace.outcome, self.trace.kind = "voicemail", "callback"
                self.trace.recording = action.recording
                self.call.hangup()
            case a.Hangup():
                self.trace.outcome = IVR_OUTCOMES[action.outcome]
                self.call.hangup(action.cause)
            case _:
                self.trace.outcome = IVR_OUTCOMES.get(action.outcome, "self_served")
                self.call.hangup()

    def _queue(self, action: a.Queue, history: list[dict[str, Any]], executor: IvrExecutor) -> LeftQueue | None:
        """Wait in the queue until the call ends (None: hung up, or its channel gone) or the ACD moves it
        on (:class:`LeftQueue`)."""
        t = self.trace
        t.queue, t.priority, t.queued_at = action.queue, action.priority, t.queued_at or now()
        pop = {
            "call_id": t.uuid,
            "caller_number": t.caller,
            "customer": t.customer,
            "customer_name": t.customer["name"] if t.customer else "unknown",
            "tier": t.customer["tier"] if t.customer else None,
            "last_interactions": history,
            "open_tickets": [],
            "ivr_path": t.ivr_path,
            "ivr_inputs": t.ivr_inputs,
            "queue": action.queue,
        }
        while not self._inbox.empty():  # keys pressed in the IVR are not queue choices
            self._inbox.get()
        if self.s.post_call_flow:  # keep the caller when the agent hangs up, for the post-call flow
            self.call.execute("set", "park_after_bridge=true", timeout=10)
        info = QueuedInfo(
            t.uuid,
            action.queue,
            t.caller,
            pop,
            self.s.acd.clock(),
            self._inbox,
            esl=self.call,
        )
        self.s.acd.enqueue(info, action.priority)
        # with the place, the hold music's terminators: keys do not stop the music (no `set` application)
        self._place_written = reclaim.write_place(self.call, t, action.queue, action.priority, NO_TERMINATORS)
        try:
            message = self._wait_in_queue(info, executor)
        finally:  # also when the wait ends in an error (the channel gone mid-command): the CDR says it rang
            t.offered_at = t.offered_at or info.first_offer_at
        if isinstance(message, HandOn):  # the engine stops: FreeSWITCH's dialplan takes the caller
            t.outcome = "transferred"
            self._handed_on = hand_on(self.call, message)
            return None
        if message is None:
            self.s.acd.call_ended(t.uuid)
            t.outcome = "abandoned"
            self.call.hangup()  # after CallerGone: nothing to hang up, unless FreeSWITCH was wrong
            return None
        if isinstance(message, LeftQueue):
            self.s.metrics.queue_exits.labels(action.queue, message.reason, message.target).inc()
            return message
        t.outcome, t.agent_id, t.bridged_at = "answered", message.agent_id, now()
        self._mark_bridged()
        self._release_socket()
        transfer = self._talk()
        self.s.acd.call_ended(t.uuid)
        if transfer is not None and not self.call.hungup.is_set():
            return LeftQueue("transfer", transfer.target)
        if self.s.post_call_flow and not self.call.hungup.is_set():
            self._post_call(self.s.post_call_flow)
        self.call.hangup()
        return None

    def _mark_bridged(self) -> None:
        """Write the call's place and its agent on the caller's channel (``uuid_setvar_multi``): a restarted
        engine adopts the call from them and from the agent's leg, which carries its own variables since its
        originate (:func:`engine.runtime.adopt_vars.offer_leg_variables`; :mod:`engine.runtime.adopt`)."""
        if self.call.hungup.is_set():  # already over: nothing to adopt
            return
        variables = adopt_vars.caller_variables(self.trace)
        try:
            self.call.api("uuid_setvar_multi", self.trace.uuid, adopt_vars.encode(variables))
        except (ESLError, UnsafeValue) as exc:  # the call goes on; only its adoption after a restart is lost
            log.warning("%s: adoption variables not set: %s", self.call.name, exc)

    def _release_socket(self) -> None:
        """While the caller talks, FreeSWITCH keeps no listener thread for their socket
        (:meth:`OutboundCall.release_socket`): the session goes on through the relay. Not with a post-call
        flow: its ``park_after_bridge`` park would end if the listener left just as the bridge ended."""
        relay = self.s.relay()
        if relay is None or self.s.post_call_flow or self.call.released or self.call.hungup.is_set():
            return
        released = self.call.release_socket(relay)
        self.s.metrics.sockets_released.labels("released" if released else "kept").inc()

    def _talk(self) -> TransferCall | None:
        """Until the caller or the agent hangs up; the agent's transfer, if they made one. While the
        agent consults (:class:`ConsultHold`) the caller's bridge ends without ending the call: music
        plays until hotline bridges the caller again."""
        watcher = gevent.spawn(lambda: self.call.hungup.wait() and self._inbox.put(HUNG_UP))
        transfer, holds, music = None, [], None
        try:
            while (item := self._inbox.get()) is not HUNG_UP:
                if item is UNBRIDGED and not holds:
                    break
                if item is UNBRIDGED and holds.pop(0).music:
                    music = self.call.execute_async("playback", self._music_chunk())
                    music.rawlink(lambda _r: self._inbox.put(MUSIC_ENDED))
                if item is MUSIC_ENDED and holds and music is not None and music.ready() and music.successful():
                    music = self.call.execute_async("playback", self._music_chunk())  # still on consult hold
                    music.rawlink(lambda _r: self._inbox.put(MUSIC_ENDED))
                if isinstance(item, ConsultHold):
                    holds.append(item)
                transfer = item if isinstance(item, TransferCall) else transfer
            return transfer
        finally:
            watcher.kill()

    def _wait_in_queue(self, info: QueuedInfo, executor: IvrExecutor) -> Bridged | LeftQueue | HandOn | None:
        """Music on hold, announcements and exit keys until the ACD's word (None: the caller hung up).

        Every ``announce_seconds`` the music stops for the caller's position and estimated wait
        (and the exit keys' menu); a key of ``exit_keys`` takes the call out of the queue.
        """
        config = self.s.acd.acd.queue_config(info.queue)
        keys = dict(config.exit_keys)
        watcher = gevent.spawn(lambda: self.call.hungup.wait() and self._inbox.put(HUNG_UP))
        hold = self._hold_music(info, None if self._place_written else ("set", "playback_terminators=none"))
        announce_at = None  # a chunk of music ending does not put the next announcement off
        try:
            while True:
                announce_at = announce_at or (
                    time.monotonic() + config.announce_seconds if config.announce_seconds else 0
                )
                try:
                    item = self._inbox.get(timeout=max(0.0, announce_at - time.monotonic()) if announce_at else None)
                except Empty:
                    self._break_hold(hold)
                    if not self._word_pending(info):
                        executor.perform(a.Say(self._announcement(info.call_id, keys)))
                    hold, announce_at = self._hold_music(info), None
                    continue
                if item is MUSIC_ENDED:  # a chunk played out: the next one, unless something else started
                    if hold.ready() and hold.successful() and not self._word_pending(info):
                        hold = self._hold_music(info)
                    continue
                announce_at = None
                if item is HUNG_UP or isinstance(item, CallerGone):
                    return None
                if isinstance(item, HandOn) and not self._word_pending(info):  # an agent answering: talk first
                    return item
                if isinstance(item, BridgeFailed):  # back at the head of the queue
                    hold = self._hold_music(info)
                    continue
                if isinstance(item, Key):
                    if item.digit in keys:
                        self.s.acd.leave(info.call_id, keys[item.digit])
                    continue
                if isinstance(item, LeftQueue):
                    self._break_hold(hold)
                if isinstance(item, LeftQueue | Bridged):
                    return item
        finally:
            watcher.kill()

    def _flush_applications(self) -> None:
        """Stop what is playing on the caller's channel and drop what is queued (``uuid_break all``)."""
        try:
            self.call.api("uuid_break", self.call.uuid, "all")
        except ESLError as exc:
            log.debug("%s: uuid_break: %s", self.call.name, exc)

    def _word_pending(self, info: QueuedInfo) -> bool:
        """An agent answered (the bridge is being made) or the ACD's word is in the inbox, not yet read."""
        return info.connecting or any(isinstance(item, Bridged | LeftQueue) for item in list(self._inbox.queue))

    def _hold_music(self, info: QueuedInfo, before: tuple[str, str] | None = None) -> AsyncResult:
        """Start the hold music unless the ACD already moved the call on (a ready result then); the
        application ``before`` (e.g. a ``set``) is queued ahead of it in the same write, and run alone
        when there is no music to play."""
        if self._word_pending(info):
            if before is not None:
                self.call.execute(*before, timeout=10)
            done = AsyncResult()
            done.set(None)
            return done
        steps = [before] if before else []
        music = self.call.execute_all_async([*steps, ("playback", self._music_chunk())])[-1]
        music.rawlink(lambda _r: self._inbox.put(MUSIC_ENDED))
        return music

    def _music_chunk(self) -> str:
        """Hold music that ends by itself after ``hold_chunk_seconds`` (FreeSWITCH's ``{timeout=ms}``
        file parameter): if hotline's socket drops, FreeSWITCH's dialplan takes over within a chunk."""
        return reclaim.bounded(self.s.music_on_hold, self.s.hold_chunk_seconds)

    def _announcement(self, call_id: str, keys: dict[str, str]) -> str:
        acd = self.s.acd.acd
        position, wait = acd.position(call_id), acd.estimated_wait(call_id)
        words = [f"You are number {position} in the queue." if position else "Thank you for waiting."]
        if wait is not None:
            words.append(f"Your expected wait is about {max(1, round(wait / 60))} minutes.")
        words += [
            f"{KEY_PROMPTS.get(target.partition(':')[0], 'To leave the queue')}, press {key}."
            for key, target in sorted(keys.items())
        ]
        return " ".join(words)

    def _report_flow(self, agent: str, flow: str, ending: a.Action) -> None:
        """An agent sent the caller into ``flow`` (a PIN, a survey...): tell their desktop how it ended."""
        result = {
            "call_id": self.trace.uuid,
            "flow": flow,
            "outcome": getattr(ending, "outcome", None),
            "inputs": self.trace.ivr_inputs,
        }
        self.s.acd.hub.publish(agent, "flow_result", result)

    def _post_call(self, flow_name: str) -> None:
        """The agent hung up and the caller is still here: run the post-call flow (e.g. a survey)."""
        flow = self.s.flows().get(flow_name)
        if flow is None:
            log.warning("%s: post-call flow %r is not loaded", self.call.name, flow_name)
            return
        try:
            self._run_flow(flow, self.s.executor(self.call), {"agent": self.trace.agent_id})
        except ESLError as exc:
            log.info("%s: post-call flow ended: %s", self.call.name, exc)

    def _break_hold(self, hold: AsyncResult) -> None:
        if not hold.ready():
            self._flush_applications()

    def _finish(self, wait: bool = True) -> None:
        """Wait for the channel to be gone (its hangup, or the socket closed), then record the call
        exactly once: also when the wait is cut short (the greenlet killed) or the ACD raises."""
        if self._recorded:
            return
        self._recorded = True
        try:
            ended = wait and gevent.wait([self.call.hungup, self._closed], timeout=30, count=1)
            if ended and not self.call.hungup.is_set():
                self.call.hungup.wait(timeout=1)  # events read before the close are still being delivered
            if ended and not self.call.hungup.is_set() and self._place_written and self.trace.agent_id is None:
                self._handed_on = True  # socket lost, caller still there and waiting: the dialplan parks them
        finally:
            try:
                self.s.acd.call_ended(self.trace.uuid)
            except Exception:
                log.exception("%s: the ACD could not end the call", self.call.name)
            self.trace.hangup_cause = self.call.hangup_cause
            if not self._handed_on:
                self.s.metrics.calls.labels(self.trace.outcome).inc()
                try:
                    self.s.record_call(self.trace)
                except Exception:
                    log.exception("%s: could not record the call", self.call.name)
