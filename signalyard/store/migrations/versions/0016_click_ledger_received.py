"""The click ledger is pruned by when a click was first seen, not by when it was made.

Its only index besides the key was on ``clicked_at``, which retention alone read. A click's
time is its event's, and events arrive out of order (a browser's within seconds, an order's
or an import's hours or days late): each new entry landed on a random page of that index,
so once it was much larger than a commit every click cost the commit a page of its own
(``bench/ingest_growth.py`` at 150,000 events with two click ids each: 12 KB of the 26 KB
written per event, and a quarter to a third of the store thread's CPU in two runs).
``received_at`` only grows, so new entries fill the last page. Retention now deletes an
entry 90 days after its first sighting; a click first seen late is kept that much longer
after it was made. A process still running the previous release prunes by ``clicked_at``
without an index (a scan per batch) until it is restarted.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _swap(new: str, column: str, old: str) -> None:
    """Create ``new`` on ``column``, then drop ``old``. On PostgreSQL both outside the
    migration's transaction and ``CONCURRENTLY``: building the index over a large ledger
    does not hold back the ingest that writes clicks meanwhile (a plain build locks the
    table against writes until the whole migration commits)."""
    if op.get_context().dialect.name != "postgresql":
        op.create_index(new, "click_ledger", [column])
        op.drop_index(old, "click_ledger")
        return
    with op.get_context().autocommit_block():
        # A build interrupted earlier leaves an invalid index of that name: start again.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {new}")
        op.create_index(new, "click_ledger", [column], postgresql_concurrently=True)
        op.drop_index(old, "click_ledger", postgresql_concurrently=True, if_exists=True)


def upgrade() -> None:
    _swap("click_ledger_received", "received_at", "click_ledger_clicked")


def downgrade() -> None:
    _swap("click_ledger_clicked", "clicked_at", "click_ledger_received")
