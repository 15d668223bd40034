"""Recording rules: record an agent's calls during a time window.

Revision ID: 0006_recording_rules
Revises: 0005_ivr
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_recording_rules"
down_revision: str | None = "0005_ivr"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_recording_rules_window_not_empty")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_rules")),
    )
    op.create_index("ix_recording_rules_agent_id_ends_at", "recording_rules", ["agent_id", "ends_at"])


def downgrade() -> None:
    op.drop_table("recording_rules")
