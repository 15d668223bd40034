"""One outbound dial from originate to hangup: ring, AMD, then a person goes to the ACD (or hears the
abandon message when no agent takes the call in time) and a machine is handled per the campaign's rule.

The leg is originated parked (``bgapi originate {...}<gateway><number> &park()``); everything after the
answer is a ``sendmsg`` execute on the parked leg (mod_amd's ``amd``, mod_avmd's ``avmd_start``,
``playback``) or an ACD bridge (``uuid_bridge``). Results come from BACKGROUND_JOB and channel events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent.queue import Empty

from engine.acd.causes import HANGUP_CAUSES, DialOutcome
from engine.campaigns.legs import Leg, Legs
from engine.dialler.campaign import AmdRule
from engine.dialler.outcomes import CallOutcome
from engine.esl import dialstring
from engine.esl.codec import UnsafeValue
from engine.runtime.acd_shell import AcdShell, Bridged, QueuedInfo
from engine.transport import CommandFailed, CommandTimeout, ConnectionLost, ESLError

log = logging.getLogger(__name__)

CAMPAIGN_OUTCOMES = {
    DialOutcome.NO_ANSWER: CallOutcome.NO_ANSWER,
    DialOutcome.CANCELLED: CallOutcome.NO_ANSWER,  # rang out (originate_timeout) or stopped by hotline
    DialOutcome.BUSY: CallOutcome.BUSY,
    DialOutcome.REJECTED: CallOutcome.BUSY,  # the person declined: like busy, try again later
}
"""A failed originate's outcome (the one map of hang-up causes, engine.acd.causes) as a campaign outcome;
anything else is ``failed``."""
ORIGINATE_FAILURES = {c: CAMPAIGN_OUTCOMES[o] for c, o in HANGUP_CAUSES.items() if o in CAMPAIGN_OUTCOMES}
"""FreeSWITCH's originate failure causes -> campaign outcomes."""
BEEP_WAIT_SECONDS = 30.0
MESSAGE_LEAD_SECONDS = 0.25  # stop waiting for an agent this long before the deadline so the message starts in time
AMD_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Dial:
    """Everything one dial needs to know about its campaign and contact."""

    leg: str
    campaign: str
    contact_id: int
    number: str
    caller_id: str
    gateway: str
    queue: str
    ring_timeout: float
    amd_rule: AmdRule
    abandon_message: str
    machine_message: str
    pop: dict[str, Any]
    connect_within: float = 2.0
    sample_to: str | None = None  # AMD audit: record the call's first seconds to this WAV (kept for machines)
    sample_seconds: int = 8


@dataclass
class Progress:
    """Where a dial is now (POSIX seconds), read by pacing for its calls in flight."""

    dialled_at: float
    answered_at: float | None = None
    connected_at: float | None = None


@dataclass
class DialResult:
    outcome: CallOutcome
    hangup_cause: str | None = None
    answered_at: float | None = None
    amd_result: str | None = None
    amd_seconds: float | None = None
    agent_id: str | None = None
    talk_seconds: float | None = None
    abandoned: bool = False
    sample_path: str | None = None  # the recorded AMD audit sample of a machine-classified call
    notes: list[str] = field(default_factory=list)


class _HungUp:
    """Inbox marker: the called party hung up."""


def dial_variables(dial: Dial) -> dict[str, object]:
    """The originate variables of a dial's customer leg."""
    return {
        "origination_uuid": dial.leg,
        "hotline_campaign": dial.campaign,
        "hotline_contact": dial.contact_id,
        "originate_timeout": int(dial.ring_timeout),
        "origination_caller_id_number": dial.caller_id,
        "hangup_after_bridge": "true",
    }


def dial_endpoint(dial: Dial) -> str:
    """The contact's endpoint: the campaign's gateway prefix and the checked number."""
    return dialstring.endpoint(dial.gateway + dialstring.number(dial.number, "contact number"), "contact number")


class OutboundDial:
    """Runs one :class:`Dial`; ``run()`` returns its :class:`DialResult`."""

    def __init__(self, dial: Dial, leg: Leg, legs: Legs, acd: AcdShell, wall: Callable[[], float]) -> None:
        self.dial, self.leg, self.legs, self.acd, self.wall = dial, leg, legs, acd, wall
        self.progress = Progress(dialled_at=wall())

    def run(self) -> DialResult:
        d = self.dial
        try:
            self.legs.client.bgapi(
                *dialstring.originate(dial_variables(d), dial_endpoint(d), "park"), timeout=d.ring_timeout + 10
            )
        except CommandFailed as exc:
            cause = str(exc).removeprefix("-ERR").strip().split()[0] if str(exc).strip() else "FAILED"
            return DialResult(ORIGINATE_FAILURES.get(cause, CallOutcome.FAILED), hangup_cause=cause)
        except ESLError as exc:
            log.warning("campaign %s: dialling %s failed: %s", d.campaign, d.number, exc)
            if isinstance(exc, CommandTimeout | ConnectionLost):  # the leg may exist, or appear later
                self.legs.release(d.leg)
            return DialResult(CallOutcome.FAILED, hangup_cause=type(exc).__name__)
        except UnsafeValue as exc:  # nothing was sent: the number or a variable failed the dial grammar
            log.warning("campaign %s: not dialled: %s", d.campaign, exc)
            return DialResult(CallOutcome.FAILED, hangup_cause="INVALID_NUMBER_FORMAT", notes=[str(exc)])
        answered = self.progress.answered_at = self.wall()
        try:
            return self._answered(answered)
        except ESLError as exc:
            log.warning("campaign %s: call %s: %s", d.campaign, d.leg, exc)
            self._kill()
            return DialResult(CallOutcome.FAILED, hangup_cause=type(exc).__name__, answered_at=answered)

    # ---- after the answer -------------------------------------------------------------------------

    def _answered(self, answered: float) -> DialResult:
        sampling = self._start_sample()
        verdict = self._run_app("amd", "", AMD_WAIT_SECONDS)
        amd_seconds = self.wall() - answered
        if verdict is None:  # hung up (or AMD never finished) before a verdict: nobody to connect
            self._kill()
            self._drop_sample(sampling)
            cause = self.leg.hangup.get() if self.leg.hangup.ready() else "AMD_TIMEOUT"
            return DialResult(CallOutcome.NO_ANSWER, hangup_cause=cause, answered_at=answered)
        amd = verdict.variable("amd_result") or "NOTSURE"
        # NOTSURE is treated as a person: never hang up on someone who may be there
        if amd == "MACHINE":
            result = self._machine(sampling)
            result.sample_path = self.dial.sample_to if sampling else None
        else:
            self._drop_sample(sampling)  # only machine verdicts are audited: a person's recording is deleted
            result = self._person()
        result.answered_at, result.amd_result, result.amd_seconds = answered, amd, amd_seconds
        return result

    # ---- AMD audit sample -------------------------------------------------------------------------

    def _start_sample(self) -> bool:
        """``uuid_record`` the leg with a limit before AMD starts: a media bug, so it hears what the ``amd``
        application reads (an application such as ``record_session`` would only run after ``amd`` returns)."""
        d = self.dial
        if d.sample_to is None:
            return False
        try:
            self.legs.client.api("uuid_record", d.leg, "start", d.sample_to, str(d.sample_seconds))
        except ESLError as exc:
            log.warning("campaign %s: AMD sample of %s not recorded: %s", d.campaign, d.leg, exc)
            return False
        return True

    def _drop_sample(self, sampling: bool) -> None:
        """Stop the sample's recording (FreeSWITCH closes the file before replying) and delete the file."""
        if not sampling or self.dial.sample_to is None:
            return
        if not self.leg.hangup.ready() and not self.leg.recorded.ready():
            try:
                self.legs.client.api("uuid_record", self.dial.leg, "stop", self.dial.sample_to)
            except ESLError as exc:
                log.debug("uuid_record stop %s: %s", self.dial.leg, exc)
        Path(self.dial.sample_to).unlink(missing_ok=True)

    def _sample_complete(self, sampling: bool) -> None:
        """Keep the machine's leg up until its sample reached the limit (RECORD_STOP) or the far end hung up."""
        if sampling:
            gevent.wait([self.leg.recorded, self.leg.hangup], timeout=self.dial.sample_seconds + 5.0, count=1)

    def _run_app(self, app: str, arg: str, timeout: float) -> Any:
        """Execute ``app`` on the leg; its completion event, or None when the leg hung up or time ran out."""
        if self.leg.hangup.ready():
            return None
        try:
            done = self.legs.execute(self.leg, app, arg)
        except CommandFailed as exc:
            if "invalid session id" not in str(exc):  # FreeSWITCH's only -ERR to a sendmsg for a gone channel
                raise
            log.info("campaign %s: %s not run on %s: %s", self.dial.campaign, app, self.dial.leg, exc)
            return None
        first = gevent.wait([done, self.leg.hangup], timeout=timeout, count=1)
        return done.get() if done in first and not self.leg.hangup.ready() else None

    def _kill(self, cause: str = "NORMAL_CLEARING") -> None:
        if self.leg.hangup.ready():
            return
        try:
            self.legs.client.api("uuid_kill", self.dial.leg, cause)
        except ESLError as exc:
            log.debug("uuid_kill %s: %s", self.dial.leg, exc)

    def _machine(self, sampling: bool) -> DialResult:
        rule = self.dial.amd_rule
        if rule is AmdRule.LEAVE_MESSAGE:
            if self._run_app("avmd_start", "", 5.0) is not None:
                first = gevent.wait([self.leg.beep, self.leg.hangup], timeout=BEEP_WAIT_SECONDS, count=1)
                if self.leg.beep in first and not self.leg.hangup.ready():
                    self._run_app("avmd_stop", "", 5.0)
                    played = self._run_app("playback", self.dial.machine_message, 120.0) is not None
                    self._kill()
                    return DialResult(CallOutcome.MACHINE, notes=["message left" if played else "hung up in message"])
            self._kill()
            return DialResult(CallOutcome.MACHINE, notes=["no beep: no message left"])
        self._sample_complete(sampling)
        self._kill()
        return DialResult(CallOutcome.MACHINE, notes=[f"amd rule {rule}"])

    def _person(self) -> DialResult:
        d = self.dial
        decided = self.wall()
        info = QueuedInfo(call_id=d.leg, queue=d.queue, caller=d.number, pop=d.pop, enqueued=self.acd.clock())
        self.leg.hangup.rawlink(lambda _: info.inbox.put(_HungUp()))
        self.acd.enqueue(info, 0)
        try:
            wait = d.connect_within - MESSAGE_LEAD_SECONDS - (self.wall() - decided)
            message = info.inbox.get(timeout=max(0.0, wait))
        except Empty:
            message = None
        if not isinstance(message, Bridged):
            self.acd.call_ended(d.leg)  # out of the queue: offers in flight are withdrawn
            late = [m for m in _drain(info) if isinstance(m, Bridged)]
            message = late[0] if late else message
        if isinstance(message, Bridged):
            self.progress.connected_at = connected = self.wall()
            cause = self.leg.hangup.get()
            self.acd.call_ended(d.leg)
            return DialResult(
                CallOutcome.LIVE, hangup_cause=cause, agent_id=message.agent_id, talk_seconds=self.wall() - connected
            )
        if isinstance(message, _HungUp):
            return DialResult(CallOutcome.ABANDONED, hangup_cause=self.leg.hangup.get(), abandoned=True)
        played = self._run_app("playback", d.abandon_message, 60.0) is not None
        self._kill()
        return DialResult(
            CallOutcome.ABANDONED,
            hangup_cause="NORMAL_CLEARING",
            abandoned=True,
            notes=["abandon message played" if played else "hung up during the abandon message"],
        )


def _drain(info: QueuedInfo) -> list[object]:
    items = []
    while not info.inbox.empty():
        items.append(info.inbox.get_nowait())
    return items
