"""ORM model of call segments: one row per agent (or outside number) who handled part of a call."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base, _enum_column


class SegmentStart(enum.StrEnum):
    """How the party got the call."""

    answered = "answered"  # answered an offer from the queue (the call's first agent)
    transfer = "transfer"  # blind-transferred to them (through a queue, or to agent:ID / number:N)
    consult = "consult"  # an attended transfer to them was completed
    conference = "conference"  # joined the call's three-way conference
    callback = "callback"  # dialled the customer back for a kept place in the queue


class SegmentEnd(enum.StrEnum):
    """How the party's part of the call ended."""

    hangup = "hangup"  # the call ended while they had it
    transferred = "transferred"  # they passed the call on (blind or attended transfer)
    left_conference = "left_conference"  # they left the conference, or were dropped from it


class CallSegment(Base):
    """One party's part of a call: ``talk_seconds`` is ``started_at`` -> ``ended_at`` (hold included,
    as the CDR's talk time); ``hold_seconds``/``hold_count``: the call's hold while the part lasted."""

    __tablename__ = "call_segments"
    __table_args__ = (
        UniqueConstraint("call_uuid", "seq"),
        Index("ix_call_segments_agent_id_started_at", "agent_id", "started_at"),
        CheckConstraint("agent_id IS NOT NULL OR number IS NOT NULL", name="has_party"),
        CheckConstraint("talk_seconds >= 0 AND hold_seconds >= 0 AND hold_count >= 0", name="nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_uuid: Mapped[str] = mapped_column(ForeignKey("calls.uuid", ondelete="CASCADE"))
    seq: Mapped[int]
    agent_id: Mapped[str | None] = mapped_column(String(32))
    number: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))
    how: Mapped[SegmentStart] = mapped_column(_enum_column(SegmentStart, "segment_start"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    talk_seconds: Mapped[float]
    hold_seconds: Mapped[float] = mapped_column(default=0.0)
    hold_count: Mapped[int] = mapped_column(default=0)
    ended_by: Mapped[SegmentEnd] = mapped_column(_enum_column(SegmentEnd, "segment_end"))
