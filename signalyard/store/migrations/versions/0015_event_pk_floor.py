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


_KEPT_KEYS = (
    ("events", "pk"),
    ("outbox", "event_pk"),
    ("click_ledger", "event_pk"),
    ("consent_holds", "event_pk"),
    ("attribution_cursor", "last_pk"),
    ("attribution_orders", "event_pk"),
    ("attribution_touches", "event_pk"),
    ("attribution_clicks", "first_pk"),
    ("attribution_links", "first_pk"),
)
"""Where event keys are kept: a database whose keys already started again keeps the highest
any of them holds, so that new events are numbered after it."""


def upgrade() -> None:
    op.create_table(
        "event_pk_floor",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("pk", sa.BigInteger, nullable=False),
    )
    kept = " UNION ALL ".join(
        f"SELECT max({column}) AS pk FROM {table}" for table, column in _KEPT_KEYS
    )
    op.execute(
        f"INSERT INTO event_pk_floor(id, pk) SELECT 1, max(pk) FROM ({kept}) AS kept"
        " HAVING max(pk) IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("event_pk_floor")
