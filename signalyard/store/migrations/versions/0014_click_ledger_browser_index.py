"""The click ledger's index by browser is dropped: nothing reads the ledger by browser (the
attribution sync reads a click by its id, retention by its time), and keeping it cost ingest a
write on a random page for every click of every event from a browser.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("click_ledger_browser", "click_ledger")


def downgrade() -> None:
    op.create_index("click_ledger_browser", "click_ledger", ["dataset_id", "browser"])
