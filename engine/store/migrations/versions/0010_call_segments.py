"""Call segments: every agent (or outside number) who handled part of a call, in order.

Revision ID: 0010_call_segments
Revises: 0009_amd_audit
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_call_segments"
down_revision: str | None = "0009_amd_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STARTS = ("answered", "transfer", "consult", "conference", "callback")
ENDS = ("hangup", "transferred", "left_conference")


def upgrade() -> None:
    op.create_table(
        "call_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_uuid", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column(
            "how",
            sa.Enum(*STARTS, name="segment_start", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("talk_seconds", sa.Double(), nullable=False),
        sa.Column("hold_seconds", sa.Double(), nullable=False),
        sa.Column("hold_count", sa.Integer(), nullable=False),
        sa.Column(
            "ended_by",
            sa.Enum(*ENDS, name="segment_end", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.CheckConstraint("agent_id IS NOT NULL OR number IS NOT NULL", name=op.f("ck_call_segments_has_party")),
        sa.CheckConstraint(
            "talk_seconds >= 0 AND hold_seconds >= 0 AND hold_count >= 0", name=op.f("ck_call_segments_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["call_uuid"], ["calls.uuid"], name=op.f("fk_call_segments_call_uuid_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_segments")),
        sa.UniqueConstraint("call_uuid", "seq", name=op.f("uq_call_segments_call_uuid_seq")),
    )
    op.create_index("ix_call_segments_agent_id_started_at", "call_segments", ["agent_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_call_segments_agent_id_started_at", table_name="call_segments")
    op.drop_table("call_segments")
