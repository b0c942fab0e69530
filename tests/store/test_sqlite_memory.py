"""SQLite's page cache, the largest fixed part of a process's memory, is a setting."""

from __future__ import annotations

import sqlite3

import pytest

from signalyard.errors import ConfigError
from signalyard.runtime import make_store
from signalyard.settings import load_settings
from signalyard.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


def _cache_size(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA cache_size").fetchone()[0])


@pytest.mark.parametrize(("environ", "kib"), [({}, 64 * 1024), ({"SQLITE_CACHE_MB": "8"}, 8192)])
async def test_page_cache_follows_the_setting(
    sqlite_url: str, environ: dict[str, str], kib: int
) -> None:
    env = {"SIGNALYARD_DATABASE_URL": sqlite_url}
    env.update({f"SIGNALYARD_{k}": v for k, v in environ.items()})
    store = make_store(load_settings(environ=env))
    assert isinstance(store, SQLiteStore)
    await store.open()
    try:
        assert await store.run_job(_cache_size) == -kib  # negative: KiB, not pages
    finally:
        await store.close()


def test_a_page_cache_under_one_megabyte_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="sqlite_cache_mb"):
        SQLiteStore(sqlite_url, cache_mb=0)
