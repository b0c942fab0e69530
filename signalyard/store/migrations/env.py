"""Alembic environment: runs Signalyard's versioned migrations on SQLite or PostgreSQL.

The URL comes from the Alembic config (set by :func:`signalyard.store.migrate.upgrade`).
PostgreSQL is reached through asyncpg, the driver the store itself uses.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, create_engine, pool
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config
_url = config.get_main_option("sqlalchemy.url")
assert _url, "sqlalchemy.url must be set"
url: str = _url


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run)
        await connection.commit()
    await engine.dispose()


if "+asyncpg" in url:
    asyncio.run(run_async())
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
