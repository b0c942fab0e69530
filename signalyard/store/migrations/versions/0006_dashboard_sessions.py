"""Dashboard sessions that were logged out, and browser event ids counted once.

- ``dashboard_revoked_sessions``: the id of each dashboard session ended by "Log out", kept
  until the session would have expired on its own (then pruned). Every process reads it, so a
  copied cookie stops working everywhere as soon as its session is logged out.
- ``stats_events.browser_ids``: event ids the browser script sent, each counted once (the
  pairing rate's denominator; ``paired`` now counts event ids too, not arrivals). Rows written
  before this revision get ``received - duplicates`` of the browser, the estimate used until
  now.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_revoked_sessions",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "dashboard_revoked_sessions_expiry", "dashboard_revoked_sessions", ["expires_at"]
    )
    with op.batch_alter_table("stats_events") as batch:
        batch.add_column(
            sa.Column("browser_ids", sa.BigInteger, nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE stats_events SET browser_ids = received - duplicates WHERE source = 'browser'"
    )


def downgrade() -> None:
    with op.batch_alter_table("stats_events") as batch:
        batch.drop_column("browser_ids")
    op.drop_index("dashboard_revoked_sessions_expiry", "dashboard_revoked_sessions")
    op.drop_table("dashboard_revoked_sessions")
