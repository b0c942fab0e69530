"""One SQL statement, either store: for the small reads and writes of features beside the
core contract (browser origins, consent views). Statements are written with ``?``
placeholders; PostgreSQL gets them as ``$1, $2...``. The SQL must be portable."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from signalyard.store._marks import pg
from signalyard.store.base import Store
from signalyard.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    import asyncpg

__all__ = ["execute", "execute_many", "fetch", "pg", "replace"]


def _pool(store: Store) -> asyncpg.Pool:
    from signalyard.store.postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        raise TypeError(f"unsupported store {type(store).__name__}")
    return store.pool


async def fetch(store: Store, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    if isinstance(store, SQLiteStore):
        return await store.run_job(lambda c: [tuple(r) for r in c.execute(sql, tuple(args))])
    return [tuple(r) for r in await _pool(store).fetch(pg(sql), *args)]


async def execute(store: Store, sql: str, args: Sequence[Any] = ()) -> int:
    """Run one statement in its own transaction; the number of rows it changed."""
    if isinstance(store, SQLiteStore):

        def job(conn: sqlite3.Connection) -> int:
            return int(conn.execute(sql, tuple(args)).rowcount)

        return await store.run_job(job)
    done = await _pool(store).execute(pg(sql), *args)
    return int(done.rsplit(" ", 1)[-1]) if done and done[-1].isdigit() else 0


async def execute_many(store: Store, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """One statement for each row, in one transaction."""
    if isinstance(store, SQLiteStore):

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany(sql, [tuple(r) for r in rows])

        await store.run_job(job)
        return
    async with _pool(store).acquire() as conn, conn.transaction():
        await conn.executemany(pg(sql), [tuple(r) for r in rows])


async def replace(
    store: Store,
    delete: str,
    delete_args: Sequence[Any],
    insert: str,
    rows: Sequence[Sequence[Any]],
) -> None:
    """``delete`` once, then ``insert`` for each row, in one transaction: what a reader sees
    is either the old rows or the new ones."""
    if isinstance(store, SQLiteStore):

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(delete, tuple(delete_args))
            conn.executemany(insert, [tuple(r) for r in rows])

        await store.run_job(job)
        return
    async with _pool(store).acquire() as conn, conn.transaction():
        await conn.execute(pg(delete), *delete_args)
        await conn.executemany(pg(insert), [tuple(r) for r in rows])
