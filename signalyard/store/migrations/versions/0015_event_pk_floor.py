"""The highest event key ever given, kept when retention deletes the newest events.

SQLite gives a new row one more than the largest key in the table, so once retention had
deleted every event (a gateway idle past its retention period) the keys started again from
1: the attribution cursor (``pk > last_pk``) then skipped the new events until their keys
passed the old ones, and tables that keep event keys (the click ledger, attribution's
orders and touches) could take a new event for an old one. Retention now records the
highest key before it deletes events, and the SQLite store numbers new events after it.
PostgreSQL's sequence never gives a key twice: the table stays empty there.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_pk_floor",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("pk", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("event_pk_floor")
