"""Typed SQLAlchemy 2.0 ORM models of hotline's database.

The schema itself is created only by the Alembic migrations in ``engine/store/migrations``; a test
checks that those migrations and these models agree.

History tables (``calls``, ``interactions``, ``agent_state_changes``) refer to agents by their id
string without a foreign key, so that removing an agent keeps its history.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Index, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from engine.store.timestamps import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SKILL_LEVELS = range(1, 11)
"""Valid skill levels (agent skill level and queue minimum level)."""


class CustomerTier(enum.StrEnum):
    """Service tier of a customer."""

    normal = "normal"
    vip = "vip"


class InteractionKind(enum.StrEnum):
    """What kind of contact an interaction was."""

    inbound = "inbound"
    outbound = "outbound"
    callback = "callback"
    voicemail = "voicemail"
    fax = "fax"


class CallOutcome(enum.StrEnum):
    """How a call ended, from the contact centre's point of view."""

    answered = "answered"
    abandoned = "abandoned"
    self_served = "self_served"
    voicemail = "voicemail"
    failed = "failed"
    transferred = "transferred"


def _enum_column(enum_cls: type[enum.StrEnum], name: str) -> Enum:
    """A portable VARCHAR + CHECK column type storing the enum's values."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), list[str]: JSON()}


class Customer(Base):
    """A person or company who calls in or is called."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    tier: Mapped[CustomerTier] = mapped_column(_enum_column(CustomerTier, "tier"), default=CustomerTier.normal)
    tags: Mapped[list[str]] = mapped_column(default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    phone_numbers: Mapped[list[PhoneNumber]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="PhoneNumber.id"
    )


class PhoneNumber(Base):
    """One E.164 number of a customer; a number belongs to at most one customer."""

    __tablename__ = "phone_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(20), index=True, unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)

    customer: Mapped[Customer] = relationship(back_populates="phone_numbers")


class Interaction(Base):
    """A contact with a customer (call, callback, voicemail, fax) as shown in the CRM history."""

    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_customer_id_started_at", "customer_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    call_uuid: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[InteractionKind] = mapped_column(_enum_column(InteractionKind, "kind"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    disposition: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")
    ivr_path: Mapped[list[str]] = mapped_column(default=list)
    recording_path: Mapped[str | None] = mapped_column(String(1024))
    recording_purged_at: Mapped[datetime | None]  # the file was deleted by the retention policy


class Call(Base):
    """Call detail record (CDR) of one finished call leg handled by hotline."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), index=True, unique=True)
    caller_number: Mapped[str] = mapped_column(String(64), index=True)
    destination: Mapped[str] = mapped_column(String(64))
    flow: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    offered_at: Mapped[datetime | None]
    bridged_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    wait_seconds: Mapped[float | None]
    talk_seconds: Mapped[float | None]
    hold_seconds: Mapped[float] = mapped_column(default=0.0, server_default="0")
    hold_count: Mapped[int] = mapped_column(default=0, server_default="0")
    outcome: Mapped[CallOutcome] = mapped_column(_enum_column(CallOutcome, "outcome"))
    hangup_cause: Mapped[str | None] = mapped_column(String(64))


class Agent(Base):
    """A person taking calls on a SIP phone."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    skills: Mapped[list[AgentSkill]] = relationship(
        back_populates="agent", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def skill_levels(self) -> dict[str, int]:
        """Skill name -> level."""
        return {agent_skill.skill.name: agent_skill.level for agent_skill in self.skills}


class Skill(Base):
    """A named capability (language, product line) that agents have and queues require."""

    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class AgentSkill(Base):
    """An agent's level (1..10) in a skill."""

    __tablename__ = "agent_skills"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 10", name="level_range"),)

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int]

    agent: Mapped[Agent] = relationship(back_populates="skills")
    skill: Mapped[Skill] = relationship(lazy="joined")


class Queue(Base):
    """An ACD queue: routing strategy, timers and the skills a serving agent needs."""

    __tablename__ = "queues"
    __table_args__ = (
        CheckConstraint("wrap_up_seconds >= 0", name="wrap_up_nonnegative"),
        CheckConstraint("max_wait_seconds > 0", name="max_wait_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    strategy: Mapped[str] = mapped_column(String(32))
    wrap_up_seconds: Mapped[int] = mapped_column(default=0)
    max_wait_seconds: Mapped[int]

    required_skills: Mapped[list[QueueSkill]] = relationship(
        back_populates="queue", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def skill_levels(self) -> dict[str, int]:
        """Required skill name -> minimum level."""
        return {queue_skill.skill.name: queue_skill.min_level for queue_skill in self.required_skills}


class QueueSkill(Base):
    """A skill a queue requires, with the minimum level (1..10)."""

    __tablename__ = "queue_skills"
    __table_args__ = (CheckConstraint("min_level BETWEEN 1 AND 10", name="min_level_range"),)

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="RESTRICT"), primary_key=True)
    min_level: Mapped[int]

    queue: Mapped[Queue] = relationship(back_populates="required_skills")
    skill: Mapped[Skill] = relationship(lazy="joined")


class AgentStateChange(Base):
    """One entry of the append-only log of agent state changes."""

    __tablename__ = "agent_state_changes"
    __table_args__ = (Index("ix_agent_state_changes_agent_id_at", "agent_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime]


# Each domain's tables live in their own module; importing them here puts them on Base.metadata.
from engine.store import (  # noqa: E402, F401
    acd_models,
    amd_audit_models,
    callback_models,
    crm_models,
    ivr_models,
    outbound_models,
    segment_models,
)
