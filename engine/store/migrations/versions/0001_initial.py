"""Initial schema: customers, phone numbers, interactions, CDRs, agents, skills, queues, agent state log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "customers",
    "phone_numbers",
    "interactions",
    "calls",
    "agents",
    "skills",
    "agent_skills",
    "queues",
    "queue_skills",
    "agent_state_changes",
)


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    """A timezone-aware timestamp column."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _enum(name: str, *values: str) -> sa.Enum:
    """A portable VARCHAR(16) + CHECK enum column type."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    """Create every table of the initial schema."""
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("tier", _enum("tier", "normal", "vip"), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_table(
        "phone_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_phone_numbers_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
    )
    op.create_index(op.f("ix_phone_numbers_customer_id"), "phone_numbers", ["customer_id"])
    op.create_index(op.f("ix_phone_numbers_e164"), "phone_numbers", ["e164"], unique=True)

    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("call_uuid", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("kind", _enum("kind", "inbound", "outbound", "callback", "voicemail", "fax"), nullable=False),
        _timestamp("started_at"),
        _timestamp("ended_at", nullable=True),
        sa.Column("disposition", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("ivr_path", sa.JSON(), nullable=False),
        sa.Column("recording_path", sa.String(length=1024), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_interactions_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    op.create_index(op.f("ix_interactions_call_uuid"), "interactions", ["call_uuid"])
    op.create_index("ix_interactions_customer_id_started_at", "interactions", ["customer_id", "started_at"])

    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("answered_at", nullable=True),
        _timestamp("queued_at", nullable=True),
        _timestamp("offered_at", nullable=True),
        _timestamp("bridged_at", nullable=True),
        _timestamp("ended_at"),
        sa.Column("wait_seconds", sa.Double(), nullable=True),
        sa.Column("talk_seconds", sa.Double(), nullable=True),
        sa.Column(
            "outcome",
            _enum("outcome", "answered", "abandoned", "self_served", "voicemail", "failed", "transferred"),
            nullable=False,
        ),
        sa.Column("hangup_cause", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    op.create_index(op.f("ix_calls_caller_number"), "calls", ["caller_number"])
    op.create_index(op.f("ix_calls_created_at"), "calls", ["created_at"])
    op.create_index(op.f("ix_calls_uuid"), "calls", ["uuid"], unique=True)

    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=255), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    op.create_table(
        "skills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skills")),
        sa.UniqueConstraint("name", name=op.f("uq_skills_name")),
    )
    op.create_table(
        "agent_skills",
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("skill_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 10", name=op.f("ck_agent_skills_level_range")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_skills_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["skill_id"], ["skills.id"], name=op.f("fk_agent_skills_skill_id_skills"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "skill_id", name=op.f("pk_agent_skills")),
    )
    op.create_table(
        "queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("wrap_up_seconds", sa.Integer(), nullable=False),
        sa.Column("max_wait_seconds", sa.Integer(), nullable=False),
        sa.CheckConstraint("max_wait_seconds > 0", name=op.f("ck_queues_max_wait_positive")),
        sa.CheckConstraint("wrap_up_seconds >= 0", name=op.f("ck_queues_wrap_up_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_queues_name")),
    )
    op.create_table(
        "queue_skills",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.Integer(), nullable=False),
        sa.Column("min_level", sa.Integer(), nullable=False),
        sa.CheckConstraint("min_level BETWEEN 1 AND 10", name=op.f("ck_queue_skills_min_level_range")),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_queue_skills_queue_id_queues"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["skill_id"], ["skills.id"], name=op.f("fk_queue_skills_skill_id_skills"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("queue_id", "skill_id", name=op.f("pk_queue_skills")),
    )
    op.create_table(
        "agent_state_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        _timestamp("at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_changes")),
    )
    op.create_index("ix_agent_state_changes_agent_id_at", "agent_state_changes", ["agent_id", "at"])


def downgrade() -> None:
    """Drop every table of the initial schema (dependants first)."""
    for table in reversed(TABLES):
        op.drop_table(table)
