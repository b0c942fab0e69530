"""Destination credentials become one encrypted ``secrets`` field.

- ``destinations.secrets``: the destination's secret fields (``{"access_token": ...}`` for
  Meta), sealed with the operator key (:mod:`signalyard.secret_box`); never plaintext.
- ``secret_key_check``: one row sealed with the operator key, so a process started with
  another key stops at once with a clear message instead of failing at its first delivery.
- The plaintext ``access_token`` and ``app_secret`` columns are encrypted into ``secrets``
  and dropped. Doing so needs the key: :func:`signalyard.store.migrate.upgrade` passes it as
  ``config.attributes["secret_box"]`` (``signalyard migrate`` and ``serve`` do). On SQLite
  the old rows' bytes are overwritten with zeros (``secure_delete``); on PostgreSQL the table
  is rewritten afterwards (``VACUUM FULL``, by ``migrate.upgrade``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from signalyard.errors import ConfigError
from signalyard.secret import Secret
from signalyard.secret_box import SecretBox

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _box() -> SecretBox | None:
    """The operator key ``migrate.upgrade`` was given (a box or a function making one)."""
    box = context.config.attributes.get("secret_box")
    if callable(box):
        box = box()
    return box if isinstance(box, SecretBox) else None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete=ON")
    op.create_table(
        "secret_key_check",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("check_text", sa.Text, nullable=False),
    )
    with op.batch_alter_table("destinations") as batch:
        batch.add_column(sa.Column("secrets", sa.Text))
    rows = bind.execute(sa.text("SELECT id, access_token, app_secret FROM destinations")).all()
    if rows:
        box = _box()
        if box is None:
            raise ConfigError(
                "this database's destination tokens must be encrypted with the secret key:"
                " run `signalyard migrate` (with the same settings as `serve`)"
            )
        for row_id, token, app_secret in rows:
            secrets = {"access_token": Secret(token or "")}
            if app_secret:
                secrets["app_secret"] = Secret(app_secret)
            bind.execute(
                sa.text(
                    "UPDATE destinations SET secrets=:s, access_token='', app_secret=NULL"
                    " WHERE id=:id"
                ),
                {"s": box.seal(secrets), "id": row_id},
            )
        bind.execute(
            sa.text("INSERT INTO secret_key_check(id, check_text) VALUES (1, :c)"),
            {"c": box.check_text()},
        )
        context.config.attributes["secrets_encrypted"] = len(rows)
    with op.batch_alter_table("destinations") as batch:
        batch.drop_column("app_secret")
        batch.drop_column("access_token")


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("destinations") as batch:
        batch.add_column(sa.Column("access_token", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("app_secret", sa.Text))
    rows = bind.execute(
        sa.text("SELECT id, secrets FROM destinations WHERE secrets IS NOT NULL")
    ).all()
    box = _box()
    if rows and box is None:
        raise ConfigError("downgrading needs the secret key to decrypt destination secrets")
    for row_id, sealed in rows:
        assert box is not None
        secrets = box.open(sealed)
        app_secret = secrets.get("app_secret")
        bind.execute(
            sa.text("UPDATE destinations SET access_token=:t, app_secret=:a WHERE id=:id"),
            {
                "t": secrets.get("access_token", Secret("")).reveal(),
                "a": app_secret.reveal() if app_secret else None,
                "id": row_id,
            },
        )
    with op.batch_alter_table("destinations") as batch:
        batch.drop_column("secrets")
    op.drop_table("secret_key_check")
