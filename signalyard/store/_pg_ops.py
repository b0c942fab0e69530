"""PostgreSQL store: row mapping and the operational queries (status, dead letters,
attempts, replay, retention), kept apart from the ingest and delivery paths."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import orjson

from signalyard.outcome import Attempt
from signalyard.secret_box import SecretBox
from signalyard.store import _dead_sql, _secrets_sql
from signalyard.store._marks import pg
from signalyard.store.base import (
    CLICK_RETENTION_SECONDS,
    DEDUP_WINDOW_SECONDS,
    AttemptRecord,
    DeadLetter,
    Destination,
    DestinationStatus,
    PruneResult,
    ReplayRule,
)

DEST_COLUMNS = (
    "id, dataset_id, name, kind, options, secrets, state, paused_reason,"
    " paused_fix, throttled_until, updated_at"
)


def destination(r: asyncpg.Record, box: SecretBox) -> Destination:
    return Destination(
        id=r["id"],
        dataset_id=r["dataset_id"],
        name=r["name"],
        kind=r["kind"],
        options=orjson.loads(r["options"]),
        secrets=_secrets_sql.opened(box, r["secrets"], r["name"]),
        state=r["state"],
        paused_reason=r["paused_reason"],
        paused_fix=r["paused_fix"],
        throttled_until=r["throttled_until"],
        updated_at=r["updated_at"],
    )


async def status(pool: asyncpg.Pool, box: SecretBox, *, now: float) -> list[DestinationStatus]:
    counts = {
        r[0]: r[1:]
        for r in await pool.fetch(
            "SELECT destination_id, count(*) FILTER (WHERE status='queued'),"
            " count(*) FILTER (WHERE status='queued' AND due_at<=$1),"
            " count(*) FILTER (WHERE status='delivered'),"
            " count(*) FILTER (WHERE status='dead'), count(*) FILTER (WHERE status='held'),"
            " count(*) FILTER (WHERE status='dropped') FROM outbox GROUP BY destination_id",
            now,
        )
    }
    oldest = {
        r[0]: r[1]
        for r in await pool.fetch(
            "SELECT o.destination_id, min(e.event_time) FROM outbox o JOIN events e"
            " ON e.pk=o.event_pk WHERE o.status='queued' GROUP BY o.destination_id"
        )
    }
    out = []
    rows = await pool.fetch(f"SELECT {DEST_COLUMNS} FROM destinations ORDER BY id")
    for d in (destination(r, box) for r in rows):
        queued, due, delivered, dead, held, dropped = counts.get(d.id, (0, 0, 0, 0, 0, 0))
        out.append(
            DestinationStatus(d, queued, due, oldest.get(d.id), delivered, dead, held, dropped)
        )
    return out


async def dead_letters(
    pool: asyncpg.Pool,
    *,
    destination_id: int | None = None,
    limit: int = 100,
    outbox_ids: Sequence[int] | None = None,
    replayable: ReplayRule | None = None,
) -> list[DeadLetter]:
    sql, args = _dead_sql.select(destination_id, limit, outbox_ids, replayable)
    return [DeadLetter(*r) for r in await pool.fetch(pg(sql), *args)]


async def count_dead_letters(
    pool: asyncpg.Pool, *, destination_id: int | None = None, replayable: ReplayRule | None = None
) -> int:
    sql, args = _dead_sql.count(destination_id, replayable)
    return int(await pool.fetchval(pg(sql), *args))


async def attempts(
    pool: asyncpg.Pool, *, destination_id: int | None = None, limit: int = 100
) -> list[AttemptRecord]:
    rows = await pool.fetch(
        "SELECT destination_id, at, events, outcome, http_status, code, subcode, trace_id,"
        " message, duration_ms FROM attempts WHERE $1::int4 IS NULL OR destination_id=$1"
        " ORDER BY at DESC, id DESC LIMIT $2",
        destination_id,
        limit,
    )
    return [AttemptRecord(r[0], r[1], r[2], r[3], Attempt(*r[4:])) for r in rows]


async def replay(
    pool: asyncpg.Pool,
    *,
    destination_id: int | None = None,
    outbox_ids: Sequence[int] | None = None,
    now: float,
) -> int:
    done = await pool.execute(
        "UPDATE outbox SET status='queued', due_at=$1, attempts=0, settled_at=NULL,"
        " dead_reason=NULL, dead_code=NULL, dead_subcode=NULL WHERE status='dead'"
        " AND ($2::int4 IS NULL OR destination_id=$2)"
        " AND ($3::int8[] IS NULL OR id = ANY($3::int8[]))",
        now,
        destination_id,
        list(outbox_ids) if outbox_ids is not None else None,
    )
    return int(done.split()[-1])


async def prune(pool: asyncpg.Pool, *, before: float, now: float, batch: int = 5000) -> PruneResult:
    counts = []
    for sql, cutoff in (
        (
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status='delivered'"
            " AND settled_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            before,
        ),
        (
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status='dropped'"
            " AND settled_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            before,
        ),
        (
            "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE at < $1"
            " LIMIT $2 FOR UPDATE SKIP LOCKED)",
            before,
        ),
        (
            "DELETE FROM events WHERE pk IN (SELECT pk FROM events e WHERE received_at < $1"
            " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_pk = e.pk)"
            " LIMIT $2 FOR UPDATE SKIP LOCKED)",
            before,
        ),
        (
            "DELETE FROM dedup_keys WHERE (dataset_id, event_name, event_id) IN (SELECT"
            " dataset_id, event_name, event_id FROM dedup_keys WHERE received_at < $1"
            " LIMIT $2 FOR UPDATE SKIP LOCKED)",
            now - DEDUP_WINDOW_SECONDS,
        ),
        (
            "DELETE FROM click_ledger WHERE (dataset_id, kind, click_id) IN (SELECT"
            " dataset_id, kind, click_id FROM click_ledger WHERE received_at < $1"
            " LIMIT $2 FOR UPDATE SKIP LOCKED)",
            min(before, now - CLICK_RETENTION_SECONDS),
        ),
    ):
        total = 0
        while True:
            done = await pool.execute(sql, cutoff, batch)
            n = int(done.split()[-1])
            total += n
            if n < batch:
                break
        counts.append(total)
    outbox, dropped, attempts, events, dedup, clicks = counts
    return PruneResult(outbox + dropped, attempts, events, dedup, clicks)
