"""Attribution's exchange rates: what one unit of a base currency was worth in another on a
day (imported with ``signalyard attribution import-rates``), so that a report can set every
amount in one currency.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribution_rates",
        sa.Column("base", sa.Text, primary_key=True),
        sa.Column("currency", sa.Text, primary_key=True),
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("rate", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("imported_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("attribution_rates")
