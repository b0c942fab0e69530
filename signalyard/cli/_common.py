"""What every ``signalyard`` command shares: settings read once, the store opened for one
command, errors turned into clean messages.

Only ``serve`` and ``migrate`` create a database; every other command refuses a SQLite file
that does not exist (a command run from another directory would otherwise work on a new,
empty ``./signalyard.db``). Every error of a command that uses the store names the database.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from signalyard.errors import ConfigError, SignalyardError
from signalyard.runtime import make_store, migrate_schema
from signalyard.settings import Settings, load_settings
from signalyard.store import location
from signalyard.store.base import Destination, Store

T = TypeVar("T")


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), **overrides)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def database_name(settings: Settings) -> str:
    """The database as messages name it: a SQLite file's absolute path, a PostgreSQL URL
    without its password."""
    return location.describe(settings.database_url)


def require_database(settings: Settings) -> None:
    """Refuse a SQLite database that does not exist: only ``serve`` and ``migrate`` create
    one."""
    url = settings.database_url
    if url.startswith(location.SQLITE_PREFIX) and not os.path.exists(
        url[len(location.SQLITE_PREFIX) :]
    ):
        raise click.ClickException(
            f"no database at {database_name(settings)}: run `signalyard serve` or"
            " `signalyard migrate` to create it, or point to yours with --config or"
            " SIGNALYARD_DATABASE_URL"
        )


def _naming(settings: Settings, error: click.ClickException) -> click.ClickException:
    """``error`` with the database named (same exit code; a usage error stays one)."""
    where = database_name(settings)
    message = error.format_message()
    if where in message:
        return error
    message = f"{message} (database {where})"
    if isinstance(error, click.UsageError):
        return click.UsageError(message, error.ctx)
    return click.ClickException(message)


def with_store(
    settings: Settings, fn: Callable[[Store], Awaitable[T]], *, verify_key: bool = True
) -> T:
    """Open the store, run ``fn``, close it. Errors become one line naming the database.
    ``verify_key=False``: open it even when the operator key is not the database's (for
    ``destinations forget-secrets`` only)."""
    require_database(settings)

    async def run() -> T:
        store = make_store(settings, verify_key=verify_key)
        await store.open()
        try:
            return await fn(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except click.ClickException as error:
        raise _naming(settings, error) from None
    except SignalyardError as error:
        raise _naming(settings, click.ClickException(str(error))) from None
    except sqlite3.Error as error:
        raise click.ClickException(_store_failure(settings, error)) from None
    except Exception as error:
        if type(error).__module__.startswith("asyncpg"):
            raise click.ClickException(_store_failure(settings, error)) from None
        raise


def _store_failure(settings: Settings, error: Exception) -> str:
    url = settings.database_url
    if isinstance(error, sqlite3.Error) and url.startswith(location.SQLITE_PREFIX):
        return location.sqlite_problem(url[len(location.SQLITE_PREFIX) :], error)
    return f"the database {database_name(settings)} failed: {type(error).__name__}"


def ensure_schema(settings: Settings, *, create: bool = False) -> None:
    """Bring the schema up to date; ``create`` (``serve``, ``migrate``): create the database
    when it does not exist."""
    if not create:
        require_database(settings)
    try:
        migrate_schema(settings)
    except SignalyardError as error:
        raise _naming(settings, click.ClickException(str(error))) from None


def find_destination(destinations: list[Destination], name: str) -> Destination:
    """A destination by name or id; a clean error when none or several match."""
    matches = [d for d in destinations if d.name == name or str(d.id) == name]
    if not matches:
        raise click.ClickException(f"no destination {name}")
    if len(matches) > 1:
        raise click.ClickException(f"several destinations are named {name}: use the id")
    return matches[0]


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
