"""ORM models of outbound campaigns: campaigns, their contacts, do-not-call entries, call attempts and
the dial decision log (every pacing decision with the inputs it used).

The abandon budget window is not a table of its own: it is rebuilt from ``call_attempts`` (live answers
and their abandoned flag) when a campaign starts, so it survives restarts without a second copy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base
from engine.store.timestamps import utcnow


class Campaign(Base):
    """An outbound campaign and its settings (see docs/outbound.md)."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    caller_id: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(2), default="GB")
    gateway: Mapped[str] = mapped_column(String(255), default="sofia/gateway/trunk/")
    dial_mode: Mapped[str] = mapped_column(String(16), default="progressive")
    dial_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    compliance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dispositions: Mapped[list[str]] = mapped_column(default=list)
    amd_rule: Mapped[str] = mapped_column(String(16), default="hang_up")
    abandon_message: Mapped[str] = mapped_column(String(1024), default="ivr/ivr-call_back_later.wav")
    machine_message: Mapped[str] = mapped_column(String(1024), default="ivr/ivr-leave_message.wav")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignContact(Base):
    """One number to call in a campaign and what compliance remembers about it."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        Index("ix_campaign_contacts_campaign_id_next_attempt_at", "campaign_id", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))
    time_zones: Mapped[list[str]] = mapped_column(default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # outcome -> attempts with it
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    closed: Mapped[str | None] = mapped_column(String(255))
    abandoned_at: Mapped[datetime | None]
    callback_at: Mapped[datetime | None]
    disposition: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")


class DncEntry(Base):
    """A do-not-call number: ``source`` is ``internal`` or the name of an imported list (e.g. ``tps``)."""

    __tablename__ = "dnc_entries"
    __table_args__ = (UniqueConstraint("number", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class DialDecisionRecord(Base):
    """One pacing decision that placed calls, with every input it used."""

    __tablename__ = "dial_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    policy: Mapped[str] = mapped_column(String(32))
    n_calls: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)


class CallAttempt(Base):
    """One dial of a contact: when, how it ended, what AMD said, which agent took it, abandoned or not."""

    __tablename__ = "call_attempts"
    __table_args__ = (Index("ix_call_attempts_campaign_id_answered_at", "campaign_id", "answered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("campaign_contacts.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("dial_decisions.id", ondelete="SET NULL"))
    number: Mapped[str] = mapped_column(String(20))
    dialled_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    amd_result: Mapped[str | None] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(32))
    abandoned: Mapped[bool] = mapped_column(default=False)
    disposition: Mapped[str | None] = mapped_column(String(64))
