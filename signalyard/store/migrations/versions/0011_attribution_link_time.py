"""Attribution's identity links keep when they were first seen (the event's time), so that the
shared-key guardrail counts a person key's browsers per day, not over all time.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attribution_links") as batch:
        batch.add_column(sa.Column("observed_at", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("attribution_links") as batch:
        batch.drop_column("observed_at")
