"""Outbound campaigns: campaigns, contacts, do-not-call entries, dial decisions, call attempts.

Revision ID: 0004_outbound
Revises: 0003_acd
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_outbound"
down_revision: str | None = "0003_acd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("campaigns", "campaign_contacts", "dnc_entries", "dial_decisions", "call_attempts")


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    """A timezone-aware timestamp column."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the outbound tables."""
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("caller_id", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("gateway", sa.String(length=255), nullable=False),
        sa.Column("dial_mode", sa.String(length=16), nullable=False),
        sa.Column("dial_params", sa.JSON(), nullable=False),
        sa.Column("compliance", sa.JSON(), nullable=False),
        sa.Column("dispositions", sa.JSON(), nullable=False),
        sa.Column("amd_rule", sa.String(length=16), nullable=False),
        sa.Column("abandon_message", sa.String(length=1024), nullable=False),
        sa.Column("machine_message", sa.String(length=1024), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("time_zones", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.JSON(), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        _timestamp("next_attempt_at", True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("closed", sa.String(length=255), nullable=True),
        _timestamp("abandoned_at", True),
        _timestamp("callback_at", True),
        sa.Column("disposition", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_contacts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_contacts")),
        sa.UniqueConstraint("campaign_id", "number", name=op.f("uq_campaign_contacts_campaign_id_number")),
    )  # fmt: skip
    op.create_index(
        "ix_campaign_contacts_campaign_id_next_attempt_at", "campaign_contacts", ["campaign_id", "next_attempt_at"]
    )
    op.create_table(
        "dnc_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        _timestamp("added_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dnc_entries")),
        sa.UniqueConstraint("number", "source", name=op.f("uq_dnc_entries_number_source")),
    )
    op.create_index(op.f("ix_dnc_entries_number"), "dnc_entries", ["number"])
    op.create_table(
        "dial_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        _timestamp("at"),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("n_calls", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_dial_decisions_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dial_decisions")),
    )
    op.create_index(op.f("ix_dial_decisions_campaign_id"), "dial_decisions", ["campaign_id"])
    op.create_table(
        "call_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=False),
        _timestamp("dialled_at"),
        _timestamp("answered_at", True),
        _timestamp("ended_at", True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("hangup_cause", sa.String(length=64), nullable=True),
        sa.Column("amd_result", sa.String(length=16), nullable=True),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("disposition", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_call_attempts_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["campaign_contacts.id"], name=op.f("fk_call_attempts_contact_id_campaign_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["dial_decisions.id"], name=op.f("fk_call_attempts_decision_id_dial_decisions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_attempts")),
        sa.UniqueConstraint("uuid", name=op.f("uq_call_attempts_uuid")),
    )  # fmt: skip
    op.create_index(op.f("ix_call_attempts_contact_id"), "call_attempts", ["contact_id"])
    op.create_index("ix_call_attempts_campaign_id_answered_at", "call_attempts", ["campaign_id", "answered_at"])


def downgrade() -> None:
    """Drop the outbound tables (dependants first)."""
    for table in reversed(TABLES):
        op.drop_table(table)
