"""The ACD's three state machines: agents, calls (as the ACD sees them) and offers.

Modelled on h11's ``_state.py``: the rules are stated here in prose, every legal
transition is one row of a table below, and anything not in a table raises
:class:`IllegalTransition`.  Everything else in :mod:`engine.acd` moves a state
only through :func:`transition`.

Agents
    An agent starts ``logged_out``.  ``login`` makes them ``ready``.  A ready agent
    may be offered a call (``offer``): they are then ``reserved`` — exactly one offer
    is ringing at their phone.  ``answer`` puts them ``on_call``.  If the offer fails
    (no answer, busy, rejected, failed) they go back to ``ready`` (the ACD may hold
    them out of routing for a per-reason delay, which is not a state), or to
    ``break`` when they reached the queue's consecutive no-answer limit
    (``too_many_no_answers``).  If the offer is withdrawn (caller hung up, another
    agent answered a ring-all call, FreeSWITCH reconnected) they go back to
    ``ready``.  When the bridged call ends they are in ``wrap_up`` until it expires
    or they end it (``wrap_up_ended`` -> ``ready``).  If the bridge to the caller does not form
    (the agent's leg vanished between answering and the bridge: ``bridge_failed``) they go back to
    ``ready`` without wrap-up, held out for the queue's failed delay.  If instead FreeSWITCH says the
    *caller's* channel is gone (``caller_gone``: ``-ERR No such channel!`` for the caller, or the caller's
    hangup seen before the bridge formed) they go back to ``ready`` at once: no wrap-up, no penalty.
    An offer whose ``originate`` was lost with the control connection (``offer_lost``: FreeSWITCH out of
    reach, nobody to blame) puts its agent back to ``ready`` with no penalty but held out of routing
    until FreeSWITCH is back (the ACD's ``reset``), so no agent is offered calls that cannot ring.
    An agent on a callback whose customer could not be reached goes straight back to ``ready``
    (``callback_failed``, no wrap-up).
    ``break`` carries a reason code; going on break again just changes the reason.  Logging out is possible
    from every logged-in state except ``on_call`` (finish the call first); from
    ``reserved`` it withdraws the ringing offer, as does going on break.
    An agent may place a call of their own (``dial``: from ``ready``, ``break`` or
    ``wrap_up``) or be rung for a colleague's consultation or conference
    (``consult``: only from ``ready``); both make them ``engaged``: on a call the
    ACD did not route, never offered a queued call.  Logging out or going on break
    is refused while engaged; when that call ends (``engaged_call_ended``) they are in
    ``wrap_up`` as after a queued call.
    After an engine restart every agent is ``logged_out`` until restored from the state log and
    FreeSWITCH's channels: ``adopt`` (their phone is bridged to a caller hotline queued: ``on_call``),
    ``phone_busy`` (their phone holds another call: ``engaged``), ``restore`` (logged in, phone idle:
    ``ready``) or ``restore_break`` (on break before: ``break``, with its reason).

Calls
    A call enters ``queued``.  The ACD ``offer``\\ s it (``offering``); when every
    offer for it fails or is withdrawn it returns to ``queued`` at the head
    (``offer_failed``).  The first ``answer`` bridges it (``bridged``); a bridge that does not form
    (``bridge_failed``) puts it back at the head (``queued``).  FreeSWITCH saying the caller's channel is
    gone (``caller_gone``, in ``queued``, ``offering`` or ``bridged`` before the bridge formed) ends the
    call as abandoned (``ended``): a gone caller is never offered again.  The caller
    may ``hang_up`` in any live state (``ended``; from ``queued`` this is an
    abandoned call).  A queued call that waited its queue's maximum leaves the
    queue to the configured exit target (``max_wait`` -> ``left``); a caller may
    choose to ``leave`` (a keypress while waiting) when queued or offering, which
    withdraws the ringing offers.  ``ended`` and ``left`` are final.  After an engine restart a call
    FreeSWITCH still holds bridged to an agent is taken back (``adopt``: ``queued`` -> ``bridged``,
    never offered in between).

Callbacks (keep-your-place)
    A caller who chose to be called back hangs up; a *virtual* call holds their place
    (their original join time and priority) and enters ``virtual``.  It is routed like a
    queued call: offered to an agent (``virtual_offering``); a failed or withdrawn offer puts
    it back (``offer_failed``).  When the agent answers (``answer``) the customer is dialled
    (``dialling``, the agent is on the call hearing ringback).  The customer answering
    (``connected``) bridges the call; no answer, busy or a failed dial (``no_contact``) holds
    it out of routing until the retry interval passed (``retry_wait``, then ``retry`` back to
    ``virtual`` at its old place); after the last attempt it gives up (``give_up`` -> ``left``, a
    ticket follows).  An operator may ``cancel`` a callback that is not being dialled.
    A virtual call is never offered while ``retry_wait`` or ``dialling``.

Reclaimed callers (engine restart)
    A caller whose engine went away waits parked in FreeSWITCH with their place written on their
    channel.  The restarted engine holds that place at once (``parked``: their original join time
    and priority, never offered: the caller is not back on a socket yet).  When the caller's socket
    comes back (``reclaim``) the call is ``queued`` where it was; a caller who hangs up or whose
    channel is gone before that (``hang_up``, ``caller_gone``) ends as abandoned (``ended``).

Offers
    An offer is ``ringing`` until exactly one outcome: ``answered``, ``no_answer``,
    ``busy``, ``rejected``, ``failed``, ``cancelled`` (withdrawn by the ACD) or ``lost`` (its command
    was lost with the control connection; its call goes back to the head of its queue).
    All outcomes are final.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar


class Machine(StrEnum):
    """Which state machine a transition belongs to."""

    AGENT = "agent"
    CALL = "call"
    OFFER = "offer"


class AgentState(StrEnum):
    """An agent's state."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    BREAK = "break"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    ENGAGED = "engaged"


class AgentEvent(StrEnum):
    """Something that happens to an agent."""

    LOGIN = "login"
    LOGOUT = "logout"
    READY = "ready"
    BREAK = "break"
    OFFER = "offer"
    ANSWER = "answer"
    OFFER_FAILED = "offer_failed"
    TOO_MANY_NO_ANSWERS = "too_many_no_answers"
    OFFER_CANCELLED = "offer_cancelled"
    CALL_ENDED = "call_ended"
    BRIDGE_FAILED = "bridge_failed"
    CALLER_GONE = "caller_gone"
    OFFER_LOST = "offer_lost"
    CALLBACK_FAILED = "callback_failed"
    WRAP_UP_ENDED = "wrap_up_ended"
    DIAL = "dial"
    CONSULT = "consult"
    ENGAGED_CALL_ENDED = "engaged_call_ended"
    RESTORE = "restore"
    RESTORE_BREAK = "restore_break"
    ADOPT = "adopt"
    PHONE_BUSY = "phone_busy"


class CallState(StrEnum):
    """A call's state as the ACD sees it."""

    QUEUED = "queued"
    OFFERING = "offering"
    BRIDGED = "bridged"
    ENDED = "ended"
    LEFT = "left"
    VIRTUAL = "virtual"
    VIRTUAL_OFFERING = "virtual_offering"
    DIALLING = "dialling"
    RETRY_WAIT = "retry_wait"
    PARKED = "parked"


class CallEvent(StrEnum):
    """Something that happens to a call."""

    OFFER = "offer"
    OFFER_FAILED = "offer_failed"
    ANSWER = "answer"
    HANG_UP = "hang_up"
    BRIDGE_FAILED = "bridge_failed"
    RECLAIM = "reclaim"
    CALLER_GONE = "caller_gone"
    MAX_WAIT = "max_wait"
    LEAVE = "leave"
    CONNECTED = "connected"
    NO_CONTACT = "no_contact"
    GIVE_UP = "give_up"
    RETRY = "retry"
    CANCEL = "cancel"
    ADOPT = "adopt"


class OfferState(StrEnum):
    """An offer's state."""

    RINGING = "ringing"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"


class OfferEvent(StrEnum):
    """The outcome reported for a ringing offer."""

    ANSWER = "answer"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECT = "reject"
    FAIL = "fail"
    CANCEL = "cancel"
    LOSE = "lose"


_A, _AE = AgentState, AgentEvent
_C, _CE = CallState, CallEvent
_O, _OE = OfferState, OfferEvent

AGENT_TRANSITIONS: dict[tuple[AgentState, AgentEvent], AgentState] = {
    (_A.LOGGED_OUT, _AE.LOGIN): _A.READY,
    (_A.READY, _AE.LOGOUT): _A.LOGGED_OUT,
    (_A.READY, _AE.BREAK): _A.BREAK,
    (_A.READY, _AE.OFFER): _A.RESERVED,
    (_A.BREAK, _AE.LOGOUT): _A.LOGGED_OUT,
    (_A.BREAK, _AE.BREAK): _A.BREAK,
    (_A.BREAK, _AE.READY): _A.READY,
    (_A.RESERVED, _AE.LOGOUT): _A.LOGGED_OUT,
    (_A.RESERVED, _AE.BREAK): _A.BREAK,
    (_A.RESERVED, _AE.ANSWER): _A.ON_CALL,
    (_A.RESERVED, _AE.OFFER_FAILED): _A.READY,
    (_A.RESERVED, _AE.TOO_MANY_NO_ANSWERS): _A.BREAK,
    (_A.RESERVED, _AE.OFFER_CANCELLED): _A.READY,
    (_A.RESERVED, _AE.OFFER_LOST): _A.READY,
    (_A.ON_CALL, _AE.CALL_ENDED): _A.WRAP_UP,
    (_A.ON_CALL, _AE.BRIDGE_FAILED): _A.READY,
    (_A.ON_CALL, _AE.CALLER_GONE): _A.READY,
    (_A.ON_CALL, _AE.CALLBACK_FAILED): _A.READY,
    (_A.WRAP_UP, _AE.WRAP_UP_ENDED): _A.READY,
    (_A.WRAP_UP, _AE.BREAK): _A.BREAK,
    (_A.WRAP_UP, _AE.LOGOUT): _A.LOGGED_OUT,
    (_A.READY, _AE.DIAL): _A.ENGAGED,
    (_A.BREAK, _AE.DIAL): _A.ENGAGED,
    (_A.WRAP_UP, _AE.DIAL): _A.ENGAGED,
    (_A.READY, _AE.CONSULT): _A.ENGAGED,
    (_A.ENGAGED, _AE.ENGAGED_CALL_ENDED): _A.WRAP_UP,
    (_A.LOGGED_OUT, _AE.RESTORE): _A.READY,
    (_A.LOGGED_OUT, _AE.RESTORE_BREAK): _A.BREAK,
    (_A.LOGGED_OUT, _AE.ADOPT): _A.ON_CALL,
    (_A.LOGGED_OUT, _AE.PHONE_BUSY): _A.ENGAGED,
}

CALL_TRANSITIONS: dict[tuple[CallState, CallEvent], CallState] = {
    (_C.QUEUED, _CE.OFFER): _C.OFFERING,
    (_C.QUEUED, _CE.HANG_UP): _C.ENDED,
    (_C.QUEUED, _CE.MAX_WAIT): _C.LEFT,
    (_C.QUEUED, _CE.LEAVE): _C.LEFT,
    (_C.OFFERING, _CE.LEAVE): _C.LEFT,
    (_C.OFFERING, _CE.OFFER_FAILED): _C.QUEUED,
    (_C.OFFERING, _CE.ANSWER): _C.BRIDGED,
    (_C.OFFERING, _CE.HANG_UP): _C.ENDED,
    (_C.BRIDGED, _CE.HANG_UP): _C.ENDED,
    (_C.BRIDGED, _CE.BRIDGE_FAILED): _C.QUEUED,
    (_C.QUEUED, _CE.CALLER_GONE): _C.ENDED,
    (_C.OFFERING, _CE.CALLER_GONE): _C.ENDED,
    (_C.BRIDGED, _CE.CALLER_GONE): _C.ENDED,
    (_C.VIRTUAL, _CE.OFFER): _C.VIRTUAL_OFFERING,
    (_C.VIRTUAL, _CE.CANCEL): _C.LEFT,
    (_C.VIRTUAL_OFFERING, _CE.OFFER_FAILED): _C.VIRTUAL,
    (_C.VIRTUAL_OFFERING, _CE.ANSWER): _C.DIALLING,
    (_C.VIRTUAL_OFFERING, _CE.CANCEL): _C.LEFT,
    (_C.DIALLING, _CE.CONNECTED): _C.BRIDGED,
    (_C.DIALLING, _CE.NO_CONTACT): _C.RETRY_WAIT,
    (_C.DIALLING, _CE.GIVE_UP): _C.LEFT,
    (_C.RETRY_WAIT, _CE.RETRY): _C.VIRTUAL,
    (_C.RETRY_WAIT, _CE.CANCEL): _C.LEFT,
    (_C.QUEUED, _CE.ADOPT): _C.BRIDGED,
    (_C.PARKED, _CE.RECLAIM): _C.QUEUED,
    (_C.PARKED, _CE.HANG_UP): _C.ENDED,
    (_C.PARKED, _CE.CALLER_GONE): _C.ENDED,
}

WAITING = frozenset({CallState.QUEUED, CallState.VIRTUAL})
"""States in which a call waits in its queue's order for an agent (routable)."""

OFFER_TRANSITIONS: dict[tuple[OfferState, OfferEvent], OfferState] = {
    (_O.RINGING, _OE.ANSWER): _O.ANSWERED,
    (_O.RINGING, _OE.NO_ANSWER): _O.NO_ANSWER,
    (_O.RINGING, _OE.BUSY): _O.BUSY,
    (_O.RINGING, _OE.REJECT): _O.REJECTED,
    (_O.RINGING, _OE.FAIL): _O.FAILED,
    (_O.RINGING, _OE.CANCEL): _O.CANCELLED,
    (_O.RINGING, _OE.LOSE): _O.LOST,
}

TABLES: dict[Machine, dict] = {
    Machine.AGENT: AGENT_TRANSITIONS,
    Machine.CALL: CALL_TRANSITIONS,
    Machine.OFFER: OFFER_TRANSITIONS,
}


class IllegalTransition(Exception):
    """An event arrived that the current state does not accept."""

    def __init__(self, kind: Machine, current: StrEnum, event: StrEnum, subject: str = "") -> None:
        who = f" {subject}" if subject else ""
        super().__init__(f"{kind}{who}: event '{event}' is not allowed in state '{current}'")
        self.kind = kind
        self.current = current
        self.event = event
        self.subject = subject


S = TypeVar("S", AgentState, CallState, OfferState)


def transition(kind: Machine, current: S, event: StrEnum, subject: str = "") -> S:
    """Return the state that ``event`` moves ``current`` to, or raise IllegalTransition.

    ``subject`` (an agent, call or offer id) only improves the error message.
    """
    try:
        return TABLES[kind][(current, event)]
    except KeyError:
        raise IllegalTransition(kind, current, event, subject) from None
