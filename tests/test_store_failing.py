"""A store whose writes fail while its reads work (a full disk, a read-only file) is reported:
``/readyz`` answers 503 with a short reason and ``signalyard_store_up`` reads 0, until a write
commits again."""

from __future__ import annotations

import sqlite3

import pytest

from signalyard.event import AcceptedEvent
from signalyard.store.base import CommitFailure
from signalyard.store.postgres import PostgresStore
from signalyard.store.sqlite import SQLiteStore
from tests.sources.conftest import EMAIL, purchase
from tests.test_metrics import rig

pytestmark = pytest.mark.anyio


def _disk_full(conn: sqlite3.Connection) -> None:
    """The database may not grow past its size: SQLite fails writes with SQLITE_FULL, as on a
    full disk, while reads work."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")


def _space_again(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA max_page_count=1073741823")


async def test_failing_commits_make_the_gateway_unready_until_one_succeeds(
    sqlite_url: str,
) -> None:
    async with rig(sqlite_url) as r:
        assert (await r.send([purchase(r.clock.now(), "before")])).status_code == 200
        assert (await r.client.get("/readyz")).status_code == 200
        assert (await r.scrape()).value("signalyard_store_up") == 1
        assert r.store.last_commit_failure is None

        await r.store.run_job(_disk_full)
        sent = 1
        for i in range(200):  # the free space left in the last pages runs out
            answer = await r.send([purchase(r.clock.now(), f"filling-{i}")])
            if answer.status_code >= 500:
                break
            assert answer.status_code == 200
            sent += 1
        else:
            raise AssertionError("the database never filled up")
        for i in range(3):  # every write fails now
            assert (await r.send([purchase(r.clock.now(), f"lost-{i}")])).status_code >= 500
        assert await r.store.list_datasets()  # reads still work
        ready = await r.client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "store failing"
        assert body["reason"] == "the last commit failed: the disk is full (SQLITE_FULL)"
        assert isinstance(body["since"], float)
        assert EMAIL not in ready.text and "INSERT" not in ready.text.upper()
        m = await r.scrape()
        assert m.value("signalyard_store_up") == 0
        assert (await r.client.get("/healthz")).status_code == 200  # alive, not ready
        assert (await r.client.get("/readyz")).status_code == 503  # reads do not clear it

        await r.store.run_job(_space_again)
        assert (await r.send([purchase(r.clock.now(), "after")])).status_code == 200
        assert r.store.last_commit_failure is None
        assert (await r.client.get("/readyz")).json() == {"status": "ready"}
        assert (await r.scrape()).value("signalyard_store_up") == 1
        assert await r.store.event_count() == sent + 1


async def test_a_failing_commit_is_kept_with_its_time(sqlite_url: str) -> None:
    store = SQLiteStore(sqlite_url)
    await store.open()
    try:
        await store.run_job(_disk_full)
        with pytest.raises(sqlite3.OperationalError):
            for i in range(1000):
                await store.add_dataset(str(i), name="x" * 1000, default_country=None, now=1.0)
        failure = store.last_commit_failure
        assert isinstance(failure, CommitFailure) and failure.at > 0
        await store.list_datasets()  # a read commits nothing: still failing
        assert store.last_commit_failure == failure
        await store.run_job(_space_again)
        await store.add_dataset("last", name="x", default_country=None, now=1.0)
        assert store.last_commit_failure is None
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_keeps_the_last_failed_group_commit(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    try:
        now = 1_900_000_000.0
        await store.add_dataset("1234567890", name="x", default_country=None, now=now)
        async with store.pool.acquire() as conn:
            await conn.execute("ALTER TABLE events ADD CONSTRAINT sy_test_fail CHECK (false)")
        event = AcceptedEvent(
            "1234567890", "Purchase", "pg-1", int(now), {"event_name": "Purchase"}
        )
        try:
            with pytest.raises(Exception):  # noqa: B017 - the driver's error
                await store.ingest([event], now=now)
            failure = store.last_commit_failure
            assert failure is not None
            assert failure.reason == "CheckViolationError (SQLSTATE 23514)"
        finally:
            async with store.pool.acquire() as conn:
                await conn.execute("ALTER TABLE events DROP CONSTRAINT sy_test_fail")
        await store.ingest([event], now=now)
        assert store.last_commit_failure is None
    finally:
        await store.close()
