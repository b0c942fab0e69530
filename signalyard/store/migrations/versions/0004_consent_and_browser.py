"""Consent decisions on the outbox, held events, the browser source's allowed origins, and
the click ledger.

- ``outbox.consent_action`` / ``consent_reason``: what the destination's consent policy decided
  for the event (``full``, ``ldu``, ``no_pii``, ``hold``, ``drop``) and why. Two new outbox
  states: ``held`` (waiting for consent) and ``dropped`` (not to be sent).
- ``consent_holds``: the held events of a consent subject (the browser's fbp, hashed), so that
  consent arriving later releases them.
- ``consent_subjects``: the last consent given for a subject (granted or denied), so that a
  pending or unstated event arriving after it is decided with it.
- ``browser_sources``: per dataset, the origins whose pages may send to ``/collect``.
- ``click_ledger``: every ad click id seen, with its click time, once per dataset.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("consent_action", sa.Text))
        batch.add_column(sa.Column("consent_reason", sa.Text))
    op.create_index(
        "outbox_held",
        "outbox",
        ["destination_id", "event_pk"],
        sqlite_where=sa.text("status = 'held'"),
        postgresql_where=sa.text("status = 'held'"),
    )
    op.create_index(
        "outbox_dropped",
        "outbox",
        ["settled_at"],
        sqlite_where=sa.text("status = 'dropped'"),
        postgresql_where=sa.text("status = 'dropped'"),
    )
    op.create_table(
        "consent_holds",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("event_pk", sa.BigInteger, primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_index("consent_holds_event", "consent_holds", ["event_pk"])
    op.create_table(
        "consent_subjects",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "browser_sources",
        sa.Column("dataset_id", sa.Text, sa.ForeignKey("datasets.id"), primary_key=True),
        sa.Column("allowed_origins", sa.Text, nullable=False, server_default="[]"),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "click_ledger",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("click_id", sa.Text, primary_key=True),
        sa.Column("clicked_at", sa.Float, nullable=False),
        sa.Column("browser", sa.Text),
        sa.Column("event_pk", sa.BigInteger),
        sa.Column("received_at", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("click_ledger_browser", "click_ledger", ["dataset_id", "browser"])
    op.create_index("click_ledger_clicked", "click_ledger", ["clicked_at"])


def downgrade() -> None:
    op.drop_index("click_ledger_clicked", "click_ledger")
    op.drop_index("click_ledger_browser", "click_ledger")
    op.drop_table("click_ledger")
    op.drop_table("browser_sources")
    op.drop_table("consent_subjects")
    op.drop_index("consent_holds_event", "consent_holds")
    op.drop_table("consent_holds")
    op.drop_index("outbox_dropped", "outbox")
    op.drop_index("outbox_held", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("consent_reason")
        batch.drop_column("consent_action")
