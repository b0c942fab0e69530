"""Versioned schema migrations (Alembic), shared by every backend.

A database that cannot be used (a missing directory, a read-only or corrupt SQLite file, an
unreachable PostgreSQL) is a :class:`~signalyard.errors.ConfigError` of one line naming the
database and the fix, not a driver's traceback. A SQLite file created here is private (0600).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.exc import DBAPIError

from signalyard.errors import ConfigError
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


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest)."""
    sqlite_file = None
    if database_url.startswith(location.SQLITE_PREFIX):
        sqlite_file = database_url[len(location.SQLITE_PREFIX) :]
        location.create_private(sqlite_file)
    try:
        command.upgrade(_config(sqlalchemy_url(database_url)), revision)
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
