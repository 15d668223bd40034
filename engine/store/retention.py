"""Retention's rows: the recorded files still on disk, oldest first, and marking one deleted (audited).

Rows are kept when their file goes: a call recording says who was recorded and why, a voicemail's interaction
stays in the customer's history, and a labelled AMD sample still counts towards the false-positive estimate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.retention.policy import Item, Kind
from engine.store import audit
from engine.store.acd_models import CallRecording
from engine.store.amd_audit_models import AmdSample
from engine.store.models import Call, Interaction

ACTOR = "retention"


def on_disk(
    session: Session, kind: Kind, recorded_before: datetime, *, after_id: int = 0, limit: int = 500
) -> list[Item]:
    """Up to ``limit`` items of ``kind`` recorded before ``recorded_before`` whose file has not been deleted,
    by id after ``after_id``."""
    query: Select[Any]
    if kind is Kind.CALL_RECORDING:
        query = (
            select(CallRecording.id, CallRecording.path, CallRecording.started_at, CallRecording.call_uuid, Call.id)
            .outerjoin(Call, Call.uuid == CallRecording.call_uuid)
            .where(CallRecording.purged_at.is_(None), CallRecording.started_at < recorded_before)
            .where(CallRecording.id > after_id)
            .order_by(CallRecording.id)
        )
        return [
            Item(kind, id, path, at, call_uuid=uuid, call_ended=cdr is not None)
            for id, path, at, uuid, cdr in session.execute(query.limit(limit))
        ]
    if kind is Kind.VOICEMAIL:
        query = (
            select(Interaction.id, Interaction.recording_path, Interaction.started_at, Interaction.call_uuid)
            .where(Interaction.recording_path.is_not(None), Interaction.recording_purged_at.is_(None))
            .where(Interaction.started_at < recorded_before, Interaction.id > after_id)
            .order_by(Interaction.id)
        )
        return [Item(kind, id, path, at, call_uuid=uuid) for id, path, at, uuid in session.execute(query.limit(limit))]
    query = (
        select(AmdSample.id, AmdSample.path, AmdSample.created_at, AmdSample.call_uuid, AmdSample.label)
        .where(AmdSample.path.is_not(None), AmdSample.purged_at.is_(None))
        .where(AmdSample.created_at < recorded_before, AmdSample.id > after_id)
        .order_by(AmdSample.id)
    )
    return [
        Item(kind, id, path, at, call_uuid=uuid, labelled=label is not None)
        for id, path, at, uuid, label in session.execute(query.limit(limit))
    ]


def purged_reason(at: datetime) -> str:
    """Why a recording's audio is no longer there (the API's 410)."""
    return f"deleted by the retention policy on {at:%Y-%m-%d %H:%M} UTC (docs/configuration.md, retention)"


def mark_deleted(session: Session, item: Item, at: datetime, size: int | None) -> None:
    """Record that ``item``'s file was deleted at ``at`` (``size`` bytes; None: it was already gone), in the
    audit log too, in the caller's transaction."""
    model, column = {
        Kind.CALL_RECORDING: (CallRecording, "purged_at"),
        Kind.VOICEMAIL: (Interaction, "recording_purged_at"),
        Kind.AMD_SAMPLE: (AmdSample, "purged_at"),
    }[item.kind]
    row = session.get(model, item.id)
    if row is None or getattr(row, column) is not None:
        return
    setattr(row, column, at)
    session.flush()
    before = {"path": item.path, "recorded_at": item.at, "call_uuid": item.call_uuid}
    after = {column: at, "bytes": size, "file": "deleted" if size is not None else "already gone"}
    audit.record(session, ACTOR, "retention.purge", str(item.kind), item.id, before, after)
