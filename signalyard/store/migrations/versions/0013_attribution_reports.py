"""Attribution's reports kept: the day parts of the last run of each window profile, lens and
currency (:mod:`signalyard.attribution.snapshot`), so that the dashboard's report of a year
reads a few hundred small rows instead of crediting every order again; and the lease one
process takes to compute a report (others leave it to that process).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribution_reports",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("profile", sa.Text, primary_key=True),
        sa.Column("lens", sa.Text, primary_key=True),
        sa.Column("currency", sa.Text, primary_key=True),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("through", sa.Text, nullable=False),
        sa.Column("computed_at", sa.Float, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("orders", sa.BigInteger, nullable=False),
        sa.Column("shared_keys", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("asked_at", sa.Float),
    )
    op.create_table(
        "attribution_report_leases",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("profile", sa.Text, primary_key=True),
        sa.Column("currency", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("until", sa.Float, nullable=False),
    )
    # What a report in one currency was converted with changes when rates are imported:
    # the newest import of a base, read for every page view.
    op.create_index("attribution_rates_imported", "attribution_rates", ["base", "imported_at"])
    op.create_table(
        "attribution_report_days",
        sa.Column("dataset_id", sa.Text, primary_key=True),
        sa.Column("profile", sa.Text, primary_key=True),
        sa.Column("lens", sa.Text, primary_key=True),
        sa.Column("currency", sa.Text, primary_key=True),
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("part", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_index("attribution_rates_imported", "attribution_rates")
    op.drop_table("attribution_report_leases")
    op.drop_table("attribution_report_days")
    op.drop_table("attribution_reports")
