"""Call segments: store the parts of a finished call (one per agent or outside number who had it), read
them back for a call or for an agent's report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.calls import get_call
from engine.store.errors import Conflict, InvalidInput
from engine.store.segment_models import CallSegment, SegmentEnd, SegmentStart
from engine.store.timestamps import utc
from engine.store.validation import parse_enum


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """One party's part of a call; timestamps timezone-aware. ``agent_id`` or ``number`` (an outside
    party) is set; ``how`` is a :class:`SegmentStart`, ``ended_by`` a :class:`SegmentEnd`."""

    agent_id: str | None
    how: str
    started_at: datetime
    ended_at: datetime
    ended_by: str
    queue: str | None = None
    number: str | None = None
    hold_seconds: float = 0.0
    hold_count: int = 0


def record_segments(session: Session, call_uuid: str, segments: Sequence[SegmentRecord]) -> list[CallSegment]:
    """Store ``segments`` (numbered 1.. in the order given) of the recorded call ``call_uuid`` in the
    caller's transaction. Raises NotFound (no CDR for the call), Conflict (its segments are already
    stored) or InvalidInput naming the segment's field."""
    get_call(session, call_uuid)
    if session.scalar(select(CallSegment.id).where(CallSegment.call_uuid == call_uuid).limit(1)) is not None:
        raise Conflict("call segments", call_uuid, "already recorded")
    rows = [CallSegment(**values) for values in segment_rows(call_uuid, segments)]
    session.add_all(rows)
    session.flush()
    return rows


def segment_rows(call_uuid: str, segments: Sequence[SegmentRecord]) -> list[dict[str, Any]]:
    """The checked column values of ``segments`` (numbered 1.. in the order given); raises InvalidInput
    naming the segment's field."""
    return [_row(call_uuid, seq, segment) for seq, segment in enumerate(segments, start=1)]


def _row(call_uuid: str, seq: int, segment: SegmentRecord) -> dict[str, Any]:
    field = f"segment[{seq}]"
    if not (segment.agent_id or segment.number):
        raise InvalidInput(f"{field}.agent_id", segment.agent_id, "must be set (or number, for an outside party)")
    started = utc(f"{field}.started_at", segment.started_at)
    ended = utc(f"{field}.ended_at", segment.ended_at)
    if ended < started:
        raise InvalidInput(f"{field}.ended_at", segment.ended_at, f"is before {field}.started_at")
    if segment.hold_seconds < 0 or segment.hold_count < 0:
        raise InvalidInput(f"{field}.hold_seconds", (segment.hold_seconds, segment.hold_count), "must not be negative")
    return {
        "call_uuid": call_uuid,
        "seq": seq,
        "agent_id": segment.agent_id,
        "number": segment.number,
        "queue": segment.queue,
        "how": parse_enum(SegmentStart, f"{field}.how", segment.how),
        "started_at": started,
        "ended_at": ended,
        "talk_seconds": (ended - started).total_seconds(),
        "hold_seconds": segment.hold_seconds,
        "hold_count": segment.hold_count,
        "ended_by": parse_enum(SegmentEnd, f"{field}.ended_by", segment.ended_by),
    }


def segments_of(session: Session, call_uuid: str) -> list[CallSegment]:
    """The call's segments in order (empty for a call recorded without them)."""
    return list(
        session.scalars(select(CallSegment).where(CallSegment.call_uuid == call_uuid).order_by(CallSegment.seq))
    )


def agent_segments(session: Session, agent_id: str, since: datetime, until: datetime) -> list[CallSegment]:
    """The agent's segments that started in ``[since, until)``, oldest first."""
    query = (
        select(CallSegment)
        .where(CallSegment.agent_id == agent_id)
        .where(CallSegment.started_at >= utc("since", since), CallSegment.started_at < utc("until", until))
        .order_by(CallSegment.started_at, CallSegment.id)
    )
    return list(session.scalars(query))


def view(segment: CallSegment) -> dict[str, object]:
    """A segment as the API and CLI show it."""
    return {
        "seq": segment.seq,
        "agent": segment.agent_id,
        "number": segment.number,
        "queue": segment.queue,
        "how": str(segment.how),
        "started_at": segment.started_at.isoformat(),
        "ended_at": segment.ended_at.isoformat(),
        "talk_seconds": round(segment.talk_seconds, 3),
        "hold_seconds": round(segment.hold_seconds, 3),
        "hold_count": segment.hold_count,
        "ended_by": str(segment.ended_by),
    }
