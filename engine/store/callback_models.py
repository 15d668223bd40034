"""Keep-your-place callbacks: one row per caller who asked to be called back from a queue."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base, _enum_column
from engine.store.timestamps import utcnow


class CallbackStatus(enum.StrEnum):
    """Where a callback stands (``pending``, ``dialling`` and ``retry`` are still to be done)."""

    pending = "pending"
    dialling = "dialling"
    retry = "retry"
    connected = "connected"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


OPEN_STATUSES = (CallbackStatus.pending, CallbackStatus.dialling, CallbackStatus.retry)


class QueueCallback(Base):
    """A caller's kept place: the queue, their original join time and priority, the number to dial,
    and how the dialling went."""

    __tablename__ = "queue_callbacks"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        Index("ix_queue_callbacks_status_queue", "status", "queue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_uuid: Mapped[str] = mapped_column(String(64), unique=True)
    queue: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))
    caller_number: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    priority: Mapped[int]
    queued_at: Mapped[datetime]
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[CallbackStatus] = mapped_column(
        _enum_column(CallbackStatus, "callback_status"), default=CallbackStatus.pending
    )
    attempts: Mapped[int] = mapped_column(default=0)
    retry_at: Mapped[datetime | None]
    agent_id: Mapped[str | None] = mapped_column(String(32))
    last_result: Mapped[str | None] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
