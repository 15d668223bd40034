"""ACD queue settings: ring timeout, agent delays, no-answer limit, exit target, resume window, escalation.

Revision ID: 0003_acd
Revises: 0002_crm
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_acd"
down_revision: str | None = "0002_crm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``queue_settings`` (one optional row per queue, deleted with it) and the audit log."""
    op.create_table(
        "queue_settings",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("ring_timeout_seconds", sa.Float(), nullable=False),
        sa.Column("no_answer_delay_seconds", sa.Float(), nullable=False),
        sa.Column("busy_delay_seconds", sa.Float(), nullable=False),
        sa.Column("reject_delay_seconds", sa.Float(), nullable=False),
        sa.Column("failed_delay_seconds", sa.Float(), nullable=False),
        sa.Column("max_no_answer", sa.Integer(), nullable=False),
        sa.Column("skill_weight_seconds", sa.Float(), nullable=False),
        sa.Column("resume_seconds", sa.Float(), nullable=False),
        sa.Column("announce_seconds", sa.Float(), nullable=False),
        sa.Column("exit_keys", sa.JSON(), nullable=False),
        sa.Column("record_percent", sa.Float(), nullable=False),
        sa.Column("exit_target", sa.String(length=128), nullable=False),
        sa.Column("escalation", sa.JSON(), nullable=False),
        sa.CheckConstraint("ring_timeout_seconds > 0", name=op.f("ck_queue_settings_ring_timeout_positive")),
        sa.CheckConstraint(
            "no_answer_delay_seconds >= 0 AND busy_delay_seconds >= 0 AND reject_delay_seconds >= 0 "
            "AND failed_delay_seconds >= 0 AND skill_weight_seconds >= 0 AND resume_seconds >= 0 "
            "AND announce_seconds >= 0",
            name=op.f("ck_queue_settings_delays_nonnegative"),
        ),
        sa.CheckConstraint("max_no_answer >= 0", name=op.f("ck_queue_settings_max_no_answer_nonnegative")),
        sa.CheckConstraint("record_percent BETWEEN 0 AND 100", name=op.f("ck_queue_settings_record_percent_range")),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_queue_settings_queue_id_queues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("queue_id", name=op.f("pk_queue_settings")),
    )

    op.create_table(
        "call_control_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("call_uuid", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("result", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_control_actions")),
    )
    op.create_index("ix_call_control_actions_agent_id_at", "call_control_actions", ["agent_id", "at"])
    op.create_table(
        "call_recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_uuid", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_recordings")),
    )
    op.create_index("ix_call_recordings_call_uuid", "call_recordings", ["call_uuid"])


def downgrade() -> None:
    """Drop the ACD's tables."""
    op.drop_index("ix_call_recordings_call_uuid", table_name="call_recordings")
    op.drop_table("call_recordings")
    op.drop_index("ix_call_control_actions_agent_id_at", table_name="call_control_actions")
    op.drop_table("call_control_actions")
    op.drop_table("queue_settings")
