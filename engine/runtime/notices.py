"""What the ACD shell and a call's session say to each other: the session's handle and the notices in its inbox.

A session queues its call with a :class:`QueuedInfo` (:meth:`~engine.runtime.acd_shell.AcdShell.enqueue`)
and then reads its ``inbox``: :class:`Bridged`, :class:`BridgeFailed`, :class:`CallerGone`,
:class:`LeftQueue`, :class:`TransferCall`, :class:`ConsultHold`. :class:`AgentLegs` is the read-only view
of the ACD's bridged calls and their agent legs (the ACD owns them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gevent.queue import Queue

from engine.acd.core import Acd


@dataclass(frozen=True)
class Bridged:
    """Sent to a call session: its caller is now talking to ``agent_id``."""

    agent_id: str
    agent_leg: str


@dataclass(frozen=True)
class BridgeFailed:
    """Sent to a call session: the agent answered but the bridge did not form; the call is back at the
    head of its queue (hold music again)."""


@dataclass(frozen=True)
class CallerGone:
    """Sent to a call session: FreeSWITCH says its caller's channel is gone; the ACD ended the call
    (abandoned) and will never offer it again."""


@dataclass(frozen=True)
class LeftQueue:
    """Sent to a call session: the ACD took the call out of the queue (e.g. max wait); ``enqueued_at``:
    when it had joined (ACD clock; None for an agent's transfer)."""

    reason: str
    target: str
    enqueued_at: float | None = None


@dataclass(frozen=True)
class TransferCall:
    """Sent to a call session: its agent transferred the caller to ``target`` (an exit target,
    ``agent:ID`` or ``number:N``); the agent's leg is hung up next."""

    target: str


@dataclass(frozen=True)
class ConsultHold:
    """Sent to a call session: the caller's bridge ends next, not the call: the agent consults someone
    (``music``: the caller hears it until hotline bridges them again, back to the agent or onwards) or
    starts a conference (no music: the caller is transferred into the call's mod_conference room)."""

    music: bool = True


class Esl(Protocol):
    """An ESL connection that runs ``api`` commands (the control connection or a call's own)."""

    def api(self, cmd: str, *args: str, timeout: float | None = None) -> str: ...

    def apis(self, *commands: Sequence[str], timeout: float | None = None) -> list[str]: ...


@dataclass
class QueuedInfo:
    """A call session's handle, given with :meth:`AcdShell.enqueue`: where the shell sends its notices
    (``inbox``), the screen pop to show (``pop``) and the connection its bridge is made on.

    ``queue``, ``caller`` and ``enqueued`` are what the session asked for when it queued the call; the
    shell never reads the call's queue, place or agent from here but asks the ACD, their one owner.
    ``esl`` is the caller's own connection when a session drives the call: its playbacks and the
    bridge then reach FreeSWITCH in order, and the session reports the caller's CHANNEL_BRIDGE
    (:meth:`AcdShell.bridge_seen`). ``connecting`` is true from an agent's answer until the bridge
    formed or failed: no media may be queued on the caller meanwhile. ``first_offer_at`` is the wall
    time its first offer rang, for the CDR."""

    call_id: str
    queue: str
    caller: str
    pop: dict[str, Any]
    enqueued: float
    inbox: Queue = field(default_factory=Queue)
    first_offer_at: datetime | None = None
    esl: Esl | None = None
    connecting: bool = False


class AgentLegs(Mapping[str, str]):
    """Bridged call id -> the agent's leg, read from the ACD (a view: nothing is copied). Iterating or
    counting it costs every call the ACD holds: for tests and benches, not the call path."""

    def __init__(self, acd: Acd) -> None:
        self._acd = acd

    def __getitem__(self, call_id: str) -> str:
        leg = self._acd.agent_leg(call_id)
        if leg is None:
            raise KeyError(call_id)
        return leg

    def __iter__(self) -> Iterator[str]:
        return iter([c.call_id for c in self._acd.bridged_calls() if c.agent_leg])

    def __len__(self) -> int:
        return sum(1 for c in self._acd.bridged_calls() if c.agent_leg)
