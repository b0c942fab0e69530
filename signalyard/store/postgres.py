"""The shared store: PostgreSQL through asyncpg, for several Signalyard processes at once.

- Ingest is group-committed: concurrent ``ingest`` calls of this process are gathered by one
  task and written in one transaction with set-based statements (``unnest``), so many
  requests share one commit (and its WAL flush, ``synchronous_commit`` stays on).
- The dedup key is a primary key; ``INSERT ... ON CONFLICT ... DO UPDATE ... WHERE`` decides
  new or duplicate inside the database, so two processes receiving the same event at the same
  moment store it once (the second waits on the first's row lock, then sees the key).
- Claims take ``FOR UPDATE SKIP LOCKED`` and a lease, so workers never wait for each other nor
  claim the same row; settling checks the lease owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg
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
    _pg_ingest,
    _pg_ops,
    _secrets_sql,
    _settle_sql,
)
from signalyard.store._marks import pg
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
from signalyard.store.location import describe

_PG_SETTLE = {
    name: pg(getattr(_settle_sql, name))
    for name in ("EXTEND_LEASE", "DELIVERED", "RETRY", "DEAD", "RELEASE")
}
"""The shared lease and settle statements, with PostgreSQL's placeholders (once)."""


def _reason(error: Exception) -> str:
    """A failed commit in a few words: the error's class and SQLSTATE (never its message,
    which can quote values)."""
    state = getattr(error, "sqlstate", None)
    return f"{type(error).__name__} (SQLSTATE {state})" if state else type(error).__name__


def _waited(error: Exception) -> bool:
    """A write that lost to another one (a lock not granted in time, a deadlock, a
    serialization failure: SQLSTATE 55P03 and class 40; no connection free in time): the
    database works, the next write may well commit. Not a storage failure."""
    if isinstance(error, TimeoutError):  # no free connection in time: busy, not broken
        return True
    state = getattr(error, "sqlstate", None)
    return isinstance(state, str) and (state == "55P03" or state.startswith("40"))


_NO_UPDATE = ConsentUpdate(0, 0, 0)
Written = tuple[list[bool], ConsentUpdate]


class _Pending:
    __slots__ = ("decisions", "events", "future", "now")

    def __init__(
        self,
        events: Sequence[AcceptedEvent],
        now: float,
        future: asyncio.Future[Written],
        decisions: Sequence[tuple[str, str, Consent]] = (),
    ) -> None:
        self.events = events
        self.now = now
        self.future = future
        self.decisions = decisions


class PostgresStore:
    """:class:`~signalyard.store.base.Store` on PostgreSQL."""

    PROBE_LOCK_TIMEOUT_MS = 2000
    """How long :meth:`probe_write` waits for a lock another session holds."""

    def __init__(
        self,
        database_url: str,
        *,
        min_connections: int = 2,
        max_connections: int = 10,
        now: Callable[[], float] = time.time,
        secret_box: SecretBox | Callable[[], SecretBox] | None = None,
        verify_key: bool = True,
    ) -> None:
        """``secret_box``: the operator key; default: ``signalyard.secret-key`` in the working
        directory (made on first open). ``verify_key=False`` opens a database whose secrets
        another key sealed (for :meth:`forget_secrets` only)."""
        if not database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("not a PostgreSQL URL")
        self.url = database_url
        self._box_given = secret_box
        self._verify_key = verify_key
        self._box_opened: SecretBox | None = None
        self._now = now
        self.last_commit_failure: CommitFailure | None = None
        """The last group commit of ingest that failed, until one succeeds."""
        self._min = min_connections
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._committer: asyncio.Task[None] | None = None
        self.commits = 0

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "the store is not open"
        return self._pool

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self._min, max_size=self._max, command_timeout=60
            )
        except (OSError, asyncpg.PostgresError) as error:
            raise ConfigError(
                f"cannot connect to PostgreSQL at {describe(self.url)}: {error}"
            ) from None
        exists = await self.pool.fetchval("SELECT to_regclass('outbox') IS NOT NULL")
        if not exists:
            await self._pool.close()
            self._pool = None
            raise ConfigError(
                f"the database {describe(self.url)} has no Signalyard schema:"
                " run `signalyard migrate`"
            )
        try:
            await self._open_box()
        except ConfigError:
            await self._pool.close()
            self._pool = None
            raise
        self._wake = asyncio.Event()
        self._committer = asyncio.create_task(self._commit_loop())

    async def _open_box(self) -> None:
        """The operator key, checked against the one the database's secrets use."""
        given = self._box_given
        box = (given() if callable(given) else given) or operator_key.load_box(
            self.url, secret_key=Secret(""), secret_key_file=""
        )
        await self.pool.execute(pg(_secrets_sql.INSERT_CHECK), box.check_text())
        check = await self.pool.fetchval(_secrets_sql.SELECT_CHECK)
        if self._verify_key:
            box.verify(str(check), database=describe(self.url))
        self._box_opened = box

    @property
    def _box(self) -> SecretBox:
        assert self._box_opened is not None, "the store is not open"
        return self._box_opened

    async def close(self) -> None:
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None
        for p in self._pending:
            if not p.future.done():
                p.future.set_exception(ConfigError("the store closed"))
        self._pending = []
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # datasets and keys -------------------------------------------------------------------

    async def add_dataset(
        self, dataset_id: str, *, name: str, default_country: str | None, now: float
    ) -> Dataset:
        await self.pool.execute(
            "INSERT INTO datasets(id, name, default_country, created_at) VALUES ($1,$2,$3,$4)",
            dataset_id,
            name,
            default_country,
            now,
        )
        return Dataset(dataset_id, name, default_country, now)

    async def list_datasets(self) -> list[Dataset]:
        rows = await self.pool.fetch(
            "SELECT id, name, default_country, created_at FROM datasets ORDER BY id"
        )
        return [Dataset(*r) for r in rows]

    async def get_dataset(self, dataset_id: str) -> Dataset | None:
        r = await self.pool.fetchrow(
            "SELECT id, name, default_country, created_at FROM datasets WHERE id=$1", dataset_id
        )
        return Dataset(*r) if r else None

    async def update_dataset(
        self, dataset_id: str, *, name: str, default_country: str | None
    ) -> Dataset | None:
        r = await self.pool.fetchrow(
            "UPDATE datasets SET name=$1, default_country=$2 WHERE id=$3"
            " RETURNING id, name, default_country, created_at",
            name,
            default_country,
            dataset_id,
        )
        return Dataset(*r) if r else None

    async def add_key(
        self, dataset_id: str, *, key_id: str, key_hash: str, label: str, now: float
    ) -> IngestKey:
        await self.pool.execute(
            "INSERT INTO ingest_keys(id, dataset_id, key_hash, label, created_at)"
            " VALUES ($1,$2,$3,$4,$5)",
            key_id,
            dataset_id,
            key_hash,
            label,
            now,
        )
        return IngestKey(key_id, dataset_id, label, now, None)

    async def find_key(self, key_hash: str) -> IngestKey | None:
        r = await self.pool.fetchrow(
            "SELECT id, dataset_id, label, created_at, revoked_at FROM ingest_keys"
            " WHERE key_hash=$1",
            key_hash,
        )
        return IngestKey(*r) if r else None

    async def list_keys(self, dataset_id: str | None = None) -> list[IngestKey]:
        rows = await self.pool.fetch(
            "SELECT id, dataset_id, label, created_at, revoked_at FROM ingest_keys"
            " WHERE $1::text IS NULL OR dataset_id=$1 ORDER BY created_at",
            dataset_id,
        )
        return [IngestKey(*r) for r in rows]

    async def revoke_key(self, key_id: str, *, now: float) -> bool:
        done = await self.pool.execute(
            "UPDATE ingest_keys SET revoked_at=$1 WHERE id=$2 AND revoked_at IS NULL", now, key_id
        )
        return bool(done == "UPDATE 1")

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
        try:
            r = await self._insert_destination(dataset_id, name, kind, options, secrets, now)
        except asyncpg.UniqueViolationError:
            raise Conflict(f"dataset {dataset_id} has a destination named {name} already") from None
        return _pg_ops.destination(r, self._box)

    async def _insert_destination(
        self,
        dataset_id: str,
        name: str,
        kind: str,
        options: dict[str, Any],
        secrets: Mapping[str, Secret],
        now: float,
    ) -> Any:
        return await self.pool.fetchrow(
            "INSERT INTO destinations(dataset_id, name, kind, options, secrets,"
            " state, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,'active',$6,$6)"
            f" RETURNING {_pg_ops.DEST_COLUMNS}",
            dataset_id,
            name,
            kind,
            orjson.dumps(options).decode(),
            _secrets_sql.sealed(self._box, secrets),
            now,
        )

    async def list_destinations(self, dataset_id: str | None = None) -> list[Destination]:
        rows = await self.pool.fetch(
            f"SELECT {_pg_ops.DEST_COLUMNS} FROM destinations"
            " WHERE $1::text IS NULL OR dataset_id=$1 ORDER BY id",
            dataset_id,
        )
        return [_pg_ops.destination(r, self._box) for r in rows]

    async def get_destination(self, destination_id: int) -> Destination | None:
        row = await self.pool.fetchrow(
            f"SELECT {_pg_ops.DEST_COLUMNS} FROM destinations WHERE id=$1", destination_id
        )
        return _pg_ops.destination(row, self._box) if row is not None else None

    async def set_secrets(
        self, destination_id: int, secrets: Mapping[str, Secret], *, now: float
    ) -> None:
        await self.pool.execute(
            pg(_secrets_sql.SET_SECRETS),
            _secrets_sql.sealed(self._box, secrets),
            now,
            destination_id,
        )

    async def forget_secrets(self, *, now: float) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(pg(_secrets_sql.REPLACE_CHECK), self._box.check_text())
            done = await conn.execute(
                pg(_secrets_sql.FORGET_SECRETS),
                _secrets_sql.FORGOTTEN_REASON,
                _secrets_sql.FORGOTTEN_FIX,
                now,
            )
        return int(done.split()[-1])

    async def set_options(
        self, destination_id: int, options: dict[str, Any], *, now: float
    ) -> None:
        await self.pool.execute(
            "UPDATE destinations SET options=$1, updated_at=$2 WHERE id=$3",
            orjson.dumps(options).decode(),
            now,
            destination_id,
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
        await self.pool.execute(
            "UPDATE destinations SET state='paused', paused_reason=$1, paused_fix=$2,"
            " updated_at=$3 WHERE id=$4 AND ($5::double precision IS NULL OR updated_at = $5)",
            reason,
            fix,
            now,
            destination_id,
            unchanged_since,
        )

    async def resume(self, destination_id: int, *, now: float) -> None:
        await self.pool.execute(
            "UPDATE destinations SET state='active', paused_reason=NULL, paused_fix=NULL,"
            " updated_at=$1 WHERE id=$2",
            now,
            destination_id,
        )

    async def throttle(self, destination_id: int, *, until: float) -> None:
        await self.pool.execute(
            "UPDATE destinations SET throttled_until=greatest(coalesce(throttled_until, 0), $1)"
            " WHERE id=$2",
            until,
            destination_id,
        )

    async def remove_destination(self, destination_id: int, *, drop_queue: bool) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            # Locked so that two removals, or a removal and set_token/pause, do not interleave.
            await conn.execute("SELECT 1 FROM destinations WHERE id=$1 FOR UPDATE", destination_id)
            waiting = await conn.fetchval(
                "SELECT COUNT(*) FROM outbox WHERE destination_id=$1 AND status IN"
                " ('queued', 'held')",
                destination_id,
            )
            if waiting and not drop_queue:
                raise Conflict(waiting_message(waiting))
            await conn.execute("DELETE FROM outbox WHERE destination_id=$1", destination_id)
            await conn.execute("DELETE FROM attempts WHERE destination_id=$1", destination_id)
            await conn.execute("DELETE FROM destinations WHERE id=$1", destination_id)
            return int(waiting)

    # ingest (group commit) ---------------------------------------------------------------

    async def ingest(self, events: Sequence[AcceptedEvent], *, now: float) -> list[bool]:
        if not events:
            return []
        stored, _ = await self._queue(events, (), now)
        return stored

    async def _queue(
        self,
        events: Sequence[AcceptedEvent],
        decisions: Sequence[tuple[str, str, Consent]],
        now: float,
    ) -> Written:
        """Into the next group commit: the events, then the consent decisions they carry."""
        future: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(events, now, future, decisions))
        self._wake.set()
        return await future

    async def ingest_recording(
        self,
        events: Sequence[AcceptedEvent],
        decisions: Sequence[tuple[str, str, Consent]],
        *,
        now: float,
    ) -> tuple[list[bool], ConsentUpdate]:
        if not events and not decisions:
            return [], _NO_UPDATE
        return await self._queue(events, decisions, now)

    async def merge_duplicates(
        self, events: Sequence[AcceptedEvent], *, now: float
    ) -> list[MergeResult]:
        if not events:
            return []
        async with self.pool.acquire() as conn, conn.transaction():
            return await _merge.merge_pg(conn, events, now)

    async def _commit_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                results = await self._write(batch)
            except Exception as error:
                if not _waited(error):
                    self.last_commit_failure = CommitFailure(self._now(), _reason(error))
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(error)
                continue
            for p, result in zip(batch, results, strict=True):
                if not p.future.done():
                    p.future.set_result(result)

    async def _write(self, batch: list[_Pending]) -> list[Written]:
        """One transaction for the group: every request's events, then the consent
        decisions each carries (in the order the requests came)."""
        async with self.pool.acquire() as conn, conn.transaction():
            stored = await _pg_ingest.write_group(
                conn, [p.events for p in batch], max(p.now for p in batch)
            )
            updates = [
                await self._update_consents(conn, p.decisions, p.now) if p.decisions else _NO_UPDATE
                for p in batch
            ]
        self.commits += 1
        self.last_commit_failure = None
        return list(zip(stored, updates, strict=True))

    async def probe_write(self) -> bool:
        """Commit one tiny real write (the one row of ``alembic_version``, rewritten as it
        is; a lock held by another session is waited for ``PROBE_LOCK_TIMEOUT_MS`` at most,
        and a free connection twice that): a success clears :attr:`last_commit_failure`, a
        failure that is not a lost lock records it again. The role needs UPDATE on
        ``alembic_version`` (the schema owner has it)."""
        timeout = self.PROBE_LOCK_TIMEOUT_MS / 1000
        try:
            async with (
                asyncio.timeout(timeout * 3),
                self.pool.acquire(timeout=timeout * 2) as conn,
                conn.transaction(),
            ):
                await conn.execute(f"SET LOCAL lock_timeout = {int(self.PROBE_LOCK_TIMEOUT_MS)}")
                await conn.execute("UPDATE alembic_version SET version_num = version_num")
        except Exception as error:
            if not _waited(error):
                self.last_commit_failure = CommitFailure(self._now(), _reason(error))
            return False
        self.last_commit_failure = None
        return True

    # delivery ----------------------------------------------------------------------------

    async def claim(
        self, destination_id: int, *, owner: str, limit: int, now: float, lease_seconds: float
    ) -> list[ClaimedEvent]:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "UPDATE outbox SET lease_owner=$1, lease_until=$2 WHERE id IN ("
                " SELECT id FROM outbox WHERE destination_id=$3 AND status='queued'"
                " AND due_at<=$4 AND (lease_until IS NULL OR lease_until<$4)"
                " ORDER BY due_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)"
                " RETURNING id, event_pk, attempts, consent_action",
                owner,
                now + lease_seconds,
                destination_id,
                now,
                limit,
            )
            if not rows:
                return []
            events = {
                r["pk"]: r
                for r in await conn.fetch(
                    "SELECT pk, event_time, received_at, test_event_code, payload FROM events"
                    " WHERE pk = ANY($1::int8[])",
                    [r["event_pk"] for r in rows],
                )
            }
        out = []
        for r in sorted(rows, key=lambda r: r["id"]):
            e = events[r["event_pk"]]
            out.append(
                ClaimedEvent(
                    r["id"],
                    r["attempts"],
                    e["event_time"],
                    e["received_at"],
                    e["test_event_code"],
                    orjson.loads(e["payload"]),
                    r["consent_action"],
                )
            )
        return out

    async def extend_lease(self, ids: Sequence[int], *, owner: str, until: float) -> int:
        return await self._settle(_PG_SETTLE["EXTEND_LEASE"], (until, owner), ids)

    async def _settle(self, sql: str, args: tuple[Any, ...], ids: Sequence[int]) -> int:
        if not ids:
            return 0
        n = len(args) + 1
        done = await self.pool.execute(f"{sql} AND id = ANY(${n}::int8[])", *args, list(ids))
        return int(done.split()[-1])

    async def settle_delivered(self, ids: Sequence[int], *, owner: str, now: float) -> int:
        return await self._settle(
            _PG_SETTLE["DELIVERED"],
            (now, owner),
            ids,
        )

    async def settle_retry(
        self, ids: Sequence[int], *, owner: str, due_at: float, count_attempt: bool, error: str
    ) -> int:
        return await self._settle(
            _PG_SETTLE["RETRY"],
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
            _PG_SETTLE["DEAD"],
            (now, reason, code, subcode, reason, owner),
            ids,
        )

    async def release(self, ids: Sequence[int], *, owner: str) -> int:
        return await self._settle(
            _PG_SETTLE["RELEASE"],
            (owner,),
            ids,
        )

    async def record_attempt(self, record: AttemptRecord) -> None:
        a = record.attempt
        await self.pool.execute(
            "INSERT INTO attempts(destination_id, at, events, outcome, http_status, code,"
            " subcode, trace_id, message, duration_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            record.destination_id,
            record.at,
            record.events,
            record.outcome,
            a.http_status,
            a.code,
            a.subcode,
            a.trace_id,
            a.message,
            a.duration_ms,
        )

    # operations --------------------------------------------------------------------------

    async def status(self, *, now: float) -> list[DestinationStatus]:
        return await _pg_ops.status(self.pool, self._box, now=now)

    async def dead_letters(
        self,
        *,
        destination_id: int | None = None,
        limit: int = 100,
        outbox_ids: Sequence[int] | None = None,
        replayable: ReplayRule | None = None,
    ) -> list[DeadLetter]:
        return await _pg_ops.dead_letters(
            self.pool,
            destination_id=destination_id,
            limit=limit,
            outbox_ids=outbox_ids,
            replayable=replayable,
        )

    async def count_dead_letters(
        self, *, destination_id: int | None = None, replayable: ReplayRule | None = None
    ) -> int:
        return await _pg_ops.count_dead_letters(
            self.pool, destination_id=destination_id, replayable=replayable
        )

    async def attempts(
        self, *, destination_id: int | None = None, limit: int = 100
    ) -> list[AttemptRecord]:
        return await _pg_ops.attempts(self.pool, destination_id=destination_id, limit=limit)

    async def replay(
        self,
        *,
        destination_id: int | None = None,
        outbox_ids: Sequence[int] | None = None,
        now: float,
    ) -> int:
        return await _pg_ops.replay(
            self.pool, destination_id=destination_id, outbox_ids=outbox_ids, now=now
        )

    async def prune(self, *, before: float, now: float, batch: int = 5000) -> PruneResult:
        return await _pg_ops.prune(self.pool, before=before, now=now, batch=batch)

    async def update_consent(
        self, dataset_id: str, subject: str, consent: Consent, *, now: float
    ) -> ConsentUpdate:
        return await self.update_consents([(dataset_id, subject, consent)], now=now)

    async def update_consents(
        self, decisions: Sequence[tuple[str, str, Consent]], *, now: float
    ) -> ConsentUpdate:
        if not decisions:
            return ConsentUpdate(0, 0, 0)
        async with self.pool.acquire() as conn, conn.transaction():
            return await self._update_consents(conn, decisions, now)

    @staticmethod
    async def _update_consents(
        conn: Any, decisions: Sequence[tuple[str, str, Consent]], now: float
    ) -> ConsentUpdate:
        """``update_consents`` inside the caller's transaction."""
        released = dropped = still = 0
        await conn.executemany(
            pg(_consent_sql.RECORD),
            [(d, subject, c.state, c.source, now) for d, subject, c in decisions],
        )
        held: set[tuple[str, str]] = set()
        for dataset_id in {d for d, _, _ in decisions}:
            subjects = list({s for d, s, _ in decisions if d == dataset_id})
            for r in await conn.fetch(_consent_sql.SUBJECTS_HELD_PG, dataset_id, subjects):
                held.add((dataset_id, r[0]))
        for dataset_id, subject, consent in decisions:
            if (dataset_id, subject) not in held:
                continue
            rows = await conn.fetch(
                pg(_consent_sql.HELD_OF_SUBJECT + " FOR UPDATE OF o"), dataset_id, subject
            )
            changes = _consent_sql.decisions([tuple(r) for r in rows], consent, now)
            if changes:
                await conn.executemany(pg(_consent_sql.SET_DECISION), changes)
            await conn.execute(pg(_consent_sql.FORGET_RESOLVED), dataset_id, subject)
            gone = sum(c[0] == "dropped" for c in changes)
            released += len(changes) - gone
            dropped += gone
            still += len(rows) - len(changes)
        return ConsentUpdate(released, dropped, still)

    async def expire_holds(self, *, event_time_before: float, now: float) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            done = await conn.execute(
                pg(_consent_sql.EXPIRE),
                now,
                EXPIRED_HOLD_REASON,
                int(event_time_before),
            )
            n = int(done.split()[-1])
            if n:
                await conn.execute(_consent_sql.FORGET_EXPIRED)
        return n

    # attribution -------------------------------------------------------------------------

    async def attribution_events(
        self, dataset_id: str, *, after_pk: int, limit: int
    ) -> list[StoredEvent]:
        rows = await self.pool.fetch(pg(_attribution_sql.EVENTS_AFTER), dataset_id, after_pk, limit)
        return [
            StoredEvent(int(r[0]), r[1], r[2], float(r[3]), r[4], r[5], r[6], float(r[7]))
            for r in rows
        ]

    async def attribution_cursor(self, dataset_id: str) -> int:
        value = await self.pool.fetchval(pg(_attribution_sql.CURSOR), dataset_id)
        return int(value) if value is not None else 0

    async def attribution_save(
        self, dataset_id: str, rows: AttributionRows, *, last_pk: int, now: float
    ) -> None:
        sql = _attribution_sql
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(pg(sql.ORDER), [(dataset_id, *r) for r in rows.orders])
            await conn.executemany(pg(sql.TOUCH), [(dataset_id, *r) for r in rows.touches])
            await conn.executemany(pg(sql.CLICK_PG), sql.click_args(dataset_id, rows))
            await conn.executemany(pg(sql.LINK), [(dataset_id, *r) for r in rows.links])
            await conn.execute(pg(sql.SET_CURSOR), dataset_id, last_pk, now)

    async def attribution_evidence(self, dataset_id: str) -> AttributionEvidence:
        sql = _attribution_sql
        seen: dict[str, str] = {}
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            loaded = [
                sql.shared_rows(await conn.fetch(pg(q), dataset_id), seen, sql.SHARED_COLUMNS[t])
                for q, t in (
                    (sql.LOAD_ORDERS, "orders"),
                    (sql.LOAD_TOUCHES, "touches"),
                    (sql.LOAD_CLICKS, "clicks"),
                    (sql.LOAD_LINKS, "links"),
                )
            ]
        return AttributionEvidence(*loaded)

    async def event_count(self, dataset_id: str | None = None) -> int:
        return int(
            await self.pool.fetchval(
                "SELECT count(*) FROM events WHERE $1::text IS NULL OR dataset_id=$1", dataset_id
            )
        )
