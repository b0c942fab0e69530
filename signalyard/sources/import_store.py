"""The import ledger: one row per import in the ``imports`` table (migration 0003), so that an
interrupted import resumes after its last committed batch and a finished one is not run again.

An import's id is derived from the dataset, the file's content and the mapping
(:func:`import_id`). ``rows_done`` counts the rows (records, not lines) handled by committed
batches: ``rows_ok`` stored, ``rows_failed`` refused by the pipeline, the rest duplicates.
The ledger is advanced after the batch's events are committed; a crash in between makes the
next run handle that batch again, and the store's dedup key absorbs it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from signalyard.errors import ConfigError
from signalyard.event import AcceptedEvent
from signalyard.insights.recorder import StatsRecorder
from signalyard.store.base import Store
from signalyard.store.sqlite import SQLiteStore

__all__ = ["BatchWriter", "ImportRecord", "ImportResult", "Ledger", "import_id", "ledger_for"]

_COLUMNS = (
    "id, dataset_id, file_name, rows_total, rows_done, rows_ok, rows_failed, started_at,"
    " finished_at"
)

_RESET = "rows_total=0, rows_done=0, rows_ok=0, rows_failed=0, started_at=?, finished_at=NULL"


@dataclass(frozen=True, slots=True)
class ImportRecord:
    id: str
    dataset_id: str
    file_name: str
    rows_total: int
    rows_done: int
    rows_ok: int
    rows_failed: int
    started_at: float
    finished_at: float | None

    @property
    def rows_duplicate(self) -> int:
        return self.rows_done - self.rows_ok - self.rows_failed


def import_id(dataset_id: str, content_sha256: str, mapping: bytes) -> str:
    """The id of importing a file (by its content hash) into a dataset with a mapping."""
    h = hashlib.sha256()
    for part in (dataset_id.encode(), content_sha256.encode(), mapping):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


class Ledger(Protocol):
    async def begin(
        self, import_id: str, *, dataset_id: str, file_name: str, now: float
    ) -> ImportRecord:
        """The import's record, created (nothing done yet) if it is new."""
        ...

    async def advance(self, import_id: str, *, done: int, ok: int, failed: int) -> None:
        """Record the totals after a committed batch (never moves backwards)."""
        ...

    async def finish(self, import_id: str, *, total: int, now: float) -> None: ...

    async def reset(self, import_id: str, *, now: float) -> ImportRecord:
        """Start the import over: nothing done, not finished (``--restart``)."""
        ...

    async def get(self, import_id: str) -> ImportRecord | None: ...


def _record(row: Any) -> ImportRecord:
    return ImportRecord(*row)


class _SQLiteLedger:
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def begin(
        self, import_id: str, *, dataset_id: str, file_name: str, now: float
    ) -> ImportRecord:
        def job(conn: sqlite3.Connection) -> ImportRecord:
            conn.execute(
                "INSERT INTO imports(id, dataset_id, file_name, started_at) VALUES (?,?,?,?)"
                " ON CONFLICT(id) DO NOTHING",
                (import_id, dataset_id, file_name, now),
            )
            row = conn.execute(f"SELECT {_COLUMNS} FROM imports WHERE id=?", (import_id,))
            return _record(row.fetchone())

        return await self._store.run_job(job)

    async def advance(self, import_id: str, *, done: int, ok: int, failed: int) -> None:
        await self._store.run_job(
            lambda c: c.execute(
                "UPDATE imports SET rows_done=?, rows_ok=?, rows_failed=?"
                " WHERE id=? AND rows_done<?",
                (done, ok, failed, import_id, done),
            )
        )

    async def finish(self, import_id: str, *, total: int, now: float) -> None:
        await self._store.run_job(
            lambda c: c.execute(
                "UPDATE imports SET rows_total=?, finished_at=? WHERE id=?",
                (total, now, import_id),
            )
        )

    async def reset(self, import_id: str, *, now: float) -> ImportRecord:
        def job(conn: sqlite3.Connection) -> ImportRecord:
            row = conn.execute(
                f"UPDATE imports SET {_RESET} WHERE id=? RETURNING {_COLUMNS}", (now, import_id)
            )
            return _record(row.fetchone())

        return await self._store.run_job(job)

    async def get(self, import_id: str) -> ImportRecord | None:
        def job(conn: sqlite3.Connection) -> ImportRecord | None:
            row = conn.execute(f"SELECT {_COLUMNS} FROM imports WHERE id=?", (import_id,))
            found = row.fetchone()
            return _record(found) if found else None

        return await self._store.run_job(job)


class _PostgresLedger:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def begin(
        self, import_id: str, *, dataset_id: str, file_name: str, now: float
    ) -> ImportRecord:
        await self._pool.execute(
            "INSERT INTO imports(id, dataset_id, file_name, started_at) VALUES ($1,$2,$3,$4)"
            " ON CONFLICT (id) DO NOTHING",
            import_id,
            dataset_id,
            file_name,
            now,
        )
        found = await self.get(import_id)
        assert found is not None
        return found

    async def advance(self, import_id: str, *, done: int, ok: int, failed: int) -> None:
        await self._pool.execute(
            "UPDATE imports SET rows_done=$2, rows_ok=$3, rows_failed=$4"
            " WHERE id=$1 AND rows_done<$2",
            import_id,
            done,
            ok,
            failed,
        )

    async def finish(self, import_id: str, *, total: int, now: float) -> None:
        await self._pool.execute(
            "UPDATE imports SET rows_total=$2, finished_at=$3 WHERE id=$1", import_id, total, now
        )

    async def reset(self, import_id: str, *, now: float) -> ImportRecord:
        row = await self._pool.fetchrow(
            f"UPDATE imports SET {_RESET.replace('?', '$1')} WHERE id=$2 RETURNING {_COLUMNS}",
            now,
            import_id,
        )
        return _record(tuple(row))

    async def get(self, import_id: str) -> ImportRecord | None:
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM imports WHERE id=$1", import_id)
        return _record(tuple(row)) if row is not None else None


@dataclass(frozen=True, slots=True)
class ImportResult:
    before: ImportRecord
    """The ledger when this run began (``rows_done`` > 0: it resumed)."""
    record: ImportRecord
    """The ledger after this run: totals over every run of this import."""
    already_done: bool
    """The import had finished before: nothing was read nor sent."""
    finished: bool
    """The file was read to its end (not stopped by ``max_rows``)."""
    warnings: int
    seconds: float

    @property
    def read(self) -> int:
        return self.record.rows_done - self.before.rows_done

    @property
    def stored(self) -> int:
        return self.record.rows_ok - self.before.rows_ok

    @property
    def failed(self) -> int:
        return self.record.rows_failed - self.before.rows_failed

    @property
    def duplicates(self) -> int:
        return self.read - self.stored - self.failed


class BatchWriter:
    """Commits an import's cleaned batches to the store, then records them in the ledger."""

    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        record: ImportRecord,
        recorder: StatsRecorder | None = None,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.record = record
        self.recorder = recorder

    async def commit(self, rows: int, accepted: Sequence[AcceptedEvent], now: float) -> None:
        """Store the events of a batch of ``rows`` rows durably (those not ``accepted``
        failed), then advance the ledger."""
        flags = await self.store.ingest(accepted, now=now) if accepted else []
        stored = sum(flags)
        if self.recorder is not None:
            if accepted:
                self.recorder.ingested(
                    accepted, flags, [e.id_generated for e in accepted], source="import", now=now
                )
            if self.recorder.pending():
                await self.recorder.flush()
        r = self.record
        self.record = r = replace(
            r,
            rows_done=r.rows_done + rows,
            rows_ok=r.rows_ok + stored,
            rows_failed=r.rows_failed + rows - len(accepted),
        )
        await self.ledger.advance(r.id, done=r.rows_done, ok=r.rows_ok, failed=r.rows_failed)

    async def finish(self, *, now: float) -> ImportRecord:
        """Mark the import finished: the next run of it sends nothing."""
        await self.ledger.finish(self.record.id, total=self.record.rows_done, now=now)
        self.record = replace(self.record, rows_total=self.record.rows_done, finished_at=now)
        return self.record


def ledger_for(store: Store) -> Ledger:
    """The ledger kept in ``store`` (SQLite or PostgreSQL)."""
    if isinstance(store, SQLiteStore):
        return _SQLiteLedger(store)
    from signalyard.store.postgres import PostgresStore

    if isinstance(store, PostgresStore):
        return _PostgresLedger(store.pool)
    raise ConfigError(f"imports need the SQLite or PostgreSQL store, not {type(store).__name__}")
