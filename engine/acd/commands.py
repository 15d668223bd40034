"""What the ACD core asks its I/O shell to do (and tells it about); plain frozen records."""

from __future__ import annotations

from dataclasses import dataclass

from engine.acd.states import AgentState


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring ``agent_id`` at ``contact`` with ``call_id`` for at most ``timeout_seconds``.

    Report the outcome with ``Acd.offer_answered`` or ``Acd.offer_failed``.
    """

    offer_id: str
    call_id: str
    agent_id: str
    queue: str
    timeout_seconds: float
    contact: str


@dataclass(frozen=True, slots=True)
class CancelOffer:
    """Stop ringing the agent for this offer; the ACD has already resolved it."""

    offer_id: str
    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class Bridge:
    """The agent answered: bridge the caller with the agent leg of ``offer_id``."""

    call_id: str
    agent_id: str
    offer_id: str


@dataclass(frozen=True, slots=True)
class QueueExit:
    """The call left the queue (``reason``, e.g. max_wait): send it to ``target``.  ``enqueued_at`` is
    when it joined (its place, which a keep-your-place callback keeps)."""

    call_id: str
    queue: str
    reason: str
    target: str
    enqueued_at: float


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """An agent changed state at ``at`` for ``reason`` (a break's reason, or why an offer ended:
    no_answer, busy, rejected, failed, cancelled; for persistence and metrics)."""

    agent_id: str
    old: AgentState
    new: AgentState
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller hung up before an agent answered, after waiting ``waited`` seconds."""

    call_id: str
    queue: str
    waited: float


@dataclass(frozen=True, slots=True)
class DialCallback:
    """The agent answered the offer of a callback: dial the customer (attempt ``attempt``) and join
    them to the agent leg of ``offer_id``; report ``callback_connected`` or ``callback_failed``."""

    call_id: str
    agent_id: str
    offer_id: str
    queue: str
    attempt: int


@dataclass(frozen=True, slots=True)
class CallbackChanged:
    """A callback's status changed (persist and measure): ``pending``, ``dialling``, ``retry``,
    ``connected``, ``completed``, ``failed`` (attempts used up) or ``cancelled``."""

    call_id: str
    queue: str
    status: str
    attempts: int
    agent_id: str | None


Command = Offer | CancelOffer | Bridge | QueueExit | AgentStateChanged | CallAbandoned | DialCallback | CallbackChanged
