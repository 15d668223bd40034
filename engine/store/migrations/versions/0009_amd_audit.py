"""AMD audit samples: machine-classified campaign calls recorded for labelling, and agents' machine dispositions.

Revision ID: 0009_amd_audit
Revises: 0006_recording_rules
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_amd_audit"
down_revision: str | None = "0008_hold_time"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "amd_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("call_uuid", sa.String(length=64), nullable=False),
        sa.Column("amd_result", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=True),
        sa.Column("labelled_by", sa.String(length=64), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_amd_samples_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["campaign_contacts.id"], name=op.f("fk_amd_samples_contact_id_campaign_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amd_samples")),
        sa.UniqueConstraint("call_uuid", name=op.f("uq_amd_samples_call_uuid")),
    )  # fmt: skip
    op.create_index("ix_amd_samples_campaign_id_label", "amd_samples", ["campaign_id", "label"])


def downgrade() -> None:
    op.drop_table("amd_samples")
