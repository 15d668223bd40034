"""The channel variables that let a restarted engine adopt a live call, and the trace rebuilt from them.

The caller's are set when the caller and the agent are bridged (:meth:`CallSession._mark_bridged`), with
one ``uuid_setvar_multi``; the agent's leg carries its own from birth, in the originate's ``{...}``
variables (:func:`offer_leg_variables`: no command after the bridge). FreeSWITCH keeps them on the
channel for its lifetime, so a new engine reads them back with ``uuid_dump <uuid> json`` (as
``variable_<name>``). docs/operations.md
lists them. Only values made of ``A-Z a-z 0-9 _ . : + @ / -`` are written (they travel in an API
command split at ``;`` and ``=``); a value outside that set is left out, and a call missing one of
:data:`REQUIRED` is not adopted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # call_session imports this module to write the variables
    from engine.runtime.call_session import CallTrace

CALL_ID = "hotline_call_id"
QUEUE = "hotline_queue"
PRIORITY = "hotline_priority"
JOINED_AT = "hotline_joined_at"
AGENT = "hotline_agent"
AGENT_LEG = "hotline_agent_leg"
BRIDGED_AT = "hotline_bridged_at"
OFFERED_AT = "hotline_offered_at"
ANSWERED_AT = "hotline_answered_at"
CREATED_AT = "hotline_created_at"
FLOW = "hotline_flow"
CUSTOMER_ID = "hotline_customer_id"
REQUIRED = (CALL_ID, QUEUE, JOINED_AT, AGENT, BRIDGED_AT)
READ = (*REQUIRED, PRIORITY, OFFERED_AT, ANSWERED_AT, CREATED_AT, FLOW, CUSTOMER_ID)
SAFE = re.compile(r"[A-Za-z0-9_.:+@/-]{1,200}")


def _stamp(at: datetime | None) -> str | None:
    return None if at is None else f"{at.timestamp():.6f}"


def caller_variables(trace: CallTrace) -> dict[str, str]:
    """The caller's channel: the call's place in its queue, its agent, and the CDR's times so far."""
    customer = trace.customer.get("id") if trace.customer else None
    found = {
        CALL_ID: trace.uuid,
        QUEUE: trace.queue,
        PRIORITY: str(trace.priority),
        JOINED_AT: _stamp(trace.queued_at),
        AGENT: trace.agent_id,
        BRIDGED_AT: _stamp(trace.bridged_at),
        OFFERED_AT: _stamp(trace.offered_at),
        ANSWERED_AT: _stamp(trace.answered_at),
        CREATED_AT: _stamp(trace.created_at),
        FLOW: trace.flow,
        CUSTOMER_ID: None if customer is None else str(customer),
    }
    return {k: v for k, v in found.items() if v is not None and SAFE.fullmatch(v)}


def agent_leg_variables(trace: CallTrace) -> dict[str, str]:
    """The agent's leg: whose phone it is and which call it carries."""
    return offer_leg_variables(trace.agent_id, trace.uuid)


def offer_leg_variables(agent_id: str | None, call_id: str | None) -> dict[str, str]:
    """The agent's leg's variables, for the originate that rings the agent for ``call_id``."""
    found = {AGENT: agent_id, CALL_ID: call_id}
    return {k: v for k, v in found.items() if v is not None and SAFE.fullmatch(v)}


def encode(variables: Mapping[str, str]) -> str:
    """``uuid_setvar_multi``'s argument: ``name=value;name=value``."""
    return ";".join(f"{k}={v}" for k, v in variables.items())


def parse_time(value: str | None) -> datetime | None:
    """Epoch seconds (what hotline writes) or ISO 8601 with an offset; None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


@dataclass(frozen=True)
class LiveCall:
    """A bridged call as FreeSWITCH still carries it: enough for the ACD and for the CDR when it ends."""

    trace: CallTrace
    agent_leg: str
    joined_at: datetime
    bridged_at: datetime


def live_call(dump: Mapping[str, Any], agent_leg: str) -> LiveCall | None:
    """The adoptable call in a ``uuid_dump ... json`` of a caller's channel bridged to ``agent_leg``;
    None when a required variable is missing or unreadable (the call is then left alone)."""
    from engine.runtime.call_session import CallTrace

    def var(name: str) -> str:
        value = dump.get(f"variable_{name}")
        return value if isinstance(value, str) and SAFE.fullmatch(value) else ""

    ours = [dump[f"variable_{name}"] for name in READ if f"variable_{name}" in dump]
    if not all(isinstance(v, str) and SAFE.fullmatch(v) for v in ours):
        return None  # not what hotline writes: the whole call is left alone
    if any(not var(name) for name in REQUIRED) or var(CALL_ID) != dump.get("Unique-ID"):
        return None
    joined, bridged = parse_time(var(JOINED_AT)), parse_time(var(BRIDGED_AT))
    priority = var(PRIORITY) or "0"
    if joined is None or bridged is None or not re.fullmatch(r"-?\d{1,9}", priority):
        return None
    caller = str(dump.get("Caller-Caller-ID-Number") or "")
    customer = var(CUSTOMER_ID)
    trace = CallTrace(
        uuid=var(CALL_ID),
        caller=caller,
        destination=str(dump.get("Caller-Destination-Number") or ""),
        created_at=parse_time(var(CREATED_AT)) or joined,
        flow=var(FLOW) or None,
        answered_at=parse_time(var(ANSWERED_AT)),
        queue=var(QUEUE),
        priority=int(priority),
        queued_at=joined,
        offered_at=parse_time(var(OFFERED_AT)),
        bridged_at=bridged,
        agent_id=var(AGENT),
        outcome="answered",
        customer={"id": int(customer)} if customer.isdigit() else None,
    )
    return LiveCall(trace, agent_leg, joined, bridged)
