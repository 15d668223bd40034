"""Manual dial: a call the agent places themselves.

The agent's phone rings first and, once they answer, the number (``bgapi originate {...}<agent phone>
&bridge({...}<dial string>)``, matched by Job-UUID; the outcome is the agent leg's
``originate_disposition``, read from its hangup event on the dialler's connection). Meanwhile the
agent is ``engaged`` in the ACD (never offered a queued call); afterwards in wrap-up. The call is a
CDR and an outbound interaction in the customer's history. Numbers on a do-not-call list are refused
unless a supervisor or admin overrides (the API decides who may).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import gevent
from sqlalchemy.orm import Session, sessionmaker

from engine.acd.causes import HANGUP_CAUSES, DialOutcome, manual_dial_outcome, number_leg_decides, outcome_of
from engine.acd.states import IllegalTransition
from engine.campaigns.legs import Legs
from engine.config.model import AgentCalls
from engine.esl import dialstring
from engine.metrics import Metrics
from engine.runtime.acd_shell import AcdShell
from engine.store import calls
from engine.store import outbound as outbound_store
from engine.store.errors import InvalidInput
from engine.store.phones import to_e164
from engine.transport import CommandFailed, ESLError

log = logging.getLogger(__name__)

DIAL_OUTCOMES = {cause: str(outcome) for cause, outcome in HANGUP_CAUSES.items()}
"""FreeSWITCH's originate dispositions -> what became of a dialled leg (the one map: engine.acd.causes)."""

Pop = Callable[[str], tuple[dict[str, Any] | None, list[dict[str, Any]]]]


@dataclass
class DirectCall:
    """A call the agent placed: their phone's leg, the called party's leg, when it started."""

    agent_id: str
    number: str
    agent_leg: str
    party_leg: str
    started_at: datetime


class ManualDials:
    """Places agents' own calls; ``direct`` holds the one each agent is on."""

    def __init__(
        self,
        acd: AcdShell,
        legs: Legs,
        sessions: sessionmaker[Session],
        metrics: Metrics,
        settings: AgentCalls,
        *,
        region: str,
        customer_pop: Pop,
    ) -> None:
        self.acd, self.legs, self.sessions, self.metrics = acd, legs, sessions, metrics
        self.settings, self.region, self.customer_pop = settings, region, customer_pop
        self.direct: dict[str, DirectCall] = {}  # agent id -> the call they placed

    def dial(self, agent_id: str, number: str, override_dnc: bool) -> dict[str, Any]:
        """Refuse do-not-call numbers unless overridden (the API lets only supervisors and admins);
        engage the agent in the ACD, pop the customer on their feed, and place the call."""
        if not number:
            raise ValueError("dial: give the number to call")
        number = dialstring.typed_number(number, "number")
        dialstring.from_template(self.settings.dial_string, number, "number")
        listed = self.dnc_source(number)
        if listed and not override_dnc:
            self.metrics.agent_dials.labels("dnc_refused").inc()
            raise ValueError(f"dial: {number} is on the do-not-call list ({listed}); a supervisor may override")
        contact = self.acd.acd.agent(agent_id).contact
        if not contact:
            raise ValueError(f"agent {agent_id} has no phone (contact) to ring")
        dialstring.endpoint(contact, f"agent {agent_id}'s contact")
        customer, history = self.customer_pop(number)  # before the agent is engaged: it may fail
        try:
            self.acd.apply(lambda t: self.acd.acd.engage(agent_id, "dial", t))
        except IllegalTransition as exc:
            raise ValueError(f"agent {agent_id} cannot dial now: {exc}") from None
        call = DirectCall(agent_id, number, str(uuid.uuid4()), str(uuid.uuid4()), datetime.now(UTC))
        self.direct[agent_id] = call
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

    def dnc_source(self, number: str) -> str | None:
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
        outer = {
            "origination_uuid": call.agent_leg,
            "originate_timeout": cfg.agent_ring_seconds,
            "origination_caller_id_number": call.number,
            "hotline_dial_agent": call.agent_id,
        }
        inner = {
            "origination_uuid": call.party_leg,
            "originate_timeout": cfg.ring_seconds,
            "origination_caller_id_number": cfg.caller_id,
        }
        dial = dialstring.from_template(cfg.dial_string, call.number)
        try:
            self.legs.client.bgapi(
                *dialstring.originate(outer, contact, *dialstring.bridge_to(inner, dial)),
                timeout=cfg.agent_ring_seconds + 10,
            )
            agent_leg.hangup.get()
            ended = agent_leg.ended
            cause = ended.variable("originate_disposition") if ended else ""
            if not number_leg_decides(cause):
                return str(outcome_of(cause)), cause, None
            # answered, or cancelled by the agent as the number rang or answered: the number's own leg says which
            party.hangup.wait(timeout=5.0 if outcome_of(cause) is DialOutcome.ANSWERED else 2.0)
            answered_us = int(party.ended.get("Caller-Channel-Answered-Time") or 0) if party.ended else 0
            outcome = manual_dial_outcome(cause, answered_us > 0)
            if outcome is not DialOutcome.ANSWERED:
                return str(outcome), cause, None
            at = datetime.fromtimestamp(answered_us / 1e6, UTC) if answered_us else call.started_at
            return "answered", "SUCCESS", at
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
