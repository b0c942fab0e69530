"""The PostgreSQL store's group commit: the ingest calls gathered by its commit task, written
in one transaction with set-based statements (``unnest``): dedup keys, events, then their
outbox rows (per consent decision), consent holds and click ledger entries."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from signalyard.event import AcceptedEvent
from signalyard.store._outbox_plan import OutboxPlanner, ingest_rows
from signalyard.store.base import DEDUP_WINDOW_SECONDS

__all__ = ["write_group"]

_DEDUP = (
    "INSERT INTO dedup_keys(dataset_id, event_name, event_id, received_at)"
    " SELECT d, n, i, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS k(d, n, i)"
    " ON CONFLICT (dataset_id, event_name, event_id) DO UPDATE SET"
    " received_at = excluded.received_at WHERE dedup_keys.received_at < $5"
    " RETURNING dataset_id, event_name, event_id"
)
_INSERT_EVENTS = (
    "INSERT INTO events(dataset_id, event_name, event_id, event_time, received_at,"
    " source, test_event_code, payload)"
    " SELECT d, n, i, t, $9, s, c, p FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::int8[], $5::text[], $6::text[], $7::bytea[], $8::int4[]) AS e(d, n, i, t, s, c, p, o)"
    " ORDER BY o RETURNING pk, dataset_id, event_name, event_id"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox(event_pk, destination_id, status, due_at, attempts, created_at,"
    " settled_at, consent_action, consent_reason)"
    " SELECT p, d, s, $6::float8, 0, $6::float8, CASE WHEN s = 'dropped' THEN $6::float8 END, a, r"
    " FROM unnest($1::int8[], $2::int4[], $3::text[], $4::text[], $5::text[]) AS x(p, d, s, a, r)"
)
_INSERT_HOLDS = (
    "INSERT INTO consent_holds(dataset_id, subject, event_pk)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::int8[]) ON CONFLICT DO NOTHING"
)
_INSERT_CLICKS = (
    "INSERT INTO click_ledger(dataset_id, kind, click_id, clicked_at, browser, event_pk,"
    " received_at) SELECT d, k, c, t, b, p, $7 FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::float8[], $5::text[], $6::int8[]) AS x(d, k, c, t, b, p)"
    " ON CONFLICT (dataset_id, kind, click_id) DO NOTHING"
)


async def write_group(
    conn: asyncpg.Connection, batches: Sequence[Sequence[AcceptedEvent]], now: float
) -> list[list[bool]]:
    """Write the events of several ingest calls (inside the caller's transaction); for each
    call, True per event stored, False per duplicate (also within the group)."""
    first: dict[tuple[str, str, str], tuple[int, int]] = {}
    for bi, events in enumerate(batches):
        for ei, ev in enumerate(events):
            first.setdefault((ev.dataset_id, ev.event_name, ev.event_id), (bi, ei))
    # a consistent lock order across processes: no deadlocks between group commits
    keys = sorted(first)
    rows = await conn.fetch(
        _DEDUP,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        now,
        now - DEDUP_WINDOW_SECONDS,
    )
    new = {(r[0], r[1], r[2]) for r in rows}
    stored = sorted(first[k] for k in keys if k in new)
    if stored:
        evs = [batches[bi][ei] for bi, ei in stored]
        inserted = await conn.fetch(
            _INSERT_EVENTS,
            [e.dataset_id for e in evs],
            [e.event_name for e in evs],
            [e.event_id for e in evs],
            [e.event_time for e in evs],
            [e.source for e in evs],
            [e.test_event_code for e in evs],
            [e.payload_json() for e in evs],
            list(range(len(evs))),
            now,
        )
        await _write_rows(conn, evs, inserted, now)
    kept = set(stored)
    return [[(bi, ei) in kept for ei in range(len(events))] for bi, events in enumerate(batches)]


async def _write_rows(
    conn: asyncpg.Connection,
    evs: list[AcceptedEvent],
    inserted: list[asyncpg.Record],
    now: float,
) -> None:
    pk_of = {(r[1], r[2], r[3]): r[0] for r in inserted}
    datasets = sorted({e.dataset_id for e in evs})
    by_dataset: dict[str, list[tuple[int, str]]] = {d: [] for d in datasets}
    for r in await conn.fetch(
        "SELECT id, dataset_id, options FROM destinations WHERE dataset_id = ANY($1::text[])"
        " ORDER BY id",
        datasets,
    ):
        by_dataset[r[1]].append((r[0], r[2]))
    wanted = sorted(
        {
            key
            for e in evs
            if e.consent is not None and e.consent.state in ("pending", "unknown")
            for key in (e.consent.subject, e.consent.token_key)
            if key is not None
        }
    )
    recorded: dict[tuple[str, str], tuple[str, str, float]] = {}
    if wanted:
        for r in await conn.fetch(
            "SELECT dataset_id, subject, state, source, updated_at FROM consent_subjects"
            " WHERE subject = ANY($1::text[])",
            wanted,
        ):
            recorded[(r[0], r[1])] = (r[2], r[3], float(r[4]))
    planner = OutboxPlanner(
        lambda dataset_id: by_dataset.get(dataset_id, []),
        lambda dataset_id, subject: recorded.get((dataset_id, subject)),
    )
    rows = ingest_rows(planner, ((pk_of[(e.dataset_id, e.event_name, e.event_id)], e) for e in evs))
    if rows.outbox:
        await conn.execute(_INSERT_OUTBOX, *map(list, zip(*rows.outbox, strict=True)), now)
    if rows.holds:
        await conn.execute(_INSERT_HOLDS, *map(list, zip(*rows.holds, strict=True)))
    if rows.clicks:
        await conn.execute(_INSERT_CLICKS, *map(list, zip(*rows.clicks, strict=True)), now)
