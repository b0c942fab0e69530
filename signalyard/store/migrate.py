"""Versioned schema migrations (Alembic), shared by every backend.

A database that cannot be used (a missing directory, a read-only or corrupt SQLite file, an
unreachable PostgreSQL) is a :class:`~signalyard.errors.ConfigError` of one line naming the
database and the fix, not a driver's traceback. A SQLite file created here is private (0600).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import DBAPIError

from signalyard.errors import ConfigError
from signalyard.secret_box import SecretBox
from signalyard.store import location

_SCRIPTS = Path(__file__).parent / "migrations"


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def sqlalchemy_url(database_url: str) -> str:
    """Signalyard's ``sqlite:///path`` / ``postgresql://...`` URL as SQLAlchemy wants it."""
    if database_url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    return database_url


def upgrade(
    database_url: str,
    revision: str = "head",
    *,
    secret_box: SecretBox | Callable[[], SecretBox] | None = None,
) -> None:
    """Bring the schema to ``revision`` (default: the newest). ``secret_box``: the operator
    key (or how to get it), asked for only to encrypt the plaintext tokens of a database from
    before revision 0008."""
    sqlite_file = None
    if database_url.startswith(location.SQLITE_PREFIX):
        sqlite_file = database_url[len(location.SQLITE_PREFIX) :]
        location.create_private(sqlite_file)
    config = _config(sqlalchemy_url(database_url))
    config.attributes["secret_box"] = secret_box
    try:
        command.upgrade(config, revision)
        if config.attributes.get("secrets_encrypted"):
            _scrub(database_url, sqlite_file)
    except DBAPIError as error:
        raise ConfigError(_problem(database_url, sqlite_file, error.orig)) from None
    except OSError as error:  # PostgreSQL unreachable (asyncpg raises it unwrapped)
        raise ConfigError(
            f"cannot connect to PostgreSQL at {location.describe(database_url)}:"
            f" {error.strerror or type(error).__name__}"
        ) from None


def _problem(database_url: str, sqlite_file: str | None, error: BaseException | None) -> str:
    if sqlite_file is not None and isinstance(error, sqlite3.Error):
        return location.sqlite_problem(sqlite_file, error)
    detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    kind = detail or (type(error).__name__ if error is not None else "error")
    return (
        f"cannot migrate the database {location.describe(database_url)}: {kind}"
        " (check that the server is up, the database exists and the user may create tables)"
    )


def _scrub(database_url: str, sqlite_file: str | None) -> None:
    """After plaintext tokens were encrypted (0008): leave no copy of them in the files.
    SQLite overwrote the old rows with zeros (``secure_delete``); its write-ahead log, which
    may still hold them, is emptied. PostgreSQL rewrites the table, so the old row versions
    are not left in its data files."""
    if sqlite_file is not None:
        conn = sqlite3.connect(sqlite_file)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return

    async def vacuum() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("VACUUM FULL destinations")
        finally:
            await conn.close()

    asyncio.run(vacuum())
