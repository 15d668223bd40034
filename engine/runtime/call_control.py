"""Call control: what an agent does on a call and what a supervisor does to an agent, audited.

Agent actions act on the agent's current call: ``hold``/``unhold``/``hangup``/``record``, blind
``transfer`` of a queued call, ``dial`` (a call of their own: :mod:`engine.runtime.manual_dial`) and,
on a queued call, ``consult``/``conference``/``complete``/``leave``/``cancel``
(:mod:`engine.runtime.consults`).

Supervisor actions: ``listen``/``whisper``/``barge`` (ring the supervisor's phone into
``eavesdrop``; DTMF 2/3 switch the mode as FreeSWITCH's eavesdrop does), ``force_break``,
``force_logout``. Every action, refused or done, is a row of the call-control log and a count in
``hotline_call_control_actions_total``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import gevent
from sqlalchemy.orm import Session, sessionmaker

from engine.esl import dialstring
from engine.esl.codec import UnsafeValue
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.runtime.consults import ACTIONS as CONSULT_ACTIONS
from engine.runtime.consults import Consults
from engine.runtime.manual_dial import ManualDials
from engine.runtime.segments import CallSegments
from engine.store import call_control_log
from engine.transport import ESLError, InboundClient

log = logging.getLogger(__name__)

NOT_IN_A_ROOM = ("hold", "unhold", "transfer", "consult")  # they need the caller-agent bridge
EAVESDROP_KEYS = {"listen": None, "whisper": "2", "barge": "3"}  # mod_dptools eavesdrop: 2 talks to the agent
TRANSFER_KINDS = ("queue", "flow", "agent", "number")


def _shown(detail: object) -> str | None:
    """What the audit log keeps of an action's argument: as given when printable, else its repr; cut
    to the column's 255 characters."""
    if detail is None or (isinstance(detail, str) and detail.isprintable() and len(detail) <= 255):
        return detail
    return repr(detail)[:255]


class CallControl:
    """Carries out agent and supervisor call-control actions; owned by the engine, called by the API."""

    def __init__(
        self,
        acd: AcdShell,
        control: InboundClient,
        sessions: sessionmaker[Session],
        metrics: Metrics,
        *,
        dials: ManualDials,
        consults: Consults,
        start_recording: Callable[[str, str, str | None, str | None], str],
        agent_action: Callable[[str, str, str | None], dict[str, Any]],
        segments: CallSegments,
    ) -> None:
        self.acd, self.control, self.sessions, self.metrics = acd, control, sessions, metrics
        self.dials, self.consults = dials, consults
        self.start_recording, self.agent_action = start_recording, agent_action
        self.segments = segments  # who has each call: a blind transfer is told to it

    # ---- the entry point ----------------------------------------------------------------------

    def act(self, actor: str, agent_id: str, action: str, **args: Any) -> dict[str, Any]:
        """Do ``action`` on ``agent_id``'s call (or, for supervisors, to the agent); audited.

        Arguments by action: ``transfer`` ``target`` (``queue:NAME``, ``flow:NAME``, ``agent:ID``,
        ``number:N``); ``consult``/``conference`` ``target`` (``agent:ID``, ``queue:NAME``, ``number:N``); ``dial``
        ``number`` and ``override_dnc`` (bool; the API lets only supervisors and admins); ``listen``,
        ``whisper``, ``barge`` ``contact`` (the supervisor's phone); ``force_break`` ``reason``.
        Raises KeyError (unknown agent) or ValueError (not possible now, with why).
        """
        if not self.acd.acd.has_agent(agent_id):
            raise KeyError(f"agent {agent_id}")
        call_id = self.acd.acd.agent_call(agent_id)
        direct = self.dials.direct.get(agent_id)
        shown = call_id or (direct.party_leg if direct else None)
        detail = _shown(args.get("target") or args.get("number") or args.get("contact") or args.get("reason"))
        try:
            result = {"call": shown, **self._perform(actor, agent_id, call_id, action, args)}
        except UnsafeValue as exc:  # refused before anything was sent: the edge answers 400
            self.metrics.unsafe_values.labels(f"call_control_{action}").inc()
            self._audit(actor, action, agent_id, shown, detail, f"refused: {exc}")
            raise
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
            return self.dials.dial(agent_id, args.get("number") or "", bool(args.get("override_dnc")))
        if action in EAVESDROP_KEYS:
            return self._eavesdrop(call_id, agent_id, action, args.get("contact"))
        if call_id in self.consults.rooms and self.acd.acd.has_call(call_id) and action in NOT_IN_A_ROOM:
            raise ValueError(f"{action}: call {call_id} is in a conference (hang up or leave it)")
        if action in CONSULT_ACTIONS:
            return self.consults.act(agent_id, call_id, action, args.get("target") or "")
        direct = self.dials.direct.get(agent_id)
        far_end = call_id or (direct.party_leg if direct else None)
        if far_end is None:
            raise ValueError(f"agent {agent_id} is not on a call")
        if action == "record":
            held = self.acd.acd.call(call_id) if call_id else None
            queue = held.queue if held else None
            return {"path": self.start_recording(far_end, actor, agent_id, queue)}
        if action in ("hold", "unhold"):
            # FreeSWITCH's switch_ivr_hold plays hold music to the held channel's partner: hold the agent's
            # own leg, as their phone's hold button does, so the other party hears the music.
            own = direct.agent_leg if direct and not call_id else self.acd.agent_legs.get(call_id or "")
            if own is None:
                raise ValueError(f"agent {agent_id}'s own leg is not known yet; try again once the call is bridged")
            self.control.api("uuid_hold", *(["off"] if action == "unhold" else []), own)
            return {"leg": own}
        if action == "hangup":
            self.control.api("uuid_kill", direct.agent_leg if direct and not call_id else far_end)
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

    def _transfer(self, call_id: str, target: object) -> dict[str, Any]:
        kind, name = dialstring.target(target, "transfer target", TRANSFER_KINDS)
        target = f"{kind}:{name}"
        if kind == "queue" and not self.acd.acd.has_queue(name):
            raise ValueError(f"transfer target {target!r}: no such queue")
        self.acd.transfer(call_id, target)
        self.segments.transferred(call_id, target)
        return {"target": target}

    def _eavesdrop(self, call_id: str | None, agent_id: str, action: str, contact: str | None) -> dict[str, Any]:
        if call_id is None:
            raise ValueError(f"agent {agent_id} is not on a call")
        if not contact:
            raise ValueError(f"{action}: give the supervisor's phone as contact (e.g. user/1009)")
        dialstring.endpoint(contact, "contact")  # refused here, before anything rings
        leg = str(uuid.uuid4())
        gevent.spawn(self._ring_supervisor, leg, contact, call_id, EAVESDROP_KEYS[action])
        return {"leg": leg}

    def _ring_supervisor(self, leg: str, contact: str, call_id: str, key: str | None) -> None:
        """Ring the supervisor; once they answer they hear the call (and talk, for whisper/barge)."""
        try:
            self.control.bgapi(
                *dialstring.originate({"origination_uuid": leg}, contact, "eavesdrop", dialstring.uuid(call_id)),
                timeout=60,
            )
            if key:
                self.control.api("uuid_send_dtmf", leg, key)
        except ESLError as exc:
            log.info("eavesdrop on %s by %s: %s", call_id, contact, exc)

    # ---- attended transfer ----------------------------------------------------------------------
