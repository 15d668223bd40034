"""A preview dial: the agent chose the contact, so the agent's phone rings first and, once answered, bridges
to the contact (``originate {...}<agent> &bridge({...}<gateway><number>)``). No AMD: the agent hears whoever
answers. The agent is on break ``preview`` in the ACD for the call, so no queued call is offered meanwhile.
The outcome is the agent leg's ``originate_disposition`` (what its bridge got), read from its hangup event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from engine.acd.states import IllegalTransition
from engine.campaigns.call import ORIGINATE_FAILURES, Dial, DialResult, Progress, dial_endpoint, dial_variables
from engine.campaigns.legs import Legs
from engine.dialler.outcomes import CallOutcome
from engine.esl import dialstring
from engine.esl.codec import UnsafeValue
from engine.runtime.acd_shell import AcdShell
from engine.transport import CommandFailed, ESLError

log = logging.getLogger(__name__)

AGENT_RING_SECONDS = 30
HANGUP_WAIT_SECONDS = 5.0


class PreviewDial:
    """Runs one preview dial for ``agent_id``; ``run()`` returns its :class:`DialResult`."""

    def __init__(
        self, dial: Dial, agent_id: str, agent_contact: str, legs: Legs, acd: AcdShell, wall: Callable[[], float]
    ) -> None:
        self.dial, self.agent_id, self.agent_contact = dial, agent_id, agent_contact
        self.legs, self.acd, self.wall = legs, acd, wall
        self.progress = Progress(dialled_at=wall())

    def run(self) -> DialResult:
        core = self.acd.acd
        try:
            self.acd.apply(lambda t: core.agent_break(self.agent_id, "preview", t))
        except IllegalTransition as exc:
            return DialResult(CallOutcome.FAILED, hangup_cause="AGENT_NOT_READY", notes=[str(exc)])
        try:
            return self._call()
        finally:
            self.acd.apply(lambda t: core.agent_ready(self.agent_id, t))

    def _call(self) -> DialResult:
        d = self.dial
        agent_leg = self.legs.register(str(uuid.uuid4()))
        customer = self.legs.register(d.leg)
        outer = {
            "origination_uuid": agent_leg.uuid,
            "originate_timeout": AGENT_RING_SECONDS,
            "origination_caller_id_number": dialstring.number(d.number, "contact number"),
            "hotline_campaign": d.campaign,
        }
        try:
            bridge = dialstring.bridge_to(dial_variables(d), dial_endpoint(d))
            self.legs.client.bgapi(
                *dialstring.originate(outer, self.agent_contact, *bridge), timeout=AGENT_RING_SECONDS + 10
            )
        except UnsafeValue as exc:  # nothing was sent: the number or a variable failed the dial grammar
            self.legs.forget(agent_leg.uuid)
            return DialResult(CallOutcome.FAILED, hangup_cause="INVALID_NUMBER_FORMAT", notes=[str(exc)])
        except (CommandFailed, ESLError) as exc:  # the agent did not pick up: the contact was never rung
            self.legs.forget(agent_leg.uuid)
            return DialResult(CallOutcome.FAILED, hangup_cause="AGENT_NO_ANSWER", notes=[str(exc)])
        try:
            agent_leg.hangup.get()
            ended = agent_leg.ended
            disposition = ended.variable("originate_disposition") if ended else ""
            if disposition != "SUCCESS":
                return DialResult(ORIGINATE_FAILURES.get(disposition, CallOutcome.FAILED), hangup_cause=disposition)
            customer.hangup.wait(timeout=HANGUP_WAIT_SECONDS)
            answered_us = int(customer.ended.get("Caller-Channel-Answered-Time") or 0) if customer.ended else 0
            answered = answered_us / 1e6 if answered_us else self.wall()
            return DialResult(
                CallOutcome.LIVE,
                hangup_cause=customer.hangup.get() if customer.hangup.ready() else None,
                answered_at=answered,
                agent_id=self.agent_id,
                talk_seconds=self.wall() - answered,
            )
        finally:
            self.legs.forget(agent_leg.uuid)
