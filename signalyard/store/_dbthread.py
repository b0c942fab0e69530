"""One thread that owns a SQLite connection and commits concurrent work together.

Callers submit jobs (functions of the connection) from the event loop. The thread takes every
job waiting, runs them in ONE transaction (each after the first in its own savepoint, so one
failing job does not undo the others; a first job that fails rolls back the transaction and
the others run in the next), commits, and only then resolves the callers' futures. With WAL and
``synchronous=FULL`` the commit is synced to disk, so many concurrent requests share one
fsync: group commit. The event loop never blocks on SQLite.

A commit that fails, or a job that fails because the database cannot be written (disk full,
read-only, I/O error), is kept as :attr:`DBThread.last_failure` until a later transaction that
changed something commits (a readiness probe makes one, :meth:`SQLiteStore.probe_write`). A
write lock held too long by another process (``SQLITE_BUSY``) fails that write only: it is not
kept.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from signalyard.errors import StoreClosed
from signalyard.store.base import CommitFailure
from signalyard.store.location import is_storage_error, sqlite_reason

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

log = logging.getLogger("signalyard.store")
_STOP = object()
MAX_JOBS_PER_COMMIT = 512


class DBThread:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        name: str = "signalyard-db",
        *,
        now: Callable[[], float] = time.time,
    ):
        self._connect = connect
        self._now = now
        self.last_failure: CommitFailure | None = None
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self._closed = False
        self.commits = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            ready: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
            self._jobs.put(ready)
            self._thread.start()
            error = ready.get()
            if error is not None:
                raise error

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed or not self._started:
            raise StoreClosed("the SQLite store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, future, loop))
        return await future

    def run_sync(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run a job from a thread that has no event loop (the CLI)."""
        if self._closed or not self._started:
            raise StoreClosed("the SQLite store is not open")
        done: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self._jobs.put((job, done, None))
        ok, value = done.get()
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def stop(self) -> None:
        """Finish the jobs already queued, then stop; later jobs raise ``StoreClosed``."""
        self._closed = True
        if self._started and self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join()
        while True:  # anything queued after the stop marker fails instead of hanging
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                _, target, loop = item
                error = StoreClosed("the SQLite store was closed")
                if loop is None:
                    target.put((False, error))
                else:
                    loop.call_soon_threadsafe(_resolve, target, False, error)

    def _run(self) -> None:
        ready = self._jobs.get()
        try:
            conn = self._connect()
        except BaseException as error:  # reported to start()
            ready.put(error)
            return
        ready.put(None)
        try:
            while True:
                first = self._jobs.get()
                if first is _STOP:
                    return
                batch = [first]
                stop = False
                while len(batch) < MAX_JOBS_PER_COMMIT:
                    try:
                        item = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                self._commit(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        storage_failed = False
        while batch:
            batch, failure = self._transaction(conn, batch, storage_failed)
            storage_failed = storage_failed or failure

    def _transaction(
        self, conn: sqlite3.Connection, batch: list[Any], storage_failed: bool
    ) -> tuple[list[Any], bool]:
        """Run ``batch`` in one transaction and resolve its callers; return the jobs left for
        another transaction, and whether a job failed because the database cannot be written.
        The first job runs without a savepoint: if it fails, the transaction, which holds
        nothing else yet, is rolled back and the others run in the next one. (A savepoint
        copies every page a job changes to the statement journal first: a tenth of an
        ingest's cost when its keys land on random pages.) A later job's failure that made
        SQLite roll back the whole transaction (a full disk) fails the jobs run in it; those
        not run yet take the next one. ``storage_failed``: an earlier transaction of the same
        batch failed so; a later one committing does not mean the store works again."""
        results: list[tuple[bool, Any]] = []
        failed: BaseException | None = None
        left: list[Any] = []
        try:
            changes = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            first, _, _ = batch[0]
            try:
                value = first(conn)
            except Exception as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                results.append((False, error))
                failed = error
                left, batch = batch[1:], batch[:1]
            else:
                if conn.in_transaction:
                    results.append((True, value))
                else:
                    results.append((False, _ended(first)))
                    left, batch = batch[1:], batch[:1]
                for index, (job, _, _) in enumerate(batch[1:], start=1):
                    conn.execute("SAVEPOINT job")
                    try:
                        value = job(conn)
                    except Exception as error:
                        if not conn.in_transaction:  # SQLite rolled everything back
                            results = [(False, error)] * (index + 1)
                            failed = error
                            left, batch = batch[index + 1 :], batch[: index + 1]
                            break
                        conn.execute("ROLLBACK TO job")
                        conn.execute("RELEASE job")
                        results.append((False, error))
                        if is_storage_error(error):
                            failed = error
                        continue
                    if not conn.in_transaction:
                        results.append((False, _ended(job)))
                        left, batch = batch[index + 1 :], batch[: index + 1]
                        break
                    conn.execute("RELEASE job")
                    results.append((True, value))
                if conn.in_transaction:
                    conn.execute("COMMIT")
                    self.commits += 1
                    wrote = conn.total_changes != changes
                    if failed is None and not storage_failed and wrote:
                        self.last_failure = None  # a write committed: the store works again
        except Exception as error:  # the commit itself failed: nothing is acknowledged
            if conn.in_transaction:
                conn.rollback()
            results = [(False, error)] * len(batch)
            failed = error
            left = []
        storage = failed is not None and is_storage_error(failed)
        if failed is not None and storage:
            self.last_failure = CommitFailure(self._now(), sqlite_reason(failed))
        for (_, target, loop), (ok, value) in zip(batch, results, strict=True):
            if loop is None:
                target.put((ok, value))
            else:
                loop.call_soon_threadsafe(_resolve, target, ok, value)
        return left, storage


def _ended(job: Job) -> RuntimeError:
    """The error a job that ended the group commit's transaction itself gets (jobs must not
    commit or roll back): a commit it made kept what the jobs before it wrote, and it is told
    so; the jobs after it run in the next transaction."""
    name = getattr(job, "__qualname__", repr(job))
    log.error("the store job %s ended the group commit's transaction", name)
    return RuntimeError(
        f"the store job {name} committed or rolled back the group commit's transaction:"
        " jobs must not; what it and the jobs before it wrote may be committed"
    )


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
