"""The ACD's own tables: per-queue routing settings beyond those of ``queues``, and the audit log
of call-control and supervisor actions.

A queue without a ``queue_settings`` row uses the ACD's defaults (``engine.acd.model.QueueConfig``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base


class QueueSettings(Base):
    """Ring timeout, agent delays, no-answer limit, exit target, resume window and escalation of one queue."""

    __tablename__ = "queue_settings"
    __table_args__ = (
        CheckConstraint("ring_timeout_seconds > 0", name="ring_timeout_positive"),
        CheckConstraint(
            "no_answer_delay_seconds >= 0 AND busy_delay_seconds >= 0 AND reject_delay_seconds >= 0 "
            "AND failed_delay_seconds >= 0 AND skill_weight_seconds >= 0 AND resume_seconds >= 0 "
            "AND announce_seconds >= 0",
            name="delays_nonnegative",
        ),
        CheckConstraint("max_no_answer >= 0", name="max_no_answer_nonnegative"),
        CheckConstraint("record_percent BETWEEN 0 AND 100", name="record_percent_range"),
    )

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    ring_timeout_seconds: Mapped[float] = mapped_column(Float)
    no_answer_delay_seconds: Mapped[float] = mapped_column(Float)
    busy_delay_seconds: Mapped[float] = mapped_column(Float)
    reject_delay_seconds: Mapped[float] = mapped_column(Float)
    failed_delay_seconds: Mapped[float] = mapped_column(Float)
    max_no_answer: Mapped[int]
    skill_weight_seconds: Mapped[float] = mapped_column(Float)
    resume_seconds: Mapped[float] = mapped_column(Float)
    announce_seconds: Mapped[float] = mapped_column(Float)
    exit_keys: Mapped[dict[str, str]] = mapped_column(JSON)
    record_percent: Mapped[float] = mapped_column(Float)
    exit_target: Mapped[str] = mapped_column(String(128))
    escalation: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    callback_attempts: Mapped[int] = mapped_column(default=3)
    callback_retry_seconds: Mapped[float] = mapped_column(Float, default=300.0)
    callback_ring_seconds: Mapped[float] = mapped_column(Float, default=30.0)


class CallControlAction(Base):
    """One call-control or supervisor action: who did what to which agent's call, when, and how it went."""

    __tablename__ = "call_control_actions"
    __table_args__ = (Index("ix_call_control_actions_agent_id_at", "agent_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[str] = mapped_column(String(32))
    call_uuid: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(255))
    result: Mapped[str] = mapped_column(String(255))


class CallRecording(Base):
    """A recording of a call: where the file is, why it was made (policy or who asked), of whom."""

    __tablename__ = "call_recordings"
    __table_args__ = (Index("ix_call_recordings_call_uuid", "call_uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_uuid: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1024))
    reason: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    purged_at: Mapped[datetime | None]  # the file was deleted by the retention policy


class RecordingRule(Base):
    """ "Record this agent's calls during this time window" (a supervisor's or QA's rule)."""

    __tablename__ = "recording_rules"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window_not_empty"),
        Index("ix_recording_rules_agent_id_ends_at", "agent_id", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime]
