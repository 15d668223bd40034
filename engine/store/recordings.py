"""Call recordings' metadata: one row per recording, found by the call's uuid."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.acd_models import CallRecording
from engine.store.timestamps import utcnow
from engine.store.validation import non_empty


def add_recording(
    session: Session, call_uuid: str, path: str, *, reason: str, agent_id: str | None, queue: str | None
) -> CallRecording:
    """Record that the call *call_uuid* is being recorded to *path*, started now for *reason*."""
    row = CallRecording(
        call_uuid=non_empty("recording.call_uuid", call_uuid),
        path=non_empty("recording.path", path),
        reason=non_empty("recording.reason", reason),
        agent_id=agent_id,
        queue=queue,
        started_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def recordings_for_call(session: Session, call_uuid: str) -> list[CallRecording]:
    """The call's recordings, oldest first."""
    query = select(CallRecording).where(CallRecording.call_uuid == call_uuid)
    return list(session.scalars(query.order_by(CallRecording.started_at, CallRecording.id)))
