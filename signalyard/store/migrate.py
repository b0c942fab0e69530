"""Versioned schema migrations (Alembic), shared by every backend."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

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
    command.upgrade(_config(sqlalchemy_url(database_url)), revision)
