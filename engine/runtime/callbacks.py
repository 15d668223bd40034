"""Keep-your-place callbacks, the I/O side: persist requests, put their virtual calls in the ACD, dial
the customer when an agent took one, and record what happened.

Order (agent first, as Amazon Connect's queued callbacks and Genesys Cloud's callbacks do): the virtual
call waits in its queue like any call; the agent it is offered to answers first (their phone shows the
customer's number and they hear "Callback for ..."); only then is the customer dialled, so a customer
who answers talks to a person at once instead of waiting in the queue again. The cost is agent time
while the customer's phone rings (at most the queue's ``callback_ring_seconds``).

The customer leg: ``bgapi originate {origination_uuid=L,hotline_callback=ID,hotline_callback_of=UUID,...}
<calls.callback_dial> &park()`` (the result matched by Job-UUID), then ``uuid_bridge`` with the agent leg.
Hangups of both legs are watched on the dialler connection (:class:`engine.campaigns.legs.Legs`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import gevent
from gevent.event import AsyncResult
from sqlalchemy.orm import Session, sessionmaker

from engine.acd import commands
from engine.acd.states import IllegalTransition
from engine.campaigns.legs import Legs
from engine.esl import dialstring
from engine.esl.codec import UnsafeValue
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell, QueuedInfo, failure_reason
from engine.speech.tts import TtsError, TtsProvider
from engine.store import callbacks as store
from engine.store import calls, segments
from engine.store.callback_models import OPEN_STATUSES
from engine.store.errors import NotFound
from engine.store.segments import SegmentRecord
from engine.transport import CommandFailed, ESLError

log = logging.getLogger(__name__)

PREFIX = "callback-"
FINAL = {"completed": "completed", "failed": "gave_up", "cancelled": "cancelled"}
"""Final statuses and their ``hotline_callbacks_total`` outcome."""

CustomerPop = Callable[[str], tuple[dict[str, Any] | None, list[dict[str, Any]]]]


@dataclass(frozen=True)
class CallbackRequest:
    """A caller chose to be called back: their call, place (ACD-clock join time, priority) and number."""

    call_uuid: str
    queue: str
    priority: int
    enqueued_at: float
    queued_at: datetime
    number: str
    caller: str
    customer_id: int | None


def call_id(callback_id: int) -> str:
    """The ACD's id of a callback's virtual call."""
    return f"{PREFIX}{callback_id}"


class Callbacks:
    """Carries out the ACD's callback decisions; registered on the :class:`AcdShell`."""

    def __init__(
        self,
        shell: AcdShell,
        sessions: sessionmaker[Session],
        legs: Legs,
        tts: TtsProvider,
        metrics: Metrics,
        customer_pop: CustomerPop,
        *,
        dial: str,
        caller_id: str,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.shell = shell
        self.sessions = sessions
        self.legs = legs
        self.tts = tts
        self.metrics = metrics
        self.customer_pop = customer_pop
        self.dial_string = dial
        self.caller_id = caller_id
        self.wall = wall
        self._last_result: dict[str, str] = {}
        shell.callbacks = self

    # ---- requests, restart, operators -------------------------------------------------------

    def request(self, req: CallbackRequest) -> int:
        """Persist the request and put its virtual call in the queue at the caller's place; its id."""
        with self.sessions.begin() as s:
            row = store.request_callback(
                s, req.call_uuid, req.queue, req.number, caller_number=req.caller, priority=req.priority,
                queued_at=req.queued_at, customer_id=req.customer_id,
            )  # fmt: skip
            view = store.view(row)
        self.metrics.callbacks.labels(req.queue, "requested").inc()
        self._join(view, req.enqueued_at, None)
        return int(view["id"])

    def reload(self) -> int:
        """Put every open callback the ACD does not hold back in its queue, at its place (a dial cut
        short by the restart is pending again, with its attempts); how many were added."""
        now_wall, now = self.wall(), self.shell.clock()
        acd = self.shell.acd
        with self.sessions() as s:
            rows = [store.view(r) for r in store.open_callbacks(s)]
        added = 0
        for view in rows:
            if acd.has_call(call_id(view["id"])):
                continue
            if not acd.has_queue(view["queue"]):
                log.warning("callback %s: queue %r is not configured; kept for later", view["id"], view["queue"])
                continue
            ago = (now_wall - datetime.fromisoformat(view["queued_at"])).total_seconds()
            retry_at = None
            if view["status"] == "retry" and view["retry_at"]:
                retry_at = now + (datetime.fromisoformat(view["retry_at"]) - now_wall).total_seconds()
            self._join(view, now - ago, retry_at)
            added += 1
        return added

    def views(self, queue: str | None = None, include_done: bool = False) -> list[dict[str, Any]]:
        with self.sessions() as s:
            return [store.view(r) for r in store.list_callbacks(s, queue=queue, include_done=include_done)]

    def cancel(self, callback_id: int) -> dict[str, Any]:
        """Cancel an open callback (KeyError: none; ValueError: it is being dialled or is over)."""
        try:
            with self.sessions() as s:
                status = store.get_callback(s, callback_id).status
        except NotFound:
            raise KeyError(f"callback {callback_id}") from None
        if status not in OPEN_STATUSES:
            raise ValueError(f"callback {callback_id} is {status}, not open")
        try:
            self.shell.apply(lambda now: self.shell.acd.cancel_callback(call_id(callback_id), now))
        except IllegalTransition:
            raise ValueError(f"callback {callback_id} is being dialled or talked to") from None
        with self.sessions.begin() as s:
            row = store.get_callback(s, callback_id)
            if row.status != "cancelled":  # the ACD did not hold it (e.g. its queue is not configured)
                row = store.cancel_callback(s, callback_id)
            return store.view(row)

    def _join(self, view: dict[str, Any], enqueued_at: float, retry_at: float | None) -> None:
        cid = call_id(view["id"])
        customer, history = self.customer_pop(view["number"])
        pop = {
            "call_id": cid,
            "caller_number": view["number"],
            "customer": customer,
            "customer_name": customer["name"] if customer else "unknown",
            "tier": customer["tier"] if customer else None,
            "last_interactions": history,
            "open_tickets": [],
            "ivr_path": [],
            "ivr_inputs": {},
            "queue": view["queue"],
            "callback": {
                "id": view["id"],
                "number": view["number"],
                "requested_at": view["requested_at"],
                "queued_at": view["queued_at"],
                "attempts": view["attempts"],
                "first_call": view["call"],
            },
        }
        self.shell.inboxes[cid] = QueuedInfo(cid, view["queue"], view["number"], pop, enqueued_at)
        self.metrics.callbacks_pending.labels(view["queue"]).inc()
        self.shell.apply(
            lambda now: self.shell.acd.add_callback(
                cid, view["queue"], view["priority"], enqueued_at, now, caller=view["number"],
                attempts=view["attempts"], retry_at=retry_at,
            )
        )  # fmt: skip

    # ---- the ACD's commands -----------------------------------------------------------------

    def changed(self, change: commands.CallbackChanged) -> None:
        """Persist a status change (a ticket when every attempt failed) and measure it."""
        callback_id = int(change.call_id.removeprefix(PREFIX))
        retry_at = None
        if change.status == "retry":
            retry = self.shell.acd.queue_config(change.queue).callback_retry_seconds
            retry_at = self.wall() + timedelta(seconds=retry)
        with self.sessions.begin() as s:
            store.set_status(
                s, callback_id, change.status, attempts=change.attempts, agent_id=change.agent_id,
                retry_at=retry_at, last_result=self._last_result.get(change.call_id),
            )  # fmt: skip
            if change.status == "failed":
                store.ticket_for_failed(s, callback_id)
                self.metrics.tickets_created.labels("callback").inc()
        if change.status in FINAL:
            self.metrics.callbacks.labels(change.queue, FINAL[change.status]).inc()
            self.metrics.callbacks_pending.labels(change.queue).dec()
            self._last_result.pop(change.call_id, None)  # its QueuedInfo goes with QueueExit or call_ended

    def dial(self, command: commands.DialCallback, agent_leg: str | None) -> None:
        """Whisper to the agent, ring the customer, bridge them; report the result to the ACD and, once
        the call is over, record it."""
        info = self.shell.inboxes.get(command.call_id)
        if info is None or agent_leg is None:
            self._failed(command, "failed", agent_leg)
            return
        leg = str(uuid4())
        agent, customer = self.legs.register(agent_leg), self.legs.register(leg)
        try:
            try:
                reason = self._ring(command, info, agent_leg, leg, agent.hangup)
            except Exception:  # whatever went wrong, the agent must not stay on a call that is not there
                log.exception("callback %s: dialling failed", command.call_id)
                reason = "failed"
            if reason is not None:
                self._kill(leg)
                self._failed(command, reason, agent_leg)
                return
            bridged_at = self._connected(command, info, agent_leg, leg)
            gevent.wait([agent.hangup, customer.hangup], count=1)
            self._kill(leg)
            self._kill(agent_leg)
            self.shell.call_ended(command.call_id)
            self._record(command, info, leg, bridged_at)
        finally:
            self.legs.forget(leg)
            self.legs.forget(agent_leg)

    # ---- helpers ----------------------------------------------------------------------------

    @property
    def control(self) -> Any:
        return self.shell.control

    def _ring(
        self, command: commands.DialCallback, info: QueuedInfo, agent_leg: str, leg: str, agent_gone: AsyncResult
    ) -> str | None:
        """Whisper to the agent, ring the customer and bridge them: None, or why not."""
        config = self.shell.acd.queue_config(command.queue)
        self._whisper(agent_leg, info)
        variables = {
            "origination_uuid": leg,
            "originate_timeout": int(config.callback_ring_seconds),
            "origination_caller_id_number": self.caller_id,
            "hotline_callback": command.call_id.removeprefix(PREFIX),
            "hotline_callback_of": info.pop["callback"]["first_call"],
        }
        try:
            dial = dialstring.from_template(self.dial_string, info.caller, "callback number")
            self.control.bgapi(
                *dialstring.originate(variables, dial, "park"), timeout=config.callback_ring_seconds + 10
            )
        except UnsafeValue as exc:  # nothing was sent
            log.warning("callback %s: not dialled: %s", command.call_id, exc)
            self.metrics.unsafe_values.labels("callback").inc()
            return "failed"
        except CommandFailed as exc:
            return failure_reason(exc)
        except ESLError as exc:
            log.warning("callback %s: originate: %s", command.call_id, exc)
            return "failed"
        if agent_gone.ready():
            return "agent_gone"  # the agent hung up while the customer's phone rang
        try:
            self.control.api("uuid_bridge", agent_leg, leg)
        except ESLError as exc:
            # The agent's hang-up event comes on the dialler connection, the originate's result on the
            # control connection: under load it may not have arrived yet. Ask the switch.
            if agent_gone.ready() or not self._exists(agent_leg):
                return "agent_gone"
            log.warning("callback %s: bridge: %s", command.call_id, exc)
            return "failed"
        return None

    def _exists(self, leg: str) -> bool:
        """Whether FreeSWITCH still has ``leg`` (``uuid_exists``); True when it cannot say."""
        try:
            return self.control.api("uuid_exists", leg).strip() != "false"
        except ESLError:
            return True

    def _whisper(self, agent_leg: str, info: QueuedInfo) -> None:
        """ "Callback for <number>, requested at <time>." to the agent alone; skipped if it cannot be said."""
        requested = datetime.fromisoformat(info.pop["callback"]["requested_at"])
        text = f"Callback for {' '.join(info.caller)}, requested at {requested:%H:%M}."
        try:
            self.control.api("uuid_broadcast", agent_leg, self.tts.render(text, "en-GB"), "aleg")
        except (ESLError, TtsError, UnsafeValue) as exc:
            log.info("callback whisper to %s: %s", agent_leg, exc)

    def _connected(self, command: commands.DialCallback, info: QueuedInfo, agent_leg: str, leg: str) -> datetime:
        """Tell the ACD and the agent's desktop; when it happened."""
        self.metrics.callback_dials.labels(command.queue, "connected").inc()
        self._last_result[command.call_id] = "connected"
        self.shell.joined(command.call_id, agent_leg)
        self.shell.apply(lambda now: self.shell.acd.callback_connected(command.call_id, now))
        waited = round(self.shell.clock() - info.enqueued, 3)
        pop = {**info.pop, "phase": "answer", "waited_seconds": waited, "customer_leg": leg}
        self.shell.hub.publish(command.agent_id, "screen_pop", pop, sticky=True)
        self.metrics.screen_pops.labels("answer").inc()
        return self.wall()

    def _failed(self, command: commands.DialCallback, reason: str, agent_leg: str | None) -> None:
        self.metrics.callback_dials.labels(command.queue, reason).inc()
        self._last_result[command.call_id] = reason
        if agent_leg is not None:
            self._kill(agent_leg)
        self.shell.hub.clear(command.agent_id)
        self.shell.apply(lambda now: self.shell.acd.callback_failed(command.call_id, now))

    def _kill(self, leg: str) -> None:
        try:
            self.control.api("uuid_kill", leg, "NORMAL_CLEARING")
        except ESLError as exc:
            log.debug("uuid_kill %s: %s", leg, exc)

    def _record(self, command: commands.DialCallback, info: QueuedInfo, leg: str, bridged_at: datetime) -> None:
        """The callback's own CDR (uuid: the customer leg) and a ``callback`` interaction."""
        cb = info.pop["callback"]
        ended = self.wall()
        record = calls.CallRecord(
            uuid=leg,
            caller_number=self.caller_id,
            destination=info.caller,
            created_at=bridged_at,
            ended_at=ended,
            outcome="answered",
            queue=command.queue,
            agent_id=command.agent_id,
            queued_at=datetime.fromisoformat(cb["queued_at"]),
            answered_at=bridged_at,
            bridged_at=bridged_at,
        )
        customer = info.pop["customer"]
        try:
            with self.sessions.begin() as s:
                calls.record_finished_call(
                    s, record, kind="callback", customer_id=customer["id"] if customer else None,
                    notes=f"callback {cb['id']} of call {cb['first_call']}, requested at {cb['requested_at']}",
                )  # fmt: skip
                part = SegmentRecord(command.agent_id, "callback", bridged_at, ended, "hangup", queue=command.queue)
                segments.record_segments(s, leg, [part])
            self.metrics.call_segments.labels("callback", "hangup").inc()
        except Exception:
            log.exception("callback %s: could not record the call", cb["id"])
