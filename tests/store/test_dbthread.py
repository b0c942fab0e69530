"""The SQLite store's group commit (``signalyard.store._dbthread``): jobs waiting together
share one transaction; the first runs without a savepoint, the others each in one; a failing
job undoes only its own writes and fails only its own caller."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from signalyard.store import migrate
from signalyard.store._dbthread import DBThread
from signalyard.store.sqlite import WAL_AUTOCHECKPOINT_PAGES, SQLiteStore, _connect

pytestmark = pytest.mark.anyio


def _thread(path: Path) -> DBThread:
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("CREATE TABLE IF NOT EXISTS t (name TEXT PRIMARY KEY)")
        return conn

    db = DBThread(connect)
    db.start()
    return db


def _insert(name: str) -> Callable[[sqlite3.Connection], str]:
    def job(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO t(name) VALUES (?)", (name,))
        return name

    return job


def _insert_then_fail(name: str) -> Callable[[sqlite3.Connection], str]:
    def job(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO t(name) VALUES (?)", (name,))
        raise ValueError(f"{name} failed after writing")

    return job


async def _together(
    run: Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]],
    calls: list[Coroutine[Any, Any, Any]],
) -> list[Any]:
    """Run ``calls`` (each submitting one job through ``run``'s thread) as one batch: the
    thread is held by a job until all are queued. Their results, exceptions included."""
    release = threading.Event()
    started = threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)

    holder = asyncio.ensure_future(run(hold))
    await asyncio.to_thread(started.wait, 10)
    tasks = [asyncio.ensure_future(call) for call in calls]
    await asyncio.sleep(0.05)  # every job is queued behind the holder
    release.set()
    await holder
    return await asyncio.gather(*tasks, return_exceptions=True)


async def _one_batch(db: DBThread, jobs: list[Callable[[sqlite3.Connection], Any]]) -> list[Any]:
    return await _together(db.run, [db.run(job) for job in jobs])


def _names(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM t ORDER BY name")]


@pytest.mark.parametrize("failing", [0, 1, 2])
async def test_a_failing_job_undoes_only_its_own_writes(tmp_path: Path, failing: int) -> None:
    path = tmp_path / "g.db"
    db = _thread(path)
    try:
        commits = db.commits
        jobs = [_insert(n) for n in ("a", "b", "c")]
        jobs[failing] = _insert_then_fail("abc"[failing])
        results = await _one_batch(db, jobs)
        for i, result in enumerate(results):
            if i == failing:
                assert isinstance(result, ValueError)
            else:
                assert result == "abc"[i]
        assert _names(path) == [n for i, n in enumerate("abc") if i != failing]
        # the holder's commit, then one for the rest (a first job that fails rolls its
        # transaction back: the others share the next one)
        assert db.commits - commits == 2
    finally:
        db.stop()


async def test_jobs_after_a_failing_first_one_keep_their_savepoints(tmp_path: Path) -> None:
    """The first job fails (no savepoint: its transaction is rolled back); in the next
    transaction the second is first, and the third still fails alone."""
    path = tmp_path / "g.db"
    db = _thread(path)
    try:
        results = await _one_batch(
            db, [_insert_then_fail("a"), _insert("b"), _insert_then_fail("c"), _insert("d")]
        )
        assert [type(r).__name__ for r in results] == ["ValueError", "str", "ValueError", "str"]
        assert _names(path) == ["b", "d"]
    finally:
        db.stop()


async def test_a_duplicate_key_fails_its_job_alone(tmp_path: Path) -> None:
    """A job that fails inside SQLite (a constraint) as the first of its transaction."""
    path = tmp_path / "g.db"
    db = _thread(path)
    try:
        await db.run(_insert("a"))
        results = await _one_batch(db, [_insert("a"), _insert("b")])
        assert isinstance(results[0], sqlite3.IntegrityError) and results[1] == "b"
        assert _names(path) == ["a", "b"]
    finally:
        db.stop()


async def test_the_store_checkpoints_the_log_every_ten_thousand_pages(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate.upgrade(url)
    conn = _connect(str(tmp_path / "s.db"), 8)()
    try:
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_AUTOCHECKPOINT_PAGES
        assert conn.execute("PRAGMA journal_size_limit").fetchone()[0] == 64 * 1024 * 1024
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "click_ledger_browser" not in indexes  # migration 0014: nothing reads it
        # migration 0016: retention reads the click ledger by its (growing) receipt time
        assert "click_ledger_received" in indexes and "click_ledger_clicked" not in indexes
    finally:
        conn.close()
    store = SQLiteStore(url)
    await store.open()
    await store.close()


def _event(i: int) -> Any:
    from signalyard.event import AcceptedEvent

    return AcceptedEvent(
        "px1", "Purchase", f"id-{i}", 1_800_000_000, {"event_name": "Purchase", "n": i}
    )


async def _store_with_destination(tmp_path: Path) -> SQLiteStore:
    from signalyard.secret import Secret

    url = f"sqlite:///{tmp_path / 'k.db'}"
    migrate.upgrade(url)
    store = SQLiteStore(url)
    await store.open()
    await store.add_dataset("px1", name="p", default_country=None, now=1.0)
    await store.add_destination(
        "px1",
        name="m",
        kind="meta",
        options={"pixel_id": "px1"},
        secrets={"access_token": Secret("t")},
        now=1.0,
    )
    return store


async def test_each_stored_event_is_linked_to_its_own_row(tmp_path: Path) -> None:
    """Events are stored in one statement and their keys worked out from the last one: every
    outbox row and click points at the event it was made for, duplicates skipped between."""
    store = await _store_with_destination(tmp_path)
    try:
        assert await store.ingest([_event(1), _event(2)], now=2.0) == [True, True]
        assert await store.ingest(
            [_event(3), _event(1), _event(4), _event(2), _event(5)], now=3.0
        ) == [True, False, True, False, True]

        def rows(conn: sqlite3.Connection) -> list[tuple[str, int]]:
            return conn.execute(
                "SELECT e.event_id, json_extract(e.payload, '$.n') FROM outbox o"
                " JOIN events e ON e.pk = o.event_pk ORDER BY o.id"
            ).fetchall()

        linked = await store.run_job(rows)
        assert linked == [(f"id-{n}", n) for n in (1, 2, 3, 4, 5)]
    finally:
        await store.close()


async def _full_store(tmp_path: Path) -> SQLiteStore:
    """A store whose database may grow by five pages only: a big ingest fails on a full
    disk, a small write still fits."""
    url = f"sqlite:///{tmp_path / 'full.db'}"
    migrate.upgrade(url)
    store = SQLiteStore(url)
    await store.open()
    await store.add_dataset("px1", name="p", default_country=None, now=1.0)

    def cap(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={pages + 5}")

    await store.run_job(cap)
    return store


def _big_events() -> list[Any]:
    from signalyard.event import AcceptedEvent

    return [
        AcceptedEvent(
            "px1", "Purchase", f"id-{i}", 1_800_000_000, {"event_name": "Purchase", "p": "x" * 2000}
        )
        for i in range(500)
    ]


def _rename(conn: sqlite3.Connection) -> int:
    return int(conn.execute("UPDATE datasets SET name = name || '.'").rowcount)


@pytest.mark.parametrize("big_first", [True, False])
async def test_a_full_disk_is_kept_whatever_commits_beside_it(
    tmp_path: Path, big_first: bool
) -> None:
    """A 1000-event ingest fails on a full disk in the same batch as small writes that fit:
    the failure is kept (the gateway says it is not ready) and named as a full disk, whether
    the ingest was the batch's first job (rolled back on its own, the small writes committed
    in the next transaction) or a later one (SQLite rolled the whole transaction back: the
    jobs run in it fail with it, those not run yet are committed in the next)."""
    store = await _full_store(tmp_path)
    try:
        big = store.ingest(_big_events(), now=2.0)
        small = [store.run_job(_rename), store.run_job(_rename)]
        order = [big, *small] if big_first else [small[0], big, small[1]]
        results = await _together(store.run_job, order)
        ingest_result = results[0] if big_first else results[1]
        assert isinstance(ingest_result, sqlite3.OperationalError)
        assert "full" in str(ingest_result)
        if big_first:
            assert results[1:] == [1, 1]  # the small writes committed after it
        else:
            # the first small write ran in the rolled back transaction: it failed with it;
            # the one not run yet committed in the next
            assert isinstance(results[0], sqlite3.OperationalError) and results[2] == 1
        failure = store.last_commit_failure
        assert failure is not None and "full" in failure.reason
        assert await store.event_count("px1") == 0
    finally:
        await store.close()


def _insert_and_commit(name: str) -> Callable[[sqlite3.Connection], str]:
    def job(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO t(name) VALUES (?)", (name,))
        conn.execute("COMMIT")  # what a job must not do
        return name

    return job


@pytest.mark.parametrize("position", [0, 1])
async def test_a_job_that_ends_the_transaction_is_told_so(tmp_path: Path, position: int) -> None:
    """Jobs must not commit: one that does gets an error naming the misuse; the jobs before
    it were committed by it and are told so; the jobs after it run in the next
    transaction."""
    path = tmp_path / "g.db"
    db = _thread(path)
    try:
        jobs = [_insert("a"), _insert("c")]
        jobs.insert(position, _insert_and_commit("b"))
        results = await _one_batch(db, jobs)
        assert isinstance(results[position], RuntimeError)
        assert "jobs must not" in str(results[position])
        assert [r for i, r in enumerate(results) if i != position] == ["a", "c"]
        assert _names(path) == ["a", "b", "c"]
        assert await db.run(_insert("d")) == "d"  # the connection is usable afterwards
    finally:
        db.stop()


async def test_a_database_whose_keys_already_started_again_numbers_after_kept_ones(
    tmp_path: Path,
) -> None:
    """Migration 0015 on a database where retention had already deleted every event: the
    keys attribution and the click ledger still hold are the floor new events start after."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0014")
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute(
            "INSERT INTO attribution_cursor(dataset_id, last_pk, synced_at) VALUES ('px1', 500, 1)"
        )
        conn.execute(
            "INSERT INTO click_ledger(dataset_id, kind, click_id, clicked_at, browser,"
            " event_pk, received_at) VALUES ('px1', 'gclid', 'g', 1, NULL, 700, 1)"
        )
        conn.execute(
            "INSERT INTO consent_holds(dataset_id, subject, event_pk) VALUES ('px1', 's', 900)"
        )
    migrate.upgrade(url)
    store = SQLiteStore(url)
    await store.open()
    try:
        await store.add_dataset("px1", name="p", default_country=None, now=1.0)
        await store.ingest([_event(1)], now=2.0)
        stored = await store.attribution_events("px1", after_pk=500, limit=5)
        assert [e.pk for e in stored] == [901]
    finally:
        await store.close()
