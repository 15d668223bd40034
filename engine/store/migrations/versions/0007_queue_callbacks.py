"""Keep-your-place callbacks: the queue_callbacks table and each queue's callback settings.

Revision ID: 0007_queue_callbacks
Revises: 0006_recording_rules
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_queue_callbacks"
down_revision: str | None = "0006_recording_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("pending", "dialling", "retry", "connected", "completed", "failed", "cancelled")


def upgrade() -> None:
    op.create_table(
        "queue_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_uuid", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("caller_number", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="callback_status", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("last_result", sa.String(length=32), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_queue_callbacks_attempts_nonnegative")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_queue_callbacks_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_queue_callbacks_ticket_id_tickets"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_callbacks")),
        sa.UniqueConstraint("call_uuid", name=op.f("uq_queue_callbacks_call_uuid")),
    )
    op.create_index("ix_queue_callbacks_status_queue", "queue_callbacks", ["status", "queue"])
    with op.batch_alter_table("queue_settings") as batch:
        batch.add_column(sa.Column("callback_attempts", sa.Integer(), nullable=False, server_default="3"))
        batch.add_column(sa.Column("callback_retry_seconds", sa.Float(), nullable=False, server_default="300"))
        batch.add_column(sa.Column("callback_ring_seconds", sa.Float(), nullable=False, server_default="30"))


def downgrade() -> None:
    with op.batch_alter_table("queue_settings") as batch:
        batch.drop_column("callback_ring_seconds")
        batch.drop_column("callback_retry_seconds")
        batch.drop_column("callback_attempts")
    op.drop_table("queue_callbacks")
