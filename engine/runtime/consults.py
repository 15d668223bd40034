"""Attended transfer and three-way conference on a queued call.

``consult``: the caller waits with music, the agent talks to the target, then ``complete`` joins
caller and target or ``cancel`` returns the agent. ``conference``: caller, agent and target in the
call's mod_conference room; ``leave`` leaves the other two talking, ``cancel`` drops the third party.
A target agent (``agent:ID``, or the free agent a ``queue:NAME``'s strategy picks) is reserved
through the ACD (``engaged``) until their part ends; a ``number:N`` is dialled through
``agent_calls.dial_string`` unless it is on a do-not-call list.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event

from engine.acd.core import UnknownQueue
from engine.acd.states import IllegalTransition
from engine.campaigns.legs import Leg, Legs
from engine.config.model import AgentCalls
from engine.esl import dialstring
from engine.esl.codec import UnsafeValue
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.runtime.manual_dial import DIAL_OUTCOMES
from engine.runtime.segments import CallSegments
from engine.transport import CommandFailed, ESLError, InboundClient

log = logging.getLogger(__name__)

_MODE_OF = {"complete": "consult", "leave": "conference"}
CONFERENCE_PROFILE = "hotline"  # freeswitch_conf/autoload_configs/conference.conf.xml
ACTIONS = ("consult", "conference", "complete", "leave", "cancel")


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


class Consults:
    """Consultations and conferences in progress (``active``: agent id -> theirs) and the calls whose
    caller and agent are in a conference room (``rooms``)."""

    def __init__(
        self,
        acd: AcdShell,
        control: InboundClient,
        legs: Legs,
        metrics: Metrics,
        settings: AgentCalls,
        *,
        dnc_source: Callable[[str], str | None],
        segments: CallSegments,
    ) -> None:
        self.acd, self.control, self.legs, self.metrics, self.settings = acd, control, legs, metrics, settings
        self.dnc_source, self.segments = dnc_source, segments  # every change of hands is told to segments
        self.active: dict[str, Consult] = {}
        self.rooms: set[str] = set()

    def act(self, agent_id: str, call_id: str | None, action: str, target: str) -> dict[str, Any]:
        consult = self.active.get(agent_id)
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
        self.active.pop(consult.agent_id, None)
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
        kind, name = dialstring.target(target, f"{mode} target", ("agent", "queue", "number"))
        target = f"{kind}:{name}"
        target_agent = None
        if kind == "queue":  # a warm transfer to a team: the agent its strategy picks now
            kind, name = "agent", self._free_agent_of(name, agent_id, mode)
        if kind == "agent":
            if not self.acd.acd.has_agent(name) or name == agent_id:
                raise ValueError(f"{mode} target {target!r}: no such agent (or yourself)")
            wanted = self.acd.acd.agent(name)
            contact = dialstring.endpoint(wanted.contact, f"agent {name}'s contact")
            try:
                self.acd.apply(lambda t: self.acd.acd.engage(name, "consult", t))
            except IllegalTransition:
                raise ValueError(f"{mode} target {target!r} is busy ({wanted.state}), not ready") from None
            target_agent = name
        elif kind == "number":
            if listed := self.dnc_source(name):
                raise ValueError(f"{mode} target {target!r} is on the do-not-call list ({listed})")
            contact = dialstring.from_template(self.settings.dial_string, name, "target")
        else:
            raise ValueError(f"{mode} target {target!r}: use agent:ID, queue:NAME or number:N")
        try:
            if mode == "consult":
                agent_leg = self.acd.hold_for_consult(call_id)
                for leg in (call_id, agent_leg):  # both outlive the bridge that is about to end
                    self.control.api("uuid_setvar", leg, "park_after_bridge", "true")
                self.control.api("uuid_park", agent_leg)
            else:
                agent_leg = self._into_room(call_id, agent_id)
        except ESLError:  # nothing rang: the reserved colleague is free again
            if target_agent is not None:
                self.acd.apply(lambda t: self.acd.acd.engaged_call_ended(name, 0.0, t))
            raise
        consult = Consult(mode, agent_id, call_id, agent_leg, target, str(uuid.uuid4()), target_agent)
        self.active[agent_id] = consult
        info, held = self.acd.inboxes.get(call_id), self.acd.acd.call(call_id)
        if target_agent is not None and info is not None:
            pop = {**info.pop, "phase": mode, "consulted_by": agent_id}
            self.acd.hub.publish(target_agent, "screen_pop", pop, sticky=True)
            self.metrics.screen_pops.labels(mode).inc()
        gevent.spawn(self._run_consult, consult, contact, held.caller if held else "")
        return {"target": target, "leg": consult.target_leg, "agent": target_agent}

    def _free_agent_of(self, queue: str, agent_id: str, mode: str) -> str:
        try:
            picked = self.acd.acd.consult_agent(queue, agent_id)
        except UnknownQueue:
            raise ValueError(f"{mode} target 'queue:{queue}': no such queue") from None
        if picked is None:
            raise ValueError(
                f"{mode} target 'queue:{queue}': nobody in it is free; transfer the caller to the queue instead"
            )
        return picked

    def _into_room(self, call_id: str, agent_id: str) -> str:
        """Move caller and agent out of their bridge into the call's conference room (once per call);
        returns the agent's leg. The caller's outbound-socket session keeps its channel and events
        (``uuid_transfer`` only ends the socket application's park; the listener lives until hangup)
        and is told the bridge ends (no music). The caller is the room's ``endconf`` member: when they
        hang up, the room ends and the others are hung up. The agent's leg is watched from then on."""
        agent_leg = self.acd.agent_legs[call_id]
        if call_id in self.rooms:
            return agent_leg
        self.rooms.intersection_update(self.acd.acd.call_ids())  # forget the rooms of calls that are over
        room = f"hotline-{call_id}@{CONFERENCE_PROFILE}"
        leg = self.legs.register(agent_leg)
        try:
            self.control.api("uuid_setvar", agent_leg, "park_after_bridge", "true")  # outlives the caller's move
            self.acd.hold_for_consult(call_id, music=False)
            self.control.api("uuid_break", call_id, "all")  # hold music queued behind the bridge would run first
            self.control.api("uuid_transfer", call_id, f"conference:{room}+flags{{endconf}}", "inline")
            self.control.api("uuid_transfer", agent_leg, f"conference:{room}", "inline")
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
        if not self.acd.acd.has_call(call_id):  # the call is over, or the agent already left it
            return
        consult = self.active.get(agent_id)
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
            variables = {
                "origination_uuid": consult.target_leg,
                "originate_timeout": self.settings.ring_seconds,
                "origination_caller_id_number": dialstring.caller_id(caller) if caller else self.settings.caller_id,
                "hotline_consult": consult.call_id,
            }
            room = f"hotline-{consult.call_id}@{CONFERENCE_PROFILE}"
            app = ("park", "") if consult.mode == "consult" else ("conference", room)
            self.legs.client.bgapi(
                *dialstring.originate(variables, contact, *app), timeout=self.settings.ring_seconds + 10
            )
            if consult.cancelled:  # answered just as the agent cancelled
                self._kill(consult.target_leg)
                raise CommandFailed("-ERR ORIGINATOR_CANCEL")
            if consult.mode == "consult":
                self.control.api("uuid_bridge", consult.agent_leg, consult.target_leg)
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
        except (ESLError, UnsafeValue) as exc:
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
        self.active.pop(consult.agent_id, None)
        if consult.mode == "conference":  # caller and agent stay in their room
            return
        try:
            self.acd.bridge_caller(consult.call_id, consult.agent_leg)
            self.control.api("uuid_setvar", consult.agent_leg, "park_after_bridge")  # hang up with the caller
        except ESLError as exc:  # the caller hung up meanwhile: release the agent's phone from park
            log.info("consult by %s: back to the caller: %s", consult.agent_id, exc)
            self._kill(consult.agent_leg)

    def _kill(self, leg: str) -> None:
        try:
            self.control.api("uuid_kill", leg)
        except ESLError as exc:
            log.debug("uuid_kill %s: %s", leg, exc)
