"""IVR: post-call survey answers.

Revision ID: 0005_ivr
Revises: 0004_outbound
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_ivr"
down_revision: str | None = "0004_outbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_uuid", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("question", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_survey_scores_score_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_scores")),
    )
    op.create_index("ix_survey_scores_call_uuid", "survey_scores", ["call_uuid"])
    op.create_index("ix_survey_scores_agent_at", "survey_scores", ["agent_id", "at"])


def downgrade() -> None:
    op.drop_table("survey_scores")
