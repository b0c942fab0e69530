"""Statistics rollups for the dashboard and metrics, and alert states.

Counters are kept per hour (per day for key masks), added to by each process every few
seconds, so pages read thousands of rows whatever the number of events stored:

- ``stats_events``: per dataset, hour received, event name and source: events received,
  stored, duplicates, ids generated, late/future timestamps, cookie and value problems,
  browser/server pairs, id mismatches, and events whose personal keys came unhashed.
- ``stats_masks``: per dataset, day, event name and customer-key mask (bit per key, see
  ``signalyard.insights.quality``): events, for match quality and key coverage.
- ``stats_rejections``: per dataset, hour, source, field and rule: events refused.
- ``stats_delivery``: per destination and hour: events delivered and dead-lettered, requests
  and failed requests, and the summed delay from receipt to delivery.
- ``alerts``: one row per alert raised (kind and subject), firing until resolved; at most one
  firing row per kind and subject.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

EVENT_COUNTERS = (
    "received",
    "stored",
    "duplicates",
    "generated_ids",
    "late",
    "future",
    "hashed_cookies",
    "malformed_cookies",
    "dropped_values",
    "paired",
    "mismatched",
    "plaintext_pii",
)


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "stats_events",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("event_name", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, primary_key=True),
        *(_counter(c) for c in EVENT_COUNTERS),
        sqlite_with_rowid=False,
    )
    op.create_index("stats_events_hour", "stats_events", ["hour"])
    op.create_table(
        "stats_masks",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True),
        sa.Column("event_name", sa.Text, primary_key=True),
        sa.Column("mask", sa.BigInteger, primary_key=True),
        _counter("events"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "stats_rejections",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("field", sa.Text, primary_key=True),
        sa.Column("rule", sa.Text, primary_key=True),
        _counter("events"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "stats_delivery",
        sa.Column("destination_id", sa.Integer, primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),
        *(
            _counter(c)
            for c in ("delivered", "dead", "requests", "failed_requests", "delay_seconds")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("fired_at", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float),
    )
    op.create_index(
        "alerts_one_firing",
        "alerts",
        ["kind", "subject"],
        unique=True,
        sqlite_where=sa.text("state = 'firing'"),
        postgresql_where=sa.text("state = 'firing'"),
    )


def downgrade() -> None:
    op.drop_index("alerts_one_firing", "alerts")
    op.drop_table("alerts")
    op.drop_table("stats_delivery")
    op.drop_table("stats_rejections")
    op.drop_table("stats_masks")
    op.drop_index("stats_events_hour", "stats_events")
    op.drop_table("stats_events")
