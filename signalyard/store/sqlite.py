"""The embedded store: SQLite in WAL mode, every commit synced, concurrent work group-committed.

All access goes through one :class:`~signalyard.store._dbthread.DBThread`, so the event loop
never waits on SQLite and concurrent ingest requests share one fsync. Several processes may
open the same file (``serve`` and ``signalyard worker``): writes take SQLite's write lock with
``BEGIN IMMEDIATE`` and wait up to ``busy_timeout`` for it.

A database file the store creates is readable by its owner only (0600, and so are SQLite's
``-wal`` and ``-shm`` files); opening one other users can read logs a warning
(:mod:`signalyard.store.location`).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import anyio.to_thread
import orjson

from signalyard import operator_key
from signalyard.errors import ConfigError, Conflict
from signalyard.event import AcceptedEvent, Consent
from signalyard.secret import Secret
from signalyard.secret_box import SecretBox
from signalyard.store import (
    _attribution_sql,
    _consent_sql,
    _merge,
    _secrets_sql,
    _settle_sql,
    _sql,
    location,
)
from signalyard.store._dbthread import DBThread
from signalyard.store.base import (
    EXPIRED_HOLD_REASON,
    AttemptRecord,
    AttributionEvidence,
    AttributionRows,
    ClaimedEvent,
    CommitFailure,
    ConsentUpdate,
    Dataset,
    DeadLetter,
    Destination,
    DestinationStatus,
    IngestKey,
    MergeResult,
    PruneResult,
    ReplayRule,
    StoredEvent,
    waiting_message,
)

T = TypeVar("T")
_CHUNK = 900


def sqlite_path(database_url: str) -> str:
    """``sqlite:///relative.db`` → ``relative.db``; ``sqlite:////abs.db`` → ``/abs.db``."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ConfigError(f"not a SQLite URL: {database_url.split(':', 1)[0]}://...")
    path = database_url[len(prefix) :]
    if not path:
        raise ConfigError("the SQLite URL names no file")
    return path


WAL_AUTOCHECKPOINT_PAGES = 10_000
"""Pages in the write-ahead log before a commit copies them into the database (SQLite's
default is 1,000): an ingest commit of 1000 events changes a few thousand pages (a new
consent subject lands on a random page; so did a click until migration 0016), so at the
default nearly every commit checkpointed, writing each page twice; at 10,000 a page changed
by several commits is copied once. The log file grows to about 40 MB (4 KB pages) plus the
commit that crosses the mark, and is reused; while a long read (an attribution report's
evidence) keeps a checkpoint from finishing it grows on, and is cut back to
:data:`WAL_SIZE_LIMIT_BYTES` once it starts over. The checkpoint runs in the commit that
crosses the mark, on the store's thread: those callers wait for it (tens of milliseconds)."""
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
"""The log file is cut back to this size when it starts over, should it have grown past it
(while a long read kept the checkpoint from finishing)."""


def _connect(path: str, cache_mb: int) -> Callable[[], sqlite3.Connection]:
    def connect() -> sqlite3.Connection:
        location.create_private(path)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        return conn

    return connect


def _rowcount_job(
    sql: str, args: tuple[Any, ...], *, first: str | None = None
) -> Callable[[sqlite3.Connection], int]:
    """A job running ``sql`` (after ``first``, in its transaction): the rows it changed."""

    def job(conn: sqlite3.Connection) -> int:
        if first is not None:
            conn.execute(first)
        return conn.execute(sql, args).rowcount

    return job


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SQLiteStore:
    """:class:`~signalyard.store.base.Store` on a SQLite file."""

    def __init__(
        self,
        database_url: str,
        *,
        cache_mb: int = 64,
        secret_box: SecretBox | Callable[[], SecretBox] | None = None,
        verify_key: bool = True,
    ) -> None:
        """``cache_mb``: SQLite's page cache, the largest fixed part of the process's memory.
        ``secret_box``: the operator key; default: the key file beside the database (made on
        first open). ``verify_key=False`` opens a database whose secrets another key sealed
        (for :meth:`forget_secrets` only)."""
        if cache_mb < 1:
            raise ConfigError(f"sqlite_cache_mb must be at least 1, not {cache_mb}")
        self.path = sqlite_path(database_url)
        self._cache_mb = cache_mb
        self._db = DBThread(_connect(self.path, cache_mb))
        self._box_given = secret_box
        self._verify_key = verify_key
        self._box_opened: SecretBox | None = None

    @property
    def _box(self) -> SecretBox:
        assert self._box_opened is not None, "the store is not open"
        return self._box_opened

    @property
    def commits(self) -> int:
        return self._db.commits

    @property
    def last_commit_failure(self) -> CommitFailure | None:
        return self._db.last_failure

    async def probe_write(self) -> bool:
        """Commit one tiny real write (the one row of ``alembic_version``, rewritten as it
        is), when the database has room to grow (:func:`location.has_room`): a success
        clears :attr:`last_commit_failure`, a storage error records it again."""
        path = self.path

        def job(conn: sqlite3.Connection) -> bool:
            if not location.has_room(conn, path):
                return False
            conn.execute("UPDATE alembic_version SET version_num = version_num")
            return True

        try:
            return await self._db.run(job)
        except sqlite3.Error:
            return False

    async def open(self) -> None:
        try:
            self._db.start()
            tables = await self._db.run(_sql.table_names)
        except sqlite3.Error as error:
            self._db.stop()
            raise ConfigError(location.sqlite_problem(self.path, error)) from None
        if "outbox" not in tables:
            self._db.stop()
            raise ConfigError(
                f"the database {location.describe('sqlite:///' + self.path)} has no Signalyard"
                " schema: run `signalyard migrate`"
            )
        location.warn_if_exposed(self.path)
        try:
            await self._open_box()
        except ConfigError:
            self._db.stop()
            raise

    async def _open_box(self) -> None:
        """The operator key, checked against the one the database's secrets use."""
        given = self._box_given
        box = (given() if callable(given) else given) or operator_key.load_box(
            "sqlite:///" + self.path, secret_key=Secret(""), secret_key_file=""
        )

        def job(conn: sqlite3.Connection) -> str:
            conn.execute(_secrets_sql.INSERT_CHECK, (box.check_text(),))
            return str(conn.execute(_secrets_sql.SELECT_CHECK).fetchone()[0])

        check = await self._db.run(job)
        if self._verify_key:
            box.verify(check, database=location.describe("sqlite:///" + self.path))
        self._box_opened = box

    async def close(self) -> None:
        self._db.stop()

    def run_sync(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return self._db.run_sync(job)

    async def run_job(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` (a function of the connection) in the store's transaction, group
        committed with concurrent work: for the feature modules that keep their own tables
        (order webhooks, imports). The job must not commit."""
        return await self._db.run(job)

    # datasets and keys -------------------------------------------------------------------

    async def add_dataset(
        self, dataset_id: str, *, name: str, default_country: str | None, now: float
    ) -> Dataset:
        def job(conn: sqlite3.Connection) -> Dataset:
            try:
                conn.execute(
                    "INSERT INTO datasets(id, name, default_country, created_at) VALUES (?,?,?,?)",
                    (dataset_id, name, default_country, now),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"dataset {dataset_id} exists already") from None
            return Dataset(dataset_id, name, default_country, now)

        return await self._db.run(job)

    async def list_datasets(self) -> list[Dataset]:
        return await self._db.run(
            lambda c: [
                Dataset(*r)
                for r in c.execute(
                    "SELECT id, name, default_country, created_at FROM datasets ORDER BY id"
                )
            ]
        )

    async def get_dataset(self, dataset_id: str) -> Dataset | None:
        def job(conn: sqlite3.Connection) -> Dataset | None:
            row = conn.execute(
                "SELECT id, name, default_country, created_at FROM datasets WHERE id=?",
                (dataset_id,),
            ).fetchone()
            return Dataset(*row) if row else None

        return await self._db.run(job)

    async def update_dataset(
        self, dataset_id: str, *, name: str, default_country: str | None
    ) -> Dataset | None:
        def job(conn: sqlite3.Connection) -> Dataset | None:
            conn.execute(
                "UPDATE datasets SET name=?, default_country=? WHERE id=?",
                (name, default_country, dataset_id),
            )
            r = conn.execute(
                "SELECT id, name, default_country, created_at FROM datasets WHERE id=?",
                (dataset_id,),
            ).fetchone()
            return Dataset(*r) if r else None

        return await self._db.run(job)

    async def add_key(
        self, dataset_id: str, *, key_id: str, key_hash: str, label: str, now: float
    ) -> IngestKey:
        def job(conn: sqlite3.Connection) -> IngestKey:
            conn.execute(
                "INSERT INTO ingest_keys(id, dataset_id, key_hash, label, created_at)"
                " VALUES (?,?,?,?,?)",
                (key_id, dataset_id, key_hash, label, now),
            )
            return IngestKey(key_id, dataset_id, label, now, None)

        return await self._db.run(job)

    async def find_key(self, key_hash: str) -> IngestKey | None:
        def job(conn: sqlite3.Connection) -> IngestKey | None:
            row = conn.execute(
                "SELECT id, dataset_id, label, created_at, revoked_at FROM ingest_keys"
                " WHERE key_hash=?",
                (key_hash,),
            ).fetchone()
            return IngestKey(*row) if row else None

        return await self._db.run(job)

    async def list_keys(self, dataset_id: str | None = None) -> list[IngestKey]:
        def job(conn: sqlite3.Connection) -> list[IngestKey]:
            sql = "SELECT id, dataset_id, label, created_at, revoked_at FROM ingest_keys"
            args: tuple[Any, ...] = ()
            if dataset_id is not None:
                sql += " WHERE dataset_id=?"
                args = (dataset_id,)
            return [IngestKey(*r) for r in conn.execute(sql + " ORDER BY created_at", args)]

        return await self._db.run(job)

    async def revoke_key(self, key_id: str, *, now: float) -> bool:
        return await self._db.run(
            lambda c: (
                c.execute(
                    "UPDATE ingest_keys SET revoked_at=? WHERE id=? AND revoked_at IS NULL",
                    (now, key_id),
                ).rowcount
                == 1
            )
        )

    # destinations ------------------------------------------------------------------------

    async def add_destination(
        self,
        dataset_id: str,
        *,
        name: str,
        kind: str,
        options: dict[str, Any],
        secrets: Mapping[str, Secret],
        now: float,
    ) -> Destination:
        box = self._box
        sealed = _secrets_sql.sealed(box, secrets)

        def job(conn: sqlite3.Connection) -> Destination:
            if conn.execute(
                "SELECT 1 FROM destinations WHERE dataset_id=? AND name=?", (dataset_id, name)
            ).fetchone():
                raise Conflict(f"dataset {dataset_id} has a destination named {name} already")
            cur = conn.execute(
                "INSERT INTO destinations(dataset_id, name, kind, options, secrets, state,"
                " created_at, updated_at) VALUES (?,?,?,?,?,'active',?,?)",
                (dataset_id, name, kind, orjson.dumps(options).decode(), sealed, now, now),
            )
            assert cur.lastrowid is not None
            return _sql.destinations(conn, box, "WHERE id=?", (cur.lastrowid,))[0]

        return await self._db.run(job)

    async def list_destinations(self, dataset_id: str | None = None) -> list[Destination]:
        box = self._box
        if dataset_id is None:
            return await self._db.run(lambda c: _sql.destinations(c, box, "", ()))
        return await self._db.run(
            lambda c: _sql.destinations(c, box, "WHERE dataset_id=?", (dataset_id,))
        )

    async def get_destination(self, destination_id: int) -> Destination | None:
        box = self._box
        found = await self._db.run(
            lambda c: _sql.destinations(c, box, "WHERE id=?", (destination_id,))
        )
        return found[0] if found else None

    async def set_secrets(
        self, destination_id: int, secrets: Mapping[str, Secret], *, now: float
    ) -> None:
        sealed = _secrets_sql.sealed(self._box, secrets)
        await self._db.run(
            lambda c: c.execute(_secrets_sql.SET_SECRETS, (sealed, now, destination_id))
        )

    async def forget_secrets(self, *, now: float) -> int:
        check = self._box.check_text()

        def job(conn: sqlite3.Connection) -> int:
            conn.execute(_secrets_sql.REPLACE_CHECK, (check,))
            reason, fix = _secrets_sql.FORGOTTEN_REASON, _secrets_sql.FORGOTTEN_FIX
            return conn.execute(_secrets_sql.FORGET_SECRETS, (reason, fix, now)).rowcount

        return await self._db.run(job)

    async def set_options(
        self, destination_id: int, options: dict[str, Any], *, now: float
    ) -> None:
        data = orjson.dumps(options).decode()
        await self._db.run(
            lambda c: c.execute(
                "UPDATE destinations SET options=?, updated_at=? WHERE id=?",
                (data, now, destination_id),
            )
        )

    async def pause(
        self,
        destination_id: int,
        *,
        reason: str,
        fix: str,
        now: float,
        unchanged_since: float | None = None,
    ) -> None:
        await self._db.run(
            lambda c: c.execute(
                "UPDATE destinations SET state='paused', paused_reason=?, paused_fix=?,"
                " updated_at=? WHERE id=? AND (? IS NULL OR updated_at = ?)",
                (reason, fix, now, destination_id, unchanged_since, unchanged_since),
            )
        )

    async def resume(self, destination_id: int, *, now: float) -> None:
        await self._db.run(
            lambda c: c.execute(
                "UPDATE destinations SET state='active', paused_reason=NULL, paused_fix=NULL,"
                " updated_at=? WHERE id=?",
                (now, destination_id),
            )
        )

    async def throttle(self, destination_id: int, *, until: float) -> None:
        await self._db.run(
            lambda c: c.execute(
                "UPDATE destinations SET throttled_until=max(coalesce(throttled_until, 0), ?)"
                " WHERE id=?",
                (until, destination_id),
            )
        )

    async def remove_destination(self, destination_id: int, *, drop_queue: bool) -> int:
        def job(conn: sqlite3.Connection) -> int:
            (waiting,) = conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE destination_id=? AND status IN"
                " ('queued', 'held')",
                (destination_id,),
            ).fetchone()
            if waiting and not drop_queue:
                raise Conflict(waiting_message(waiting))
            conn.execute("DELETE FROM outbox WHERE destination_id=?", (destination_id,))
            conn.execute("DELETE FROM attempts WHERE destination_id=?", (destination_id,))
            conn.execute("DELETE FROM destinations WHERE id=?", (destination_id,))
            return int(waiting)

        return await self._db.run(job)

    # ingest ------------------------------------------------------------------------------

    async def ingest(self, events: Sequence[AcceptedEvent], *, now: float) -> list[bool]:
        return await self._db.run(lambda conn: _sql.ingest(conn, events, now))

    async def ingest_recording(
        self,
        events: Sequence[AcceptedEvent],
        decisions: Sequence[tuple[str, str, Consent]],
        *,
        now: float,
    ) -> tuple[list[bool], ConsentUpdate]:
        def job(conn: sqlite3.Connection) -> tuple[list[bool], ConsentUpdate]:
            stored = _sql.ingest(conn, events, now)
            if not decisions:
                return stored, ConsentUpdate(0, 0, 0)
            return stored, _consent_sql.update_sqlite(conn, decisions, now)

        return await self._db.run(job)

    async def merge_duplicates(
        self, events: Sequence[AcceptedEvent], *, now: float
    ) -> list[MergeResult]:
        if not events:
            return []
        return await self._db.run(lambda conn: _merge.merge_sqlite(conn, events, now))

    # delivery ----------------------------------------------------------------------------

    async def claim(
        self, destination_id: int, *, owner: str, limit: int, now: float, lease_seconds: float
    ) -> list[ClaimedEvent]:
        def job(conn: sqlite3.Connection) -> list[ClaimedEvent]:
            rows = conn.execute(
                "UPDATE outbox SET lease_owner=?, lease_until=? WHERE id IN ("
                " SELECT id FROM outbox WHERE destination_id=? AND status='queued'"
                " AND due_at<=? AND (lease_until IS NULL OR lease_until<?)"
                " ORDER BY due_at, id LIMIT ?) RETURNING id, event_pk, attempts, consent_action",
                (owner, now + lease_seconds, destination_id, now, now, limit),
            ).fetchall()
            return _sql.load_claimed(conn, rows)

        return await self._db.run(job)

    async def extend_lease(self, ids: Sequence[int], *, owner: str, until: float) -> int:
        return await self._settle(_settle_sql.EXTEND_LEASE, (until, owner), ids)

    async def _settle(self, sql: str, args: tuple[Any, ...], ids: Sequence[int]) -> int:
        def job(conn: sqlite3.Connection) -> int:
            n = 0
            for chunk in _chunks(ids):
                n += conn.execute(
                    f"{sql} AND id IN ({_marks(len(chunk))})", (*args, *chunk)
                ).rowcount
            return n

        return await self._db.run(job)

    async def settle_delivered(self, ids: Sequence[int], *, owner: str, now: float) -> int:
        return await self._settle(
            _settle_sql.DELIVERED,
            (now, owner),
            ids,
        )

    async def settle_retry(
        self, ids: Sequence[int], *, owner: str, due_at: float, count_attempt: bool, error: str
    ) -> int:
        return await self._settle(
            _settle_sql.RETRY,
            (due_at, 1 if count_attempt else 0, error, owner),
            ids,
        )

    async def settle_dead(
        self,
        ids: Sequence[int],
        *,
        owner: str,
        reason: str,
        code: int | None,
        subcode: int | None,
        now: float,
    ) -> int:
        return await self._settle(
            _settle_sql.DEAD,
            (now, reason, code, subcode, reason, owner),
            ids,
        )

    async def release(self, ids: Sequence[int], *, owner: str) -> int:
        return await self._settle(
            _settle_sql.RELEASE,
            (owner,),
            ids,
        )

    async def record_attempt(self, record: AttemptRecord) -> None:
        await self._db.run(lambda c: _sql.insert_attempt(c, record))

    # operations --------------------------------------------------------------------------

    async def status(self, *, now: float) -> list[DestinationStatus]:
        box = self._box
        return await self._db.run(lambda c: _sql.status(c, box, now))

    async def dead_letters(
        self,
        *,
        destination_id: int | None = None,
        limit: int = 100,
        outbox_ids: Sequence[int] | None = None,
        replayable: ReplayRule | None = None,
    ) -> list[DeadLetter]:
        return await self._db.run(
            lambda c: _sql.dead_letters(c, destination_id, limit, outbox_ids, replayable)
        )

    async def count_dead_letters(
        self, *, destination_id: int | None = None, replayable: ReplayRule | None = None
    ) -> int:
        return await self._db.run(lambda c: _sql.count_dead_letters(c, destination_id, replayable))

    async def attempts(
        self, *, destination_id: int | None = None, limit: int = 100
    ) -> list[AttemptRecord]:
        return await self._db.run(lambda c: _sql.attempts(c, destination_id, limit))

    async def replay(
        self,
        *,
        destination_id: int | None = None,
        outbox_ids: Sequence[int] | None = None,
        now: float,
    ) -> int:
        return await self._db.run(lambda c: _sql.replay(c, destination_id, outbox_ids, now))

    async def prune(self, *, before: float, now: float, batch: int = 5000) -> PruneResult:
        counts = []
        for sql, cutoff, first in _sql.PRUNE:
            total = 0
            while True:
                job = _rowcount_job(sql, (cutoff(before, now), batch), first=first)
                n = await self._db.run(job)
                total += n
                if n < batch:
                    break
            counts.append(total)
        outbox, dropped, attempts, events, dedup, clicks = counts
        return PruneResult(outbox + dropped, attempts, events, dedup, clicks)

    async def update_consent(
        self, dataset_id: str, subject: str, consent: Consent, *, now: float
    ) -> ConsentUpdate:
        return await self.update_consents([(dataset_id, subject, consent)], now=now)

    async def update_consents(
        self, decisions: Sequence[tuple[str, str, Consent]], *, now: float
    ) -> ConsentUpdate:
        if not decisions:
            return ConsentUpdate(0, 0, 0)
        return await self._db.run(lambda c: _consent_sql.update_sqlite(c, decisions, now))

    async def expire_holds(self, *, event_time_before: float, now: float) -> int:
        def job(conn: sqlite3.Connection) -> int:
            n = conn.execute(
                _consent_sql.EXPIRE, (now, EXPIRED_HOLD_REASON, event_time_before)
            ).rowcount
            if n:
                conn.execute(_consent_sql.FORGET_EXPIRED)
            return int(n)

        return await self._db.run(job)

    # attribution -------------------------------------------------------------------------

    async def attribution_events(
        self, dataset_id: str, *, after_pk: int, limit: int
    ) -> list[StoredEvent]:
        return await self._db.run(
            lambda conn: _attribution_sql.events_sqlite(conn, dataset_id, after_pk, limit)
        )

    async def attribution_cursor(self, dataset_id: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(_attribution_sql.CURSOR, (dataset_id,)).fetchone()
            return int(row[0]) if row is not None else 0

        return await self._db.run(job)

    async def attribution_save(
        self, dataset_id: str, rows: AttributionRows, *, last_pk: int, now: float
    ) -> None:
        await self._db.run(
            lambda conn: _attribution_sql.save_sqlite(conn, dataset_id, rows, last_pk, now)
        )

    async def attribution_evidence(self, dataset_id: str) -> AttributionEvidence:
        """Read on a connection of its own in a worker thread, in one read transaction: a
        year's evidence takes a minute or two to read, and the store's thread (every ingest's
        commit) must not wait on it. Cancelled, the read is interrupted."""
        if self.path == ":memory:" or self.path.startswith("file::memory:"):
            return await self._db.run(lambda c: _attribution_sql.load_sqlite(c, dataset_id))
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)

        def read() -> AttributionEvidence:
            try:
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute(f"PRAGMA cache_size=-{int(self._cache_mb) * 1024}")
                conn.execute("BEGIN")  # the four reads see one state
                return _attribution_sql.load_sqlite(conn, dataset_id)
            finally:
                conn.close()

        try:
            return await anyio.to_thread.run_sync(read, abandon_on_cancel=True)
        except BaseException:
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed already
                conn.interrupt()
            raise

    async def event_count(self, dataset_id: str | None = None) -> int:
        def job(conn: sqlite3.Connection) -> int:
            if dataset_id is None:
                return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM events WHERE dataset_id=?", (dataset_id,)
                ).fetchone()[0]
            )

        return await self._db.run(job)
