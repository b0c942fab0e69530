"""Order webhooks (Shopify, WooCommerce) and file imports: their secrets, delivery ids,
order states and import ledgers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_sources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("options", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("dataset_id", "kind", name="webhook_sources_dataset_kind"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("source_id", sa.Integer, primary_key=True),
        sa.Column("delivery_id", sa.Text, primary_key=True),
        sa.Column("received_at", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("webhook_deliveries_received", "webhook_deliveries", ["received_at"])
    op.create_table(
        "orders",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("platform", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("financial_status", sa.Text),
        sa.Column("purchase_event_id", sa.Text),
        sa.Column("purchase_sent_at", sa.Float),
        sa.Column("refunded_value", sa.Float, nullable=False, server_default="0"),
        sa.Column("cancelled_at", sa.Float),
        sa.Column("updated_at", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("rows_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_ok", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
    )


def downgrade() -> None:
    for table in ("imports", "orders", "webhook_deliveries", "webhook_sources"):
        op.drop_table(table)
