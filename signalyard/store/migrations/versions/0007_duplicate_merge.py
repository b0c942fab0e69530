"""Counting richer duplicates merged into the stored copy (``signalyard.store._merge``).

- ``stats_events.merged``: duplicates whose ``user_data`` keys were added to the copy stored
  first, before it was sent;
- ``stats_events.late_richer``: duplicates that had keys the stored copy lacked but arrived
  after it was sent ("richer copy arrived late").

No index is added: a duplicate finds the stored copy through its dedup key's time and the
existing ``events_dataset_received`` index, so the common (non-duplicate) ingest path
maintains nothing more.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stats_events") as batch:
        for name in ("merged", "late_richer"):
            batch.add_column(sa.Column(name, sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("stats_events") as batch:
        batch.drop_column("late_richer")
        batch.drop_column("merged")
