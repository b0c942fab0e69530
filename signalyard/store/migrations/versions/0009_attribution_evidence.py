"""Attribution's own tables: the evidence it keeps from the events (which are pruned after the
retention period, while click windows run up to 90 days).

- ``attribution_cursor``: per dataset, the last event (``events.pk``) taken in.
- ``attribution_orders``: one row per order (its first ``Purchase``): time, currency, gross
  value as exact decimal text, kind (web, renewal, pos, offline), the event's identity node.
- ``attribution_touches``: landings that start a visit, with their channel.
- ``attribution_clicks``: click ids, each with its earliest known click time.
- ``attribution_links``: identity edges (two nodes seen in one event), append-only.
- ``attribution_claims``: what each platform claims per day, campaign and currency
  (conversions, their value and the ad spend, exact decimal text), imported from its export.

Nodes are a browser's ids, hashed person keys and click ids: no plaintext personal data.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribution_cursor",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("last_pk", sa.BigInteger, nullable=False),
        sa.Column("synced_at", sa.Float, nullable=False),
    )
    op.create_table(
        "attribution_orders",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("event_pk", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("gross", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("node", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "attribution_touches",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("event_pk", sa.BigInteger, primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("campaign", sa.Text),
        sa.Column("node", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "attribution_clicks",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("click_id", sa.Text, primary_key=True),
        sa.Column("clicked_at", sa.Float),
        sa.Column("first_pk", sa.BigInteger, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "attribution_links",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("a", sa.Text, primary_key=True),
        sa.Column("b", sa.Text, primary_key=True),
        sa.Column("first_pk", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "attribution_claims",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("platform", sa.Text, primary_key=True),
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("campaign", sa.Text, primary_key=True),
        sa.Column("currency", sa.Text, primary_key=True),
        sa.Column("conversions", sa.Float, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("spend", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("imported_at", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for table in (
        "attribution_claims",
        "attribution_links",
        "attribution_clicks",
        "attribution_touches",
        "attribution_orders",
        "attribution_cursor",
    ):
        op.drop_table(table)
