"""Indexes for retention: find old delivered rows, attempts, events and dedup keys cheaply.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "outbox_delivered",
        "outbox",
        ["settled_at"],
        sqlite_where=sa.text("status = 'delivered'"),
        postgresql_where=sa.text("status = 'delivered'"),
    )
    op.create_index("attempts_at", "attempts", ["at"])
    op.create_index("events_received", "events", ["received_at"])
    op.create_index("dedup_keys_received", "dedup_keys", ["received_at"])


def downgrade() -> None:
    for name, table in (
        ("dedup_keys_received", "dedup_keys"),
        ("events_received", "events"),
        ("attempts_at", "attempts"),
        ("outbox_delivered", "outbox"),
    ):
        op.drop_index(name, table_name=table)
