"""Keep-your-place callbacks: record a request, follow its status, list and cancel, and open a
follow-up ticket when every dial failed (the ACD holds the place; this is its durable copy)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.callback_models import OPEN_STATUSES, CallbackStatus, QueueCallback
from engine.store.crm_models import Ticket
from engine.store.errors import Conflict, InvalidInput, found
from engine.store.tickets import create_ticket
from engine.store.timestamps import utc, utcnow
from engine.store.validation import non_empty, parse_enum


def dialable(number: str | None) -> bool:
    """A number a callback can dial: 3 to 20 digits."""
    return number is not None and number.isascii() and number.isdigit() and 3 <= len(number) <= 20


def request_callback(
    session: Session,
    call_uuid: str,
    queue: str,
    number: str,
    *,
    caller_number: str,
    priority: int,
    queued_at: datetime,
    customer_id: int | None = None,
) -> QueueCallback:
    """A caller of *call_uuid* asked to be called back on *number*, keeping their place in *queue*
    (joined at *queued_at*, an aware time).  Raises InvalidInput naming the field, Conflict when the
    call already has a callback."""
    if not dialable(number):
        raise InvalidInput("callback.number", number, "must be 3 to 20 digits")
    if session.scalar(select(QueueCallback.id).where(QueueCallback.call_uuid == call_uuid)) is not None:
        raise Conflict("callback", call_uuid, "already requested")
    now = utcnow()
    row = QueueCallback(
        call_uuid=non_empty("callback.call_uuid", call_uuid),
        queue=non_empty("callback.queue", queue),
        number=number,
        caller_number=caller_number,
        customer_id=customer_id,
        priority=priority,
        queued_at=utc("callback.queued_at", queued_at),
        requested_at=now,
        status=CallbackStatus.pending,
        attempts=0,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def get_callback(session: Session, callback_id: int) -> QueueCallback:
    """Callback *callback_id*; raises NotFound."""
    return found(session.get(QueueCallback, callback_id), "callback", callback_id)


def set_status(
    session: Session,
    callback_id: int,
    status: str,
    *,
    attempts: int | None = None,
    agent_id: str | None = None,
    retry_at: datetime | None = None,
    last_result: str | None = None,
) -> QueueCallback:
    """Move callback *callback_id* to *status* (a :class:`CallbackStatus` value) and note how it went."""
    row = get_callback(session, callback_id)
    row.status = parse_enum(CallbackStatus, "callback.status", status)
    if attempts is not None:
        row.attempts = attempts
    row.agent_id = agent_id if agent_id is not None else row.agent_id
    row.retry_at = None if retry_at is None else utc("callback.retry_at", retry_at)
    row.last_result = last_result if last_result is not None else row.last_result
    row.updated_at = utcnow()
    session.flush()
    return row


def open_callbacks(session: Session) -> list[QueueCallback]:
    """Callbacks still to be done (pending, dialling, retry), oldest place first."""
    query = select(QueueCallback).where(QueueCallback.status.in_(OPEN_STATUSES))
    return list(session.scalars(query.order_by(QueueCallback.queued_at, QueueCallback.id)))


def list_callbacks(
    session: Session, *, queue: str | None = None, include_done: bool = False, limit: int = 100
) -> list[QueueCallback]:
    """Open callbacks (all with *include_done*), optionally of one queue, oldest request first."""
    query = select(QueueCallback)
    if queue is not None:
        query = query.where(QueueCallback.queue == queue)
    if not include_done:
        query = query.where(QueueCallback.status.in_(OPEN_STATUSES))
    return list(session.scalars(query.order_by(QueueCallback.requested_at, QueueCallback.id).limit(limit)))


def cancel_callback(session: Session, callback_id: int) -> QueueCallback:
    """Cancel an open callback; raises NotFound, or Conflict when it is no longer open."""
    row = get_callback(session, callback_id)
    if row.status not in OPEN_STATUSES:
        raise Conflict("callback", callback_id, f"is {row.status}, not open")
    return set_status(session, callback_id, CallbackStatus.cancelled)


def ticket_for_failed(session: Session, callback_id: int, actor: str = "acd") -> Ticket:
    """Every dial failed: mark the callback ``failed`` and open a ``callback`` ticket for a person to
    follow up (assigned to the queue's team)."""
    row = set_status(session, callback_id, CallbackStatus.failed)
    ticket = create_ticket(
        session,
        actor,
        title=f"Callback to {row.number} failed"[:200],
        category="callback",
        description=(
            f"{row.attempts} callback attempt(s) to {row.number} from queue {row.queue} did not reach the "
            f"caller (last: {row.last_result or 'unknown'}). Requested at {row.requested_at.isoformat()}."
        ),
        customer_id=row.customer_id,
        team=row.queue,
    )
    row.ticket_id = ticket.id
    session.flush()
    return ticket


def view(row: QueueCallback) -> dict[str, Any]:
    """A callback as the API and CLI show it."""
    return {
        "id": row.id,
        "call": row.call_uuid,
        "queue": row.queue,
        "number": row.number,
        "caller": row.caller_number,
        "priority": row.priority,
        "queued_at": row.queued_at.isoformat(),
        "requested_at": row.requested_at.isoformat(),
        "status": str(row.status),
        "attempts": row.attempts,
        "retry_at": row.retry_at.isoformat() if row.retry_at else None,
        "agent": row.agent_id,
        "last_result": row.last_result,
        "ticket": row.ticket_id,
    }
