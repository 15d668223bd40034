"""Hold time in the CDR: seconds on hold and number of holds per call.

Revision ID: 0008_hold_time
Revises: 0006_recording_rules
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_hold_time"
down_revision: str | None = "0007_queue_callbacks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("hold_seconds", sa.Double(), server_default="0", nullable=False))
        batch.add_column(sa.Column("hold_count", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("hold_count")
        batch.drop_column("hold_seconds")
