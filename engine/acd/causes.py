"""One map from FreeSWITCH's hang-up causes to what became of a dialled leg, for every dialler in hotline.

The ACD's offers (``-ERR <CAUSE>`` of ``bgapi originate``), agents' manual dials (the agent leg's
``originate_disposition`` and the number leg's answer: :func:`manual_dial_outcome`) and campaign dials
all read this map, so the same cause means the same
thing everywhere. Causes not listed are ``failed``.
"""

from __future__ import annotations

from enum import StrEnum


class DialOutcome(StrEnum):
    """What became of one dialled leg."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # the ring was stopped by its originator (originate_timeout, or hotline)
    FAILED = "failed"


_O = DialOutcome

HANGUP_CAUSES: dict[str, DialOutcome] = {
    "SUCCESS": _O.ANSWERED,
    "NO_ANSWER": _O.NO_ANSWER,
    "NO_USER_RESPONSE": _O.NO_ANSWER,
    "ALLOTTED_TIMEOUT": _O.NO_ANSWER,
    "RECOVERY_ON_TIMER_EXPIRE": _O.NO_ANSWER,
    "PROGRESS_TIMEOUT": _O.NO_ANSWER,
    "ORIGINATOR_CANCEL": _O.CANCELLED,
    "USER_BUSY": _O.BUSY,
    "CALL_REJECTED": _O.REJECTED,
}
"""FreeSWITCH hang-up cause (``switch_cause_t`` name) -> outcome; anything else is ``failed``."""

OFFER_FAILURES: dict[DialOutcome, str] = {
    _O.NO_ANSWER: "no_answer",
    _O.CANCELLED: "no_answer",  # the agent's phone rang out (or hotline stopped it): as no answer
    _O.BUSY: "busy",
    _O.REJECTED: "rejected",
}
"""An outcome as the reason of a failed ACD offer (``Acd.offer_failed``); anything else is ``failed``."""


def outcome_of(cause: str) -> DialOutcome:
    """The outcome of ``cause`` (a cause name, or FreeSWITCH's ``-ERR CAUSE ...`` reply text)."""
    words = cause.strip().removeprefix("-ERR").split()  # FreeSWITCH may send a bare "-ERR"
    return HANGUP_CAUSES.get(words[0].upper() if words else "", DialOutcome.FAILED)


def offer_failure(cause: str) -> str:
    """The ACD's reason for an offer whose ``originate`` failed with ``cause`` (``-ERR NO_ANSWER``)."""
    return OFFER_FAILURES.get(outcome_of(cause), "failed")


def manual_dial_outcome(disposition: str, number_answered: bool) -> DialOutcome:
    """What became of an agent's manual dial (the agent's leg bridged on to the number).

    ``disposition`` is the agent leg's ``originate_disposition``: what its bridge to the number got.
    ``ORIGINATOR_CANCEL`` means the agent hung up as the number rang or just as it answered (on a real
    FreeSWITCH the bridge may not have formed yet): the number's own leg decides, answered if it answered.
    """
    outcome = outcome_of(disposition)
    if outcome is DialOutcome.CANCELLED and number_answered:
        return DialOutcome.ANSWERED
    return outcome


def number_leg_decides(disposition: str) -> bool:
    """Whether :func:`manual_dial_outcome` needs the number's leg (answered, or cancelled by the agent)."""
    return outcome_of(disposition) in (DialOutcome.ANSWERED, DialOutcome.CANCELLED)


def cause_name(reply: str) -> str:
    """The cause named by an ``-ERR CAUSE ...`` reply (``FAILED`` when there is none)."""
    words = reply.strip().removeprefix("-ERR").split()
    return words[0] if words else "FAILED"
