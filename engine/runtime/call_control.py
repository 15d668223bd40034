"""Call control: what an agent does on a call and what a supervisor does to an agent, audited.

Agent actions act on the agent's current call: ``hold``/``unhold``/``hangup``/``record``, blind
``transfer`` of a queued call, and ``dial``: a call of the agent's own. A manual dial rings the
agent's phone first and, once they answer, the number (``bgapi originate {...}<agent phone>
&bridge({...}<dial string>)``, matched by Job-UUID; the outcome is the agent leg's
``originate_disposition``, read from its hangup event on the dialler's connection). Meanwhile the
agent is ``engaged`` in the ACD (never offered a queued call); afterwards in wrap-up. The call is a
CDR and an outbound interaction in the customer's history. Numbers on a do-not-call list are refused
unless a supervisor or admin overrides.

On a queued call the agent may also ``consult`` someone (attended transfer: the caller waits with
music, the agent talks to the target, then ``complete`` joins caller and target or ``cancel`` returns
the agent) or hold a three-way ``conference`` (caller, agent and target in a mod_conference room;
``leave`` leaves the other two talking, ``cancel`` drops the third party). A target agent is reserved
through the ACD (``engaged``) until their part ends.

Supervisor actions: ``listen``/``whisper``/``barge`` (ring the supervisor's phone into
``eavesdrop``; DTMF 2/3 switch the mode as FreeSWITCH's eavesdrop does), ``force_break``,
``force_logout``. Every action, refused or done, is a row of the call-control log and a count in
``hotline_call_control_actions_total``.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import gevent
import gevent.event
from sqlalchemy.orm import Session, sessionmaker

from engine.acd.states import IllegalTransition
from engine.campaigns.legs import Leg, Legs
from engine.config.model import AgentCalls
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.runtime.segments import CallSegments
from engine.store import call_control_log, calls
from engine.store import outbound as outbound_store
from engine.store.errors import InvalidInput
from engine.store.phones import to_e164
from engine.transport import CommandFailed, ESLError, InboundClient

log = logging.getLogger(__name__)

_MODE_OF = {"complete": "consult", "leave": "conference"}
CONFERENCE_PROFILE = "hotline"  # freeswitch_conf/autoload_configs/conference.conf.xml
NOT_IN_A_ROOM = ("hold", "unhold", "transfer", "consult")  # they need the caller-agent bridge
EAVESDROP_KEYS = {"listen": None, "whisper": "2", "barge": "3"}  # mod_dptools eavesdrop: 2 talks to the agent
TRANSFER_KINDS = ("queue", "flow", "agent", "number")
# The agent leg's originate_disposition (what its bridge to the number got) -> the dial's outcome.
DIAL_OUTCOMES = {
    "SUCCESS": "answered",
    "NO_ANSWER": "no_answer",
    "NO_USER_RESPONSE": "no_answer",
    "ALLOTTED_TIMEOUT": "no_answer",
    "RECOVERY_ON_TIMER_EXPIRE": "no_answer",
    "USER_BUSY": "busy",
    "CALL_REJECTED": "rejected",
}

Pop = Callable[[str], tuple[dict[str, Any] | None, list[dict[str, Any]]]]


@dataclass
class Consult:
    """A consultation (``mode`` consult: the caller (``call_id``) waits with music while the agent's leg
    is bridged to the target's leg) or a three-way conference (``mode`` conference: caller and agent are
    in the call's room, the target's leg joins it); ``target_agent`` is reserved (engaged) meanwhile."""

    mode: str
    agent_id: str
    call_id: str
    agent_leg: str
    target: str
    target_leg: str
    target_agent: str | None
    answered: gevent.event.Event = field(default_factory=gevent.event.Event)
    over: gevent.event.Event = field(default_factory=gevent.event.Event)  # the agent is back, or released
    completed: bool = False
    cancelled: bool = False


@dataclass
class DirectCall:
    """A call the agent placed: their phone's leg, the called party's leg, when it started."""

    agent_id: str
    number: str
    agent_leg: str
    party_leg: str
    started_at: datetime


class CallControl:
    """Carries out agent and supervisor call-control actions; owned by the engine, called by the API."""

    def __init__(
        self,
        acd: AcdShell,
        control: InboundClient,
        legs: Legs,
        sessions: sessionmaker[Session],
        metrics: Metrics,
        settings: AgentCalls,
        *,
        region: str,
        customer_pop: Pop,
        start_recording: Callable[[str, str, str | None, str | None], str],
        agent_action: Callable[[str, str, str | None], dict[str, Any]],
        segments: CallSegments,
    ) -> None:
        self.acd, self.control, self.legs, self.sessions = acd, control, legs, sessions
        self.metrics, self.settings, self.region = metrics, settings, region
        self.customer_pop, self.start_recording, self.agent_action = customer_pop, start_recording, agent_action
        self.segments = segments  # who has each call: every change of hands below is told to it
        self.direct: dict[str, DirectCall] = {}  # agent id -> the call they placed
        self.consults: dict[str, Consult] = {}  # agent id -> their consultation or conference in progress
        self.rooms: set[str] = set()  # calls whose caller and agent are in a conference room

    # ---- the entry point ----------------------------------------------------------------------

    def act(self, actor: str, agent_id: str, action: str, **args: Any) -> dict[str, Any]:
        """Do ``action`` on ``agent_id``'s call (or, for supervisors, to the agent); audited.

        Arguments by action: ``transfer`` ``target`` (``queue:NAME``, ``flow:NAME``, ``agent:ID``,
        ``number:N``); ``consult``/``conference`` ``target`` (``agent:ID``, ``number:N``); ``dial``
        ``number`` and ``override_dnc`` (bool; the API lets only supervisors and admins); ``listen``,
        ``whisper``, ``barge`` ``contact`` (the supervisor's phone); ``force_break`` ``reason``.
        Raises KeyError (unknown agent) or ValueError (not possible now, with why).
        """
        snap = self.acd.acd.snapshot()
        if agent_id not in snap.agents:
            raise KeyError(f"agent {agent_id}")
        call_id = snap.agents[agent_id].call_id
        direct = self.direct.get(agent_id)
        shown = call_id or (direct.party_leg if direct else None)
        detail = args.get("target") or args.get("number") or args.get("contact") or args.get("reason")
        try:
            result = {"call": shown, **self._perform(actor, agent_id, call_id, action, args)}
        except (ValueError, LookupError, ESLError) as exc:
            self._audit(actor, action, agent_id, shown, detail, f"refused: {exc}")
            raise ValueError(str(exc)) from None
        self._audit(actor, action, agent_id, result["call"], detail, "ok")
        return {"agent": agent_id, "action": action, **result}

    def log(self, agent_id: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` audited actions (of ``agent_id`` when given), newest first."""
        with self.sessions() as s:
            rows = call_control_log.list_actions(s, agent_id=agent_id, limit=limit)
            return [
                {
                    "at": r.at.isoformat(),
                    "actor": r.actor,
                    "action": r.action,
                    "agent": r.agent_id,
                    "call": r.call_uuid,
                    "detail": r.detail,
                    "result": r.result,
                }
                for r in rows
            ]

    def _perform(self, actor: str, agent_id: str, call_id: str | None, action: str, args: dict) -> dict[str, Any]:
        if action == "force_break":
            return self.agent_action(agent_id, "break", args.get("reason") or "supervisor")
        if action == "force_logout":
            return self.agent_action(agent_id, "logout", None)
        if action == "dial":
            return self._dial(agent_id, args.get("number") or "", bool(args.get("override_dnc")))
        if action in EAVESDROP_KEYS:
            return self._eavesdrop(call_id, agent_id, action, args.get("contact"))
        if call_id in self.rooms and call_id in self.acd.calls and action in NOT_IN_A_ROOM:
            raise ValueError(f"{action}: call {call_id} is in a conference (hang up or leave it)")
        if action in ("consult", "conference", "complete", "leave", "cancel"):
            return self._consult_action(agent_id, call_id, action, args.get("target") or "")
        direct = self.direct.get(agent_id)
        far_end = call_id or (direct.party_leg if direct else None)
        if far_end is None:
            raise ValueError(f"agent {agent_id} is not on a call")
        if action == "record":
            queue = self.acd.acd.snapshot().calls[call_id].queue if call_id else None
            return {"path": self.start_recording(far_end, actor, agent_id, queue)}
        if action in ("hold", "unhold"):
            # FreeSWITCH's switch_ivr_hold plays hold music to the held channel's partner: hold the agent's
            # own leg, as their phone's hold button does, so the other party hears the music.
            own = direct.agent_leg if direct and not call_id else self.acd.agent_legs.get(call_id or "")
            if own is None:
                raise ValueError(f"agent {agent_id}'s own leg is not known yet; try again once the call is bridged")
            self.control.api(f"uuid_hold {'off ' if action == 'unhold' else ''}{own}")
            return {"leg": own}
        if action == "hangup":
            self.control.api(f"uuid_kill {direct.agent_leg if direct and not call_id else far_end}")
            return {}
        if action == "transfer":
            if call_id is None:
                raise ValueError(f"agent {agent_id}: only queued calls can be transferred (this is a manual dial)")
            return self._transfer(call_id, args.get("target") or "")
        raise ValueError(f"unknown call-control action {action!r}")

    def _audit(
        self, actor: str, action: str, agent_id: str, call_id: str | None, detail: str | None, result: str
    ) -> None:
        with self.sessions.begin() as s:
            call_control_log.log_action(s, actor, action, agent_id, result=result, call_uuid=call_id, detail=detail)
        self.metrics.call_control.labels(action, result.split(":")[0]).inc()

    # ---- blind transfer, eavesdrop ------------------------------------------------------------

    def _transfer(self, call_id: str, target: str) -> dict[str, Any]:
        kind, _, name = target.partition(":")
        if kind not in TRANSFER_KINDS or not name:
            raise ValueError(f"transfer target {target!r}: use queue:NAME, flow:NAME, agent:ID or number:N")
        if kind == "queue" and name not in self.acd.acd.snapshot().queues:
            raise ValueError(f"transfer target {target!r}: no such queue")
        self.acd.transfer(call_id, target)
        self.segments.transferred(call_id, target)
        return {"target": target}

    def _eavesdrop(self, call_id: str | None, agent_id: str, action: str, contact: str | None) -> dict[str, Any]:
        if call_id is None:
            raise ValueError(f"agent {agent_id} is not on a call")
        if not contact:
            raise ValueError(f"{action}: give the supervisor's phone as contact (e.g. user/1009)")
        leg = str(uuid.uuid4())
        gevent.spawn(self._ring_supervisor, leg, contact, call_id, EAVESDROP_KEYS[action])
        return {"leg": leg}

    def _ring_supervisor(self, leg: str, contact: str, call_id: str, key: str | None) -> None:
        """Ring the supervisor; once they answer they hear the call (and talk, for whisper/barge)."""
        try:
            self.control.bgapi(f"originate {{origination_uuid={leg}}}{contact} &eavesdrop({call_id})", 60)
            if key:
                self.control.api(f"uuid_send_dtmf {leg} {key}")
        except ESLError as exc:
            log.info("eavesdrop on %s by %s: %s", call_id, contact, exc)

    # ---- attended transfer ----------------------------------------------------------------------

    def _consult_action(self, agent_id: str, call_id: str | None, action: str, target: str) -> dict[str, Any]:
        consult = self.consults.get(agent_id)
        if action in ("consult", "conference"):
            if call_id is None:
                raise ValueError(f"agent {agent_id} is not on a queued call to {action} about")
            if consult is not None:
                raise ValueError(f"agent {agent_id} is already in a {consult.mode} with {consult.target}")
            return self._consult(agent_id, call_id, target, action)
        if consult is None:
            raise ValueError(f"agent {agent_id} is not consulting or conferencing anyone")
        if action != "cancel" and _MODE_OF[action] != consult.mode:
            raise ValueError(f"{action}: agent {agent_id} is in a {consult.mode}, not a {_MODE_OF[action]}")
        if action == "cancel":
            consult.cancelled = True
            self._kill(consult.target_leg)
            consult.over.wait(timeout=10)
            return {"target": consult.target, "leg": consult.agent_leg}
        if not consult.answered.is_set():
            raise ValueError(f"{consult.target} has not answered yet: wait, or cancel")
        if consult.mode == "consult":
            consult.completed = True
            self.acd.bridge_caller(consult.call_id, consult.target_leg)  # out of the hold music
        self._completed(consult)  # before the agent's leg goes: its watcher in a room sees the agent done
        self._kill(consult.agent_leg)  # conference: the agent's leg leaves the room, caller and target stay
        return {"target": consult.target, "leg": consult.target_leg}

    def _completed(self, consult: Consult) -> None:
        """The agent is done with the call (transfer completed, or they left the conference): wrap-up."""
        consult.completed = True
        self.consults.pop(consult.agent_id, None)
        self.metrics.consults.labels(consult.mode, "completed").inc()
        if consult.mode == "consult":
            self.segments.consult_completed(consult.call_id, consult.agent_id, consult.target, consult.target_agent)
        else:
            self.segments.left_conference(consult.call_id, f"agent:{consult.agent_id}")
        self.acd.call_ended(consult.call_id)

    def _consult(self, agent_id: str, call_id: str, target: str, mode: str) -> dict[str, Any]:
        """Check the target, reserve a target agent in the ACD, (consult:) hold the caller, ring the target."""
        if call_id not in self.acd.agent_legs:
            raise ValueError(f"call {call_id} is not bridged to agent {agent_id} yet")
        kind, _, name = target.partition(":")
        target_agent = None
        if kind == "agent":
            agents = self.acd.acd.snapshot().agents
            if name not in agents or name == agent_id:
                raise ValueError(f"{mode} target {target!r}: no such agent (or yourself)")
            contact = agents[name].contact
            try:
                self.acd.apply(lambda t: self.acd.acd.engage(name, "consult", t))
            except IllegalTransition:
                raise ValueError(f"{mode} target {target!r} is busy ({agents[name].state}), not ready") from None
            target_agent = name
        elif kind == "number" and name.lstrip("+").isdigit():
            if listed := self._dnc_source(name):
                raise ValueError(f"{mode} target {target!r} is on the do-not-call list ({listed})")
            contact = self.settings.dial_string.replace("{number}", name)
        else:
            raise ValueError(f"{mode} target {target!r}: use agent:ID or number:N")
        if mode == "consult":
            agent_leg = self.acd.hold_for_consult(call_id)
            for leg in (call_id, agent_leg):  # both outlive the bridge that is about to end
                self.control.api(f"uuid_setvar {leg} park_after_bridge true")
            self.control.api(f"uuid_park {agent_leg}")
        else:
            try:
                agent_leg = self._into_room(call_id, agent_id)
            except ESLError:
                if target_agent is not None:
                    self.acd.apply(lambda t: self.acd.acd.engaged_call_ended(name, 0.0, t))
                raise
        consult = Consult(mode, agent_id, call_id, agent_leg, target, str(uuid.uuid4()), target_agent)
        self.consults[agent_id] = consult
        info = self.acd.calls.get(call_id)
        if target_agent is not None and info is not None:
            pop = {**info.pop, "phase": mode, "consulted_by": agent_id}
            self.acd.hub.publish(target_agent, "screen_pop", pop, sticky=True)
            self.metrics.screen_pops.labels(mode).inc()
        gevent.spawn(self._run_consult, consult, contact, info.caller if info else "")
        return {"target": target, "leg": consult.target_leg}

    def _into_room(self, call_id: str, agent_id: str) -> str:
        """Move caller and agent out of their bridge into the call's conference room (once per call);
        returns the agent's leg. The caller's outbound-socket session keeps its channel and events
        (``uuid_transfer`` only ends the socket application's park; the listener lives until hangup)
        and is told the bridge ends (no music). The caller is the room's ``endconf`` member: when they
        hang up, the room ends and the others are hung up. The agent's leg is watched from then on."""
        agent_leg = self.acd.agent_legs[call_id]
        if call_id in self.rooms:
            return agent_leg
        self.rooms.intersection_update(self.acd.calls)  # forget the rooms of calls that are over
        room = f"hotline-{call_id}@{CONFERENCE_PROFILE}"
        leg = self.legs.register(agent_leg)
        try:
            self.control.api(f"uuid_setvar {agent_leg} park_after_bridge true")  # outlives the caller's move
            self.acd.hold_for_consult(call_id, music=False)
            self.control.api(f"uuid_break {call_id} all")  # hold music queued behind the bridge would run first
            self.control.api(f"uuid_transfer {call_id} conference:{room}+flags{{endconf}} inline")
            self.control.api(f"uuid_transfer {agent_leg} conference:{room} inline")
        except ESLError:
            self.legs.forget(agent_leg)
            raise
        self.rooms.add(call_id)
        gevent.spawn(self._watch_agent_in_room, call_id, agent_id, agent_leg, leg)
        return agent_leg

    def _watch_agent_in_room(self, call_id: str, agent_id: str, agent_leg: str, leg: Leg) -> None:
        """The agent's leg left the room (``leave``, the caller ending the room, or the agent hanging up
        their phone). Hanging up with a third party in the room is a ``leave``; with nobody else but the
        caller (or the third party still ringing) it ends the call, as hanging up a bridged call does."""
        try:
            leg.hangup.get()
        finally:
            self.legs.forget(agent_leg)
        if call_id not in self.acd.calls:  # the call is over, or the agent already left it
            return
        consult = self.consults.get(agent_id)
        if consult is not None and consult.call_id == call_id and consult.answered.is_set():
            self._completed(consult)
            return
        if consult is not None and consult.call_id == call_id:
            consult.cancelled = True
            self._kill(consult.target_leg)
        self._kill(call_id)

    def _run_consult(self, consult: Consult, contact: str, caller: str) -> None:
        """Ring the target; answered, bridge the agent to them (consult) or the target's leg joins the
        call's room (conference). When the target's leg ends before the agent completed the transfer,
        the agent is (back) with the caller; once the agent left a conference, its end ends the call.
        Release a target agent at the end."""
        leg = self.legs.register(consult.target_leg)
        result = "failed"
        try:
            variables = (
                f"origination_uuid={consult.target_leg},originate_timeout={self.settings.ring_seconds},"
                f"origination_caller_id_number={caller or self.settings.caller_id},hotline_consult={consult.call_id}"
            )
            room = f"hotline-{consult.call_id}@{CONFERENCE_PROFILE}"
            app = "park()" if consult.mode == "consult" else f"conference({room})"
            self.legs.client.bgapi(f"originate {{{variables}}}{contact} &{app}", self.settings.ring_seconds + 10)
            if consult.cancelled:  # answered just as the agent cancelled
                self._kill(consult.target_leg)
                raise CommandFailed("-ERR ORIGINATOR_CANCEL")
            if consult.mode == "consult":
                self.control.api(f"uuid_bridge {consult.agent_leg} {consult.target_leg}")
            consult.answered.set()
            if consult.mode == "conference":
                self.segments.joined_conference(consult.call_id, consult.target, consult.target_agent)
            self._tell(consult, "answered")
            leg.hangup.get()
            result = "completed" if consult.completed else "cancelled"
            if consult.completed and consult.mode == "conference":  # the caller would be alone in the room
                self._kill(consult.call_id)
        except CommandFailed as exc:
            cause = str(exc).removeprefix("-ERR").strip()
            result = DIAL_OUTCOMES.get(cause, "cancelled" if cause == "ORIGINATOR_CANCEL" else "failed")
        except ESLError as exc:
            log.warning("consult %s by %s: %s", consult.target, consult.agent_id, exc)
        finally:
            self.legs.forget(consult.target_leg)
            if consult.mode == "conference" and not consult.completed:
                self.segments.left_conference(consult.call_id, consult.target, consult.target_agent)
            if not consult.completed:
                self._back_to_caller(consult)
                self.metrics.consults.labels(consult.mode, result).inc()
                self._tell(consult, f"back: {result}")
            if consult.target_agent is not None:
                wrap_up = self.settings.wrap_up_seconds if consult.answered.is_set() else 0.0
                self.acd.apply(lambda t: self.acd.acd.engaged_call_ended(consult.target_agent, wrap_up, t))
                self.acd.hub.clear(consult.target_agent)
            consult.over.set()

    def _tell(self, consult: Consult, state: str) -> None:
        """The consulting agent's desktop follows the consultation: answered, back: <why>."""
        data = {"call_id": consult.call_id, "target": consult.target, "state": state}
        self.acd.hub.publish(consult.agent_id, "consult", data)

    def _back_to_caller(self, consult: Consult) -> None:
        self.consults.pop(consult.agent_id, None)
        if consult.mode == "conference":  # caller and agent stay in their room
            return
        try:
            self.acd.bridge_caller(consult.call_id, consult.agent_leg)
            self.control.api(f"uuid_setvar {consult.agent_leg} park_after_bridge")  # hang up with the caller
        except ESLError as exc:  # the caller hung up meanwhile: release the agent's phone from park
            log.info("consult by %s: back to the caller: %s", consult.agent_id, exc)
            self._kill(consult.agent_leg)

    def _kill(self, leg: str) -> None:
        try:
            self.control.api(f"uuid_kill {leg}")
        except ESLError as exc:
            log.debug("uuid_kill %s: %s", leg, exc)

    # ---- manual dial --------------------------------------------------------------------------

    def _dial(self, agent_id: str, number: str, override_dnc: bool) -> dict[str, Any]:
        """Refuse do-not-call numbers unless overridden (the API lets only supervisors and admins);
        engage the agent in the ACD, pop the customer on their feed, and place the call."""
        if not number:
            raise ValueError("dial: give the number to call")
        listed = self._dnc_source(number)
        if listed and not override_dnc:
            self.metrics.agent_dials.labels("dnc_refused").inc()
            raise ValueError(f"dial: {number} is on the do-not-call list ({listed}); a supervisor may override")
        contact = self.acd.acd.snapshot().agents[agent_id].contact
        if not contact:
            raise ValueError(f"agent {agent_id} has no phone (contact) to ring")
        try:
            self.acd.apply(lambda t: self.acd.acd.engage(agent_id, "dial", t))
        except IllegalTransition as exc:
            raise ValueError(f"agent {agent_id} cannot dial now: {exc}") from None
        call = DirectCall(agent_id, number, str(uuid.uuid4()), str(uuid.uuid4()), datetime.now(UTC))
        self.direct[agent_id] = call
        customer, history = self.customer_pop(number)
        pop = {
            "phase": "dial",
            "call_id": call.party_leg,
            "number": number,
            "customer": customer,
            "customer_name": customer["name"] if customer else "unknown",
            "last_interactions": history,
            "dnc_overridden": bool(listed),
        }
        self.acd.hub.publish(agent_id, "screen_pop", pop, sticky=True)
        self.metrics.screen_pops.labels("dial").inc()
        gevent.spawn(self._run_dial, call, contact, customer["id"] if customer else None)
        return {"call": call.party_leg, "leg": call.agent_leg, "number": number}

    def _dnc_source(self, number: str) -> str | None:
        """The do-not-call list ``number`` is on (as typed or in E.164), or None."""
        forms = {number}
        with contextlib.suppress(InvalidInput):  # an extension or short code: only as typed can be listed
            forms.add(to_e164(number, self.region))
        with self.sessions() as s:
            found = outbound_store.dnc_sources(s, forms)
        return next(iter(found.values()), None)

    def _run_dial(self, call: DirectCall, contact: str, customer_id: int | None) -> None:
        """Place the call and wait for its end; store it, then release the agent to wrap-up (so that
        whoever sees the agent in wrap-up finds the CDR)."""
        outcome = "agent_no_answer"
        try:
            outcome, cause, answered = self._place(call, contact)
            self.metrics.agent_dials.labels(outcome).inc()
            if outcome != "agent_no_answer":
                self._record_dial(call, outcome, cause, answered, customer_id)
        finally:
            self.direct.pop(call.agent_id, None)
            self.acd.hub.clear(call.agent_id)
            wrap_up = self.settings.wrap_up_seconds if outcome != "agent_no_answer" else 0.0
            self.acd.apply(lambda t: self.acd.acd.engaged_call_ended(call.agent_id, wrap_up, t))

    def _place(self, call: DirectCall, contact: str) -> tuple[str, str, datetime | None]:
        """Ring the agent, then the number; (outcome, cause, when the number answered) once it is over."""
        cfg = self.settings
        agent_leg = self.legs.register(call.agent_leg)
        party = self.legs.register(call.party_leg)
        outer = (
            f"origination_uuid={call.agent_leg},originate_timeout={cfg.agent_ring_seconds},"
            f"origination_caller_id_number={call.number},hotline_dial_agent={call.agent_id}"
        )
        inner = (
            f"origination_uuid={call.party_leg},originate_timeout={cfg.ring_seconds},"
            f"origination_caller_id_number={cfg.caller_id}"
        )
        dial_string = cfg.dial_string.replace("{number}", call.number)
        try:
            self.legs.client.bgapi(
                f"originate {{{outer}}}{contact} &bridge({{{inner}}}{dial_string})", cfg.agent_ring_seconds + 10
            )
            agent_leg.hangup.get()
            ended = agent_leg.ended
            cause = ended.variable("originate_disposition") if ended else ""
            outcome = DIAL_OUTCOMES.get(cause, "failed")
            if outcome != "answered":
                return outcome, cause, None
            party.hangup.wait(timeout=5.0)
            answered_us = int(party.ended.get("Caller-Channel-Answered-Time") or 0) if party.ended else 0
            return outcome, cause, datetime.fromtimestamp(answered_us / 1e6, UTC) if answered_us else call.started_at
        except (CommandFailed, ESLError) as exc:  # the agent did not pick up: the number was never rung
            log.info("dial by %s: %s", call.agent_id, exc)
            return "agent_no_answer", str(exc).removeprefix("-ERR").strip(), None
        finally:
            self.legs.forget(call.agent_leg)
            self.legs.forget(call.party_leg)

    def _record_dial(
        self, call: DirectCall, outcome: str, cause: str, answered: datetime | None, customer_id: int | None
    ) -> None:
        ended = max(datetime.now(UTC), call.started_at)
        answered = min(answered, ended) if answered else None
        record = calls.CallRecord(
            uuid=call.party_leg,
            caller_number=f"agent:{call.agent_id}",
            destination=call.number,
            created_at=call.started_at,
            ended_at=ended,
            outcome="answered" if outcome == "answered" else "failed",
            agent_id=call.agent_id,
            answered_at=answered,
            bridged_at=answered,
            wait_seconds=0.0,
            hangup_cause=cause or None,
        )
        with self.sessions.begin() as s:
            calls.record_finished_call(
                s, record, kind="outbound", customer_id=customer_id, notes=f"manual dial by {call.agent_id}: {outcome}"
            )
