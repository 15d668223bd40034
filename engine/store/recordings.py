"""Call recordings' metadata (one row per recording, found by the call's uuid) and recording rules."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.acd_models import CallRecording, RecordingRule
from engine.store.errors import Gone, InvalidInput, found
from engine.store.retention import purged_reason
from engine.store.timestamps import utc, utcnow
from engine.store.validation import non_empty


def add_recording(
    session: Session,
    call_uuid: str,
    path: str,
    *,
    reason: str,
    agent_id: str | None,
    queue: str | None,
    started_at: datetime | None = None,
) -> CallRecording:
    """Record that the call *call_uuid* is being recorded to *path*, started at *started_at* (default now)
    for *reason*."""
    row = CallRecording(
        call_uuid=non_empty("recording.call_uuid", call_uuid),
        path=non_empty("recording.path", path),
        reason=non_empty("recording.reason", reason),
        agent_id=agent_id,
        queue=queue,
        started_at=utcnow() if started_at is None else utc("recording.started_at", started_at),
    )
    session.add(row)
    session.flush()
    return row


def recordings_for_call(session: Session, call_uuid: str) -> list[CallRecording]:
    """The call's recordings, oldest first."""
    query = select(CallRecording).where(CallRecording.call_uuid == call_uuid)
    return list(session.scalars(query.order_by(CallRecording.started_at, CallRecording.id)))


def recording_file(session: Session, call_uuid: str, recording_id: int) -> str:
    """The path of one of the call's recordings; NotFound when there is no such recording, Gone when the
    retention policy deleted its file."""
    row = session.get(CallRecording, recording_id)
    row = found(row if row is not None and row.call_uuid == call_uuid else None, "recording", recording_id)
    if row.purged_at is not None:
        raise Gone("recording", recording_id, purged_reason(row.purged_at))
    return row.path


def add_rule(
    session: Session, agent_id: str, starts_at: datetime, ends_at: datetime, *, created_by: str, note: str = ""
) -> RecordingRule:
    """Record every call of *agent_id* bridged between *starts_at* and *ends_at* (aware times)."""
    start, end = utc("recording_rule.starts_at", starts_at), utc("recording_rule.ends_at", ends_at)
    if end <= start:
        raise InvalidInput("recording_rule.ends_at", ends_at, "must be after recording_rule.starts_at")
    if len(note) > 255:
        raise InvalidInput("recording_rule.note", note[:20] + "...", "must be at most 255 characters")
    row = RecordingRule(
        agent_id=non_empty("recording_rule.agent_id", agent_id),
        starts_at=start,
        ends_at=end,
        created_by=non_empty("recording_rule.created_by", created_by),
        note=note,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def rules_for(
    session: Session, agent_id: str | None = None, *, active_at: datetime | None = None
) -> list[RecordingRule]:
    """Rules, oldest first: of one agent and/or in force at *active_at*."""
    query = select(RecordingRule)
    if agent_id is not None:
        query = query.where(RecordingRule.agent_id == agent_id)
    if active_at is not None:
        query = query.where(RecordingRule.starts_at <= active_at, RecordingRule.ends_at > active_at)
    return list(session.scalars(query.order_by(RecordingRule.starts_at, RecordingRule.id)))


class RuleWindow(NamedTuple):
    """A recording rule as the bridge applies it."""

    id: int
    agent_id: str
    starts_at: datetime
    ends_at: datetime


def rule_windows(session: Session, *, ending_after: datetime) -> list[RuleWindow]:
    """Every rule still in force or to come at *ending_after* (aware), oldest first."""
    query = select(RecordingRule.id, RecordingRule.agent_id, RecordingRule.starts_at, RecordingRule.ends_at)
    query = query.where(RecordingRule.ends_at > utc("ending_after", ending_after))
    return [RuleWindow(*row) for row in session.execute(query.order_by(RecordingRule.starts_at, RecordingRule.id))]


def remove_rule(session: Session, rule_id: int) -> None:
    session.delete(found(session.get(RecordingRule, rule_id), "recording rule", rule_id))
    session.flush()
