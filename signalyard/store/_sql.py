"""SQL shared by the SQLite store's jobs (plain DB-API: placeholders are ``?``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from signalyard.event import AcceptedEvent
from signalyard.outcome import Attempt
from signalyard.secret_box import SecretBox
from signalyard.store import _consent_sql, _dead_sql, _secrets_sql
from signalyard.store._outbox_plan import OutboxPlanner, ingest_rows
from signalyard.store.base import (
    CLICK_RETENTION_SECONDS,
    DEDUP_WINDOW_SECONDS,
    AttemptRecord,
    ClaimedEvent,
    DeadLetter,
    Destination,
    DestinationStatus,
    ReplayRule,
)

DEDUP_UPSERT = (
    "INSERT INTO dedup_keys(dataset_id, event_name, event_id, received_at) VALUES (?,?,?,?)"
    " ON CONFLICT(dataset_id, event_name, event_id) DO UPDATE SET"
    " received_at=excluded.received_at WHERE dedup_keys.received_at < ?"
)

INSERT_CLICK = (
    "INSERT INTO click_ledger(dataset_id, kind, click_id, clicked_at, browser, event_pk,"
    " received_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (dataset_id, kind, click_id) DO NOTHING"
)
"""The first sighting of a click id is kept: its click time does not move."""


PRUNE_EVENTS = (
    "DELETE FROM events WHERE pk IN (SELECT pk FROM events e WHERE received_at < ?"
    " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_pk = e.pk) LIMIT ?)"
)
KEEP_HIGHEST_PK = (
    "INSERT INTO event_pk_floor(id, pk) SELECT 1, max(pk) FROM events WHERE true"
    " HAVING max(pk) IS NOT NULL"
    " ON CONFLICT (id) DO UPDATE SET pk = excluded.pk WHERE event_pk_floor.pk < excluded.pk"
)
"""Run before :data:`PRUNE_EVENTS`, in its transaction: the highest event key given so far,
which new events are numbered after (:func:`insert_events`) even once the events holding
it are deleted (migration 0015)."""


def _before(before: float, now: float) -> float:
    return before


def _dedup_cutoff(before: float, now: float) -> float:
    return now - DEDUP_WINDOW_SECONDS


def _click_cutoff(before: float, now: float) -> float:
    return min(before, now - CLICK_RETENTION_SECONDS)


PRUNE = (
    (
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status='delivered'"
        " AND settled_at < ? LIMIT ?)",
        _before,
        None,
    ),
    (
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status='dropped'"
        " AND settled_at < ? LIMIT ?)",
        _before,
        None,
    ),
    (
        "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE at < ? LIMIT ?)",
        _before,
        None,
    ),
    (PRUNE_EVENTS, _before, KEEP_HIGHEST_PK),
    (
        "DELETE FROM dedup_keys WHERE (dataset_id, event_name, event_id) IN (SELECT"
        " dataset_id, event_name, event_id FROM dedup_keys WHERE received_at < ? LIMIT ?)",
        _dedup_cutoff,
        None,
    ),
    (
        "DELETE FROM click_ledger WHERE (dataset_id, kind, click_id) IN (SELECT"
        " dataset_id, kind, click_id FROM click_ledger WHERE received_at < ? LIMIT ?)",
        _click_cutoff,
        None,
    ),
)
"""Retention: (statement deleting at most ``?`` rows, its cutoff from (before, now), a
statement run first in the same transaction or ``None``)."""

_DESTINATION_COLUMNS = (
    "id, dataset_id, name, kind, options, secrets, state, paused_reason,"
    " paused_fix, throttled_until, updated_at"
)


def table_names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def destinations(
    conn: sqlite3.Connection, box: SecretBox, where: str, args: tuple[Any, ...]
) -> list[Destination]:
    rows = conn.execute(
        f"SELECT {_DESTINATION_COLUMNS} FROM destinations {where} ORDER BY id", args
    )
    return [
        Destination(
            id=r[0],
            dataset_id=r[1],
            name=r[2],
            kind=r[3],
            options=orjson.loads(r[4]),
            secrets=_secrets_sql.opened(box, r[5], r[2]),
            state=r[6],
            paused_reason=r[7],
            paused_fix=r[8],
            throttled_until=r[9],
            updated_at=r[10],
        )
        for r in rows
    ]


def load_claimed(
    conn: sqlite3.Connection, rows: list[tuple[int, int, int, str | None]]
) -> list[ClaimedEvent]:
    if not rows:
        return []
    by_pk: dict[int, tuple[Any, ...]] = {}
    pks = [r[1] for r in rows]
    for i in range(0, len(pks), 900):
        chunk = pks[i : i + 900]
        for r in conn.execute(
            "SELECT pk, event_time, received_at, test_event_code, payload FROM events"
            f" WHERE pk IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            by_pk[r[0]] = r
    claimed = []
    for outbox_id, pk, attempts, action in sorted(rows):
        ev = by_pk[pk]
        claimed.append(
            ClaimedEvent(outbox_id, attempts, ev[1], ev[2], ev[3], orjson.loads(ev[4]), action)
        )
    return claimed


def insert_attempt(conn: sqlite3.Connection, record: AttemptRecord) -> None:
    a = record.attempt
    conn.execute(
        "INSERT INTO attempts(destination_id, at, events, outcome, http_status, code, subcode,"
        " trace_id, message, duration_ms) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
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
        ),
    )


def status(conn: sqlite3.Connection, box: SecretBox, now: float) -> list[DestinationStatus]:
    counts = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT destination_id, SUM(status='queued'), SUM(status='queued' AND due_at<=?),"
            " SUM(status='delivered'), SUM(status='dead'), SUM(status='held'),"
            " SUM(status='dropped') FROM outbox GROUP BY destination_id",
            (now,),
        )
    }
    oldest = dict(
        conn.execute(
            "SELECT o.destination_id, MIN(e.event_time) FROM outbox o JOIN events e"
            " ON e.pk=o.event_pk WHERE o.status='queued' GROUP BY o.destination_id"
        ).fetchall()
    )
    out = []
    for d in destinations(conn, box, "", ()):
        queued, due, delivered, dead, held, dropped = counts.get(d.id, (0, 0, 0, 0, 0, 0))
        out.append(
            DestinationStatus(
                d,
                int(queued or 0),
                int(due or 0),
                oldest.get(d.id),
                int(delivered or 0),
                int(dead or 0),
                int(held or 0),
                int(dropped or 0),
            )
        )
    return out


def dead_letters(
    conn: sqlite3.Connection,
    destination_id: int | None,
    limit: int,
    outbox_ids: Sequence[int] | None = None,
    rule: ReplayRule | None = None,
) -> list[DeadLetter]:
    sql, args = _dead_sql.select(destination_id, limit, outbox_ids, rule)
    return [DeadLetter(*r) for r in conn.execute(sql, args)]


def count_dead_letters(
    conn: sqlite3.Connection, destination_id: int | None, rule: ReplayRule | None
) -> int:
    sql, args = _dead_sql.count(destination_id, rule)
    return int(conn.execute(sql, args).fetchone()[0])


def attempts(
    conn: sqlite3.Connection, destination_id: int | None, limit: int
) -> list[AttemptRecord]:
    sql = (
        "SELECT destination_id, at, events, outcome, http_status, code, subcode, trace_id,"
        " message, duration_ms FROM attempts"
    )
    args: list[Any] = []
    if destination_id is not None:
        sql += " WHERE destination_id=?"
        args.append(destination_id)
    sql += " ORDER BY at DESC, id DESC LIMIT ?"
    args.append(limit)
    return [
        AttemptRecord(r[0], r[1], r[2], r[3], Attempt(r[4], r[5], r[6], r[7], r[8], r[9]))
        for r in conn.execute(sql, args)
    ]


def replay(
    conn: sqlite3.Connection,
    destination_id: int | None,
    outbox_ids: Sequence[int] | None,
    now: float,
) -> int:
    sql = (
        "UPDATE outbox SET status='queued', due_at=?, attempts=0, settled_at=NULL,"
        " dead_reason=NULL, dead_code=NULL, dead_subcode=NULL WHERE status='dead'"
    )
    args: list[Any] = [now]
    if destination_id is not None:
        sql += " AND destination_id=?"
        args.append(destination_id)
    if outbox_ids is not None:
        n = 0
        ids = list(outbox_ids)
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            n += conn.execute(
                sql + f" AND id IN ({','.join('?' * len(chunk))})", (*args, *chunk)
            ).rowcount
        return n
    return conn.execute(sql, args).rowcount


def ingest(conn: sqlite3.Connection, events: Sequence[AcceptedEvent], now: float) -> list[bool]:
    """The SQLite store's ingest job (one job of a group commit): True for each event
    stored, False for each duplicate within the dedup window."""
    any_recorded: dict[str, bool] = {}
    planner = OutboxPlanner(
        lambda dataset_id: conn.execute(
            "SELECT id, options FROM destinations WHERE dataset_id=? ORDER BY id", (dataset_id,)
        ).fetchall(),
        lambda dataset_id, subject: _recorded(conn, any_recorded, dataset_id, subject),
    )
    stored: list[bool] = []
    fresh: list[AcceptedEvent] = []
    dedup_before = now - DEDUP_WINDOW_SECONDS
    for ev in events:
        key = (ev.dataset_id, ev.event_name, ev.event_id, now, dedup_before)
        is_new = conn.execute(DEDUP_UPSERT, key).rowcount != 0
        stored.append(is_new)
        if is_new:
            fresh.append(ev)
    rows = ingest_rows(planner, insert_events(conn, fresh, now))
    conn.executemany(
        "INSERT INTO outbox(event_pk, destination_id, status, due_at, attempts, created_at,"
        " settled_at, consent_action, consent_reason) VALUES (?,?,?,?,0,?,?,?,?)",
        [
            (pk, dest, status, now, now, now if status == "dropped" else None, action, reason)
            for pk, dest, status, action, reason in rows.outbox
        ],
    )
    if rows.holds:
        conn.executemany(
            "INSERT INTO consent_holds(dataset_id, subject, event_pk) VALUES (?,?,?)"
            " ON CONFLICT DO NOTHING",
            rows.holds,
        )
    if rows.clicks:
        conn.executemany(INSERT_CLICK, [(*c, now) for c in rows.clicks])
    return stored


INSERT_EVENT = (
    "INSERT INTO events(pk, dataset_id, event_name, event_id, event_time, received_at, source,"
    " test_event_code, payload) VALUES (?,?,?,?,?,?,?,?,?)"
)
HIGHEST_PK = (
    "SELECT max(coalesce((SELECT max(pk) FROM events), 0),"
    " coalesce((SELECT pk FROM event_pk_floor WHERE id = 1), 0))"
)
"""The highest event key given so far: the largest stored, or the largest retention deleted
(:data:`KEEP_HIGHEST_PK`), whichever is higher."""


def insert_events(
    conn: sqlite3.Connection, events: Sequence[AcceptedEvent], now: float
) -> list[tuple[int, AcceptedEvent]]:
    """Store ``events`` in one statement; ``(pk, event)`` pairs. The keys follow the highest
    ever given (:data:`HIGHEST_PK`; the write transaction is held): never one an event had
    before, even one retention deleted (SQLite alone would start again after the largest key
    left). One statement instead of one per event (with ``RETURNING``) saves a quarter of
    what storing an event costs."""
    if not events:
        return []
    first = int(conn.execute(HIGHEST_PK).fetchone()[0]) + 1
    conn.executemany(
        INSERT_EVENT,
        [
            (
                first + i,
                ev.dataset_id,
                ev.event_name,
                ev.event_id,
                ev.event_time,
                now,
                ev.source,
                ev.test_event_code,
                ev.payload_json(),
            )
            for i, ev in enumerate(events)
        ],
    )
    return list(zip(range(first, first + len(events)), events, strict=True))


def _recorded(
    conn: sqlite3.Connection, any_recorded: dict[str, bool], dataset_id: str, subject: str
) -> tuple[str, str, float] | None:
    """The consent recorded for a subject; one cheap check per transaction and dataset skips
    the lookups where no consent was ever recorded (server-only datasets)."""
    known = any_recorded.get(dataset_id)
    if known is None:
        known = any_recorded[dataset_id] = (
            conn.execute(
                "SELECT 1 FROM consent_subjects WHERE dataset_id=? LIMIT 1", (dataset_id,)
            ).fetchone()
            is not None
        )
    if not known:
        return None
    row = conn.execute(_consent_sql.RECORDED, (dataset_id, subject)).fetchone()
    return (row[0], row[1], float(row[2])) if row is not None else None
