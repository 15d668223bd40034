"""Call detail records: store a finished call together with its CRM interaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.customers import get_customer
from engine.store.errors import Conflict, InvalidInput, NotFound
from engine.store.models import Call, CallOutcome, Interaction, InteractionKind
from engine.store.timestamps import utc
from engine.store.validation import non_empty, parse_enum


@dataclass(frozen=True, slots=True)
class CallRecord:
    """Everything known about a call when it ends; timestamps must be timezone-aware.

    ``wait_seconds`` defaults to queued -> bridged (or ended) and ``talk_seconds`` to
    bridged -> ended when not given. ``hold_seconds`` (part of the talk time) and ``hold_count``
    are the call's time on hold and its number of holds.
    """

    uuid: str
    caller_number: str
    destination: str
    created_at: datetime
    ended_at: datetime
    outcome: str
    flow: str | None = None
    queue: str | None = None
    agent_id: str | None = None
    priority: int = 0
    answered_at: datetime | None = None
    queued_at: datetime | None = None
    offered_at: datetime | None = None
    bridged_at: datetime | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    hangup_cause: str | None = None
    hold_seconds: float = 0.0
    hold_count: int = 0


_OPTIONAL_TIMESTAMPS = ("answered_at", "queued_at", "offered_at", "bridged_at")


def record_finished_call(
    session: Session,
    record: CallRecord,
    *,
    kind: str = InteractionKind.inbound,
    customer_id: int | None = None,
    disposition: str | None = None,
    notes: str = "",
    ivr_path: Sequence[str] = (),
    recording_path: str | None = None,
) -> tuple[Call, Interaction]:
    """Store the CDR of a finished call and its interaction in the caller's transaction.

    Both rows are flushed together, so either both or neither reach the database.
    Raises InvalidInput (naming the field), NotFound for an unknown *customer_id* or Conflict
    when the call uuid was already recorded.
    """
    call_values, interaction_values = call_rows(
        record, kind=kind, customer_id=customer_id, disposition=disposition, notes=notes, ivr_path=ivr_path,
        recording_path=recording_path,
    )  # fmt: skip
    if customer_id is not None:
        get_customer(session, customer_id)
    if session.scalar(select(Call.id).where(Call.uuid == record.uuid)) is not None:
        raise Conflict("call", record.uuid, "already recorded")
    call, interaction = Call(**call_values), Interaction(**interaction_values)
    session.add_all([call, interaction])
    session.flush()
    return call, interaction


def call_rows(
    record: CallRecord,
    *,
    kind: str = InteractionKind.inbound,
    customer_id: int | None = None,
    disposition: str | None = None,
    notes: str = "",
    ivr_path: Sequence[str] = (),
    recording_path: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checked column values of a finished call's CDR and its interaction (no database read);
    raises InvalidInput naming the field."""
    non_empty("call.uuid", record.uuid)
    created_at = utc("call.created_at", record.created_at)
    ended_at = utc("call.ended_at", record.ended_at)
    if ended_at < created_at:
        raise InvalidInput("call.ended_at", record.ended_at, "is before call.created_at")
    stamps = {
        name: None if (value := getattr(record, name)) is None else utc(f"call.{name}", value)
        for name in _OPTIONAL_TIMESTAMPS
    }
    if record.hold_seconds < 0 or record.hold_count < 0:
        raise InvalidInput("call.hold_seconds", (record.hold_seconds, record.hold_count), "must not be negative")
    call = {
        "uuid": record.uuid,
        "caller_number": record.caller_number,
        "destination": record.destination,
        "flow": record.flow,
        "queue": record.queue,
        "agent_id": record.agent_id,
        "priority": record.priority,
        "created_at": created_at,
        "ended_at": ended_at,
        "wait_seconds": _wait_seconds(record, stamps, ended_at),
        "talk_seconds": _talk_seconds(record, stamps, ended_at),
        "hold_seconds": record.hold_seconds,
        "hold_count": record.hold_count,
        "outcome": parse_enum(CallOutcome, "call.outcome", record.outcome),
        "hangup_cause": record.hangup_cause,
        **stamps,
    }
    interaction = {
        "customer_id": customer_id,
        "call_uuid": record.uuid,
        "agent_id": record.agent_id,
        "queue": record.queue,
        "kind": parse_enum(InteractionKind, "interaction.kind", kind),
        "started_at": created_at,
        "ended_at": ended_at,
        "disposition": disposition,
        "notes": notes,
        "ivr_path": list(ivr_path),
        "recording_path": recording_path,
    }
    return call, interaction


def get_call(session: Session, uuid: str) -> Call:
    """The CDR of call *uuid*; raises NotFound."""
    call = session.scalar(select(Call).where(Call.uuid == uuid))
    if call is None:
        raise NotFound("call", uuid)
    return call


def view(call: Call) -> dict[str, object]:
    """A CDR as the API and CLI show it (``agent``: the first agent; the call's segments say who else)."""
    stamps = ("created_at", "answered_at", "queued_at", "bridged_at", "ended_at")
    return {
        "uuid": call.uuid,
        "caller": call.caller_number,
        "destination": call.destination,
        "flow": call.flow,
        "queue": call.queue,
        "agent": call.agent_id,
        "outcome": str(call.outcome),
        **{name: None if (at := getattr(call, name)) is None else at.isoformat() for name in stamps},
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "hold_seconds": call.hold_seconds,
        "hold_count": call.hold_count,
        "hangup_cause": call.hangup_cause,
    }


def _wait_seconds(record: CallRecord, stamps: dict[str, datetime | None], ended_at: datetime) -> float | None:
    """Given wait, else time from joining the queue to being bridged (or hanging up)."""
    if record.wait_seconds is not None or stamps["queued_at"] is None:
        return record.wait_seconds
    return ((stamps["bridged_at"] or ended_at) - stamps["queued_at"]).total_seconds()


def _talk_seconds(record: CallRecord, stamps: dict[str, datetime | None], ended_at: datetime) -> float | None:
    """Given talk time, else time from bridge to hangup."""
    if record.talk_seconds is not None or stamps["bridged_at"] is None:
        return record.talk_seconds
    return (ended_at - stamps["bridged_at"]).total_seconds()
