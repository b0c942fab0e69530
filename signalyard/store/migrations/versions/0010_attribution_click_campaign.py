"""Attribution clicks keep their campaign: the ``utm_campaign`` (or ``utm_id``) of the landing
that carried the click, so that credit and claims meet per campaign.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attribution_clicks") as batch:
        batch.add_column(sa.Column("campaign", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("attribution_clicks") as batch:
        batch.drop_column("campaign")
