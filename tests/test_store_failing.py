"""A store whose writes fail while its reads work (a full disk, a read-only file) is reported:
``/readyz`` answers 503 with a short reason and ``signalyard_store_up`` reads 0, until a write
commits again. While a failure is kept, ``/readyz`` commits a small write now and then to
find out (a process out of rotation gets no other); a busy write lock is no failure."""

from __future__ import annotations

import os
import sqlite3

import pytest

from signalyard.app import READY_PROBE_SECONDS
from signalyard.event import AcceptedEvent
from signalyard.store.base import CommitFailure
from signalyard.store.postgres import PostgresStore
from signalyard.store.sqlite import SQLiteStore
from tests.sources.conftest import EMAIL, purchase
from tests.test_metrics import Rig, rig

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


async def _fill_up(r: Rig) -> None:
    """Fill the database until ingest fails."""
    await r.store.run_job(_disk_full)
    for i in range(200):  # the free space left in the last pages runs out
        answer = await r.send([purchase(r.clock.now(), f"filling-{i}")])
        if answer.status_code >= 500:
            return
    raise AssertionError("the database never filled up")


async def test_readiness_comes_back_by_itself_once_writes_work_again(sqlite_url: str) -> None:
    """A process that gets no writes (taken out of rotation for being unready) finds out on
    its own: ``/readyz`` commits one small write now and then while a failure is kept."""
    async with rig(sqlite_url) as r:
        await _fill_up(r)
        stored = await r.store.event_count()
        assert (await r.client.get("/readyz")).status_code == 503
        r.clock.advance(READY_PROBE_SECONDS)
        # The probe's own write would fit in the space a full database holds: the database
        # must have room to grow too. Still full, still unready.
        ready = await r.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"] == "the last commit failed: the disk is full (SQLITE_FULL)"

        await r.store.run_job(_space_again)  # and then no ingest arrives
        assert (await r.client.get("/readyz")).status_code == 503  # probed a moment ago
        r.clock.advance(READY_PROBE_SECONDS)
        assert (await r.client.get("/readyz")).json() == {"status": "ready"}
        assert r.store.last_commit_failure is None
        assert (await r.scrape()).value("signalyard_store_up") == 1
        assert await r.store.event_count() == stored  # nothing was ingested meanwhile


async def test_a_busy_write_lock_is_not_a_storage_failure(sqlite_url: str) -> None:
    """Another process holding the write lock fails the writes that wait too long for it
    (``SQLITE_BUSY``); the database works, and readiness does not say otherwise once the
    lock is released."""
    async with rig(sqlite_url) as r:

        def impatient(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA busy_timeout=0")

        await r.store.run_job(impatient)
        other = sqlite3.connect(r.store.path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process writes, slowly
            assert (await r.send([purchase(r.clock.now(), "waited")])).status_code >= 500
            assert r.store.last_commit_failure is None
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert (await r.client.get("/readyz")).json() == {"status": "ready"}
        assert (await r.scrape()).value("signalyard_store_up") == 1


@pytest.mark.postgres
async def test_postgres_probe_write_clears_or_records_the_failure(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
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
            assert store.last_commit_failure is not None
        finally:
            async with store.pool.acquire() as conn:
                await conn.execute("ALTER TABLE events DROP CONSTRAINT sy_test_fail")
        assert await store.probe_write()  # no ingest needed
        assert store.last_commit_failure is None

        async with store.pool.acquire() as conn:  # writes fail: the probe says so
            await conn.execute(
                "ALTER TABLE alembic_version ADD CONSTRAINT sy_probe_fail CHECK (false) NOT VALID"
            )
        try:
            assert not await store.probe_write()
            failure = store.last_commit_failure
            assert failure is not None
            assert failure.reason == "CheckViolationError (SQLSTATE 23514)"
        finally:
            async with store.pool.acquire() as conn:
                await conn.execute("ALTER TABLE alembic_version DROP CONSTRAINT sy_probe_fail")
        assert await store.probe_write()

        # A lock another session holds too long fails the probe, but is no storage failure.
        monkeypatch.setattr(store, "PROBE_LOCK_TIMEOUT_MS", 50)
        async with store.pool.acquire() as other, other.transaction():
            await other.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            assert not await store.probe_write()
            assert store.last_commit_failure is None
    finally:
        await store.close()


async def test_the_sqlite_probe_wants_room_on_the_disk_too(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(sqlite_url)
    await store.open()
    try:
        await store.run_job(_disk_full)
        with pytest.raises(sqlite3.OperationalError):
            for i in range(1000):
                await store.add_dataset(str(i), name="x" * 1000, default_country=None, now=1.0)
        failure = store.last_commit_failure
        assert failure is not None
        assert not await store.probe_write()  # the database may not grow
        await store.run_job(_space_again)
        real = os.statvfs

        def full_disk(path: str) -> os.statvfs_result:
            s = real(path)
            return os.statvfs_result((s.f_bsize, s.f_frsize, s.f_blocks, 0, 0, *s[5:]))

        monkeypatch.setattr(os, "statvfs", full_disk)
        assert not await store.probe_write()  # ... and now its disk is full
        assert store.last_commit_failure == failure
        monkeypatch.setattr(os, "statvfs", real)
        assert await store.probe_write()
        assert store.last_commit_failure is None
    finally:
        await store.close()
