"""One thread that owns a SQLite connection and commits concurrent work together.

Callers submit jobs (functions of the connection) from the event loop. The thread takes every
job waiting, runs them in ONE transaction (each in its own savepoint, so one failing job does
not undo the others), commits, and only then resolves the callers' futures. With WAL and
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
        results: list[tuple[bool, Any]] = []
        failed: BaseException | None = None
        try:
            changes = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            for job, _, _ in batch:
                conn.execute("SAVEPOINT job")
                try:
                    results.append((True, job(conn)))
                    conn.execute("RELEASE job")
                except Exception as error:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((False, error))
                    if is_storage_error(error):
                        failed = error
            conn.execute("COMMIT")
            self.commits += 1
            if failed is None and conn.total_changes != changes:
                self.last_failure = None  # a write committed: the store works again
        except Exception as error:  # the commit itself failed: nothing is acknowledged
            if conn.in_transaction:
                conn.rollback()
            results = [(False, error)] * len(batch)
            failed = error
        if failed is not None and is_storage_error(failed):
            self.last_failure = CommitFailure(self._now(), sqlite_reason(failed))
        for (_, target, loop), (ok, value) in zip(batch, results, strict=True):
            if loop is None:
                target.put((ok, value))
            else:
                loop.call_soon_threadsafe(_resolve, target, ok, value)


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
