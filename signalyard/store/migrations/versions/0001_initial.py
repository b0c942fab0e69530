"""Initial schema: datasets, ingest keys, destinations, events, dedup keys, outbox, attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# SQLite auto-increments only INTEGER PRIMARY KEY; PostgreSQL gets 64-bit keys.
BIGKEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("default_country", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "ingest_keys",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False, unique=True),
        sa.Column("label", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float),
    )
    op.create_table(
        "destinations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("options", sa.Text, nullable=False, server_default="{}"),
        sa.Column("access_token", sa.Text, nullable=False),
        sa.Column("app_secret", sa.Text),
        sa.Column("state", sa.Text, nullable=False, server_default="active"),
        sa.Column("paused_reason", sa.Text),
        sa.Column("paused_fix", sa.Text),
        sa.Column("throttled_until", sa.Float),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("dataset_id", "name", name="destinations_dataset_name"),
    )
    op.create_table(
        "events",
        sa.Column("pk", BIGKEY, primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.Text, nullable=False),
        sa.Column("event_name", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("event_time", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("test_event_code", sa.Text),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index("events_dataset_received", "events", ["dataset_id", "received_at"])
    op.create_table(
        "dedup_keys",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("event_name", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("received_at", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "outbox",
        sa.Column("id", BIGKEY, primary_key=True, autoincrement=True),
        sa.Column("event_pk", sa.BigInteger, nullable=False),
        sa.Column("destination_id", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_until", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("settled_at", sa.Float),
        sa.Column("dead_reason", sa.Text),
        sa.Column("dead_code", sa.Integer),
        sa.Column("dead_subcode", sa.Integer),
    )
    op.create_index(
        "outbox_due",
        "outbox",
        ["destination_id", "due_at"],
        sqlite_where=sa.text("status = 'queued'"),
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "outbox_dead",
        "outbox",
        ["destination_id", "settled_at"],
        sqlite_where=sa.text("status = 'dead'"),
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.create_index("outbox_event", "outbox", ["event_pk"])
    op.create_table(
        "attempts",
        sa.Column("id", BIGKEY, primary_key=True, autoincrement=True),
        sa.Column("destination_id", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("code", sa.Integer),
        sa.Column("subcode", sa.Integer),
        sa.Column("trace_id", sa.Text),
        sa.Column("message", sa.Text),
        sa.Column("duration_ms", sa.Float, nullable=False, server_default="0"),
    )
    op.create_index("attempts_destination_at", "attempts", ["destination_id", "at"])


def downgrade() -> None:
    for table in (
        "attempts",
        "outbox",
        "dedup_keys",
        "events",
        "destinations",
        "ingest_keys",
        "datasets",
    ):
        op.drop_table(table)
