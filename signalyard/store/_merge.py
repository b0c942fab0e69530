"""A richer duplicate merged into the copy already stored (both stores).

The browser script often sends an event first with little more than ``fbp``; the server
then sends the same event (same dataset, event name and ``event_id``) with the email, IP
address and user agent. The dedup key stores the first copy only. When a duplicate arrives
while the stored copy still waits for delivery (an outbox row ``queued`` or ``held``), the
``user_data`` keys the stored copy lacks are added to it:

- only a duplicate from an authenticated source (an ingest key, a signed webhook) is
  merged, into a copy from any source: the issue's case is the browser's copy first and the
  shop server's richer copy later. A duplicate from the browser's ``/collect``
  (:data:`UNAUTHENTICATED_SOURCES`: anyone can send it, with any ``fbp``, ``fbc``, address or
  agent) is never merged: where event ids are predictable (``order-3000``), it would let
  anyone attach their own browser ids to another customer's purchase before it is sent;
- an existing value is never overwritten: a plaintext key (``client_ip_address``, ``fbp``...)
  is added only when the stored copy has none; a hashed key's list (``em``, ``ph``...) gets
  the duplicate's values it lacks, up to ``MAX_VALUES_PER_KEY`` values (the cap validation
  applies to every event); the keys whose values did not all fit are reported (``cut``);
- the sources of both copies are recorded in the stored event as ``_sources`` (fields starting
  with ``_`` are never sent to a platform);
- the identity variants of the values added (``_identity``) come with them
  (:func:`~signalyard.transforms.identity.merge_identity`);
- consent is never widened: the stored copy's ``_consent`` and its outbox decisions stay as
  they are (when the stored copy's state is the stricter, it governs the merged data too). A
  duplicate that states a stricter consent than the stored copy's (for instance ``denied``
  against ``granted``) is not merged at all: its data was given under that stricter state, so
  it must not be sent under the looser one. A duplicate that states nothing (``unknown``, a
  server that does not pass consent on) restricts nothing: the stored copy's state decides.

After every outbox row of the stored copy was sent, or while every row still waiting is
being sent (leased by a worker), the richer copy came too late: nothing is written (the
stored event must show what the platform received, and a send in flight carries the payload
read when it was claimed), it is reported as ``late`` and counted on the dashboard's
deduplication page.

Each merge runs in one transaction. On PostgreSQL the stored event and its outbox rows are
locked (``FOR UPDATE``) before they are read, so copies merged at once by several processes
add up (no lost update), and a worker cannot claim the rows between the check and the write
(its claim skips locked rows and reads the merged payload afterwards). SQLite runs every job
on one connection, one after the other.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson

from signalyard.event import AcceptedEvent
from signalyard.store._marks import pg
from signalyard.store.base import MergeResult
from signalyard.transforms.identity import merge_identity
from signalyard.transforms.user_data import MAX_VALUES_PER_KEY

if TYPE_CHECKING:
    import asyncpg

__all__ = [
    "MAX_SOURCES",
    "MAX_VALUES_PER_KEY",
    "UNAUTHENTICATED_SOURCES",
    "merge_one",
    "merge_pg",
    "merge_sqlite",
]

UNAUTHENTICATED_SOURCES: Final = frozenset({"browser"})
"""Sources anyone can send as (``/collect`` takes no key): their duplicates are never merged."""
MAX_SOURCES = 8
"""Sources kept in ``_sources``."""

_STRICTNESS = {"granted": 0, "unknown": 1, "pending": 2, "denied": 3}
"""Consent states from the loosest to the strictest."""

_KEY_TIME = (
    "SELECT received_at FROM dedup_keys WHERE dataset_id = ? AND event_name = ? AND event_id = ?"
)
"""When the stored copy was received: its dedup key and its event row share that time."""
_SAME_TIME = "SELECT pk, event_name, event_id FROM events WHERE dataset_id = ? AND received_at = ?"
"""The events stored by one ingest (or one group commit): found by the index on
``(dataset_id, received_at)``, so finding the stored copy costs no index on ``events`` the
common path would have to maintain."""
_EVENT = "SELECT source, payload FROM events WHERE pk = ?"
_ROWS = "SELECT status, lease_until FROM outbox WHERE event_pk = ?"
_UPDATE = "UPDATE events SET payload = ? WHERE pk = ?"
_PG_KEY_TIME, _PG_SAME_TIME = pg(_KEY_TIME), pg(_SAME_TIME)
_PG_EVENT = pg(_EVENT) + " FOR UPDATE"
_PG_ALL_ROWS = pg("SELECT id, status, lease_until FROM outbox WHERE event_pk = ?")
_PG_FREE_ROWS = pg("SELECT id FROM outbox WHERE event_pk = ? ORDER BY id FOR UPDATE SKIP LOCKED")
"""The outbox rows no claim or settle holds right now, locked for this transaction. A merge
never waits for an outbox row: a worker's settle locks its rows in its own order, and two
transactions waiting for each other's rows would deadlock, one of them aborted (a settle
aborted that way leaves its rows to be sent again). A row another transaction holds is being
claimed or settled: in flight, as if leased."""
_PG_UPDATE = pg(_UPDATE)

_Key = tuple[str, str, str]
"""(dataset, event name, event id)."""


def _key(ev: AcceptedEvent) -> _Key:
    return (ev.dataset_id, ev.event_name, ev.event_id)


def _stored_pks(
    times: dict[_Key, float], rows_at: dict[tuple[str, float], list[Any]]
) -> dict[_Key, int]:
    """The stored copy of each key: the newest event with that key received when its dedup
    key was written. Linear: each group of events stored together is read once."""
    out: dict[_Key, int] = {}
    for (dataset_id, _), rows in rows_at.items():
        for pk, name, event_id in rows:
            key = (dataset_id, name, event_id)
            if key in times and pk > out.get(key, -1):
                out[key] = pk
    return out


def _strictness(consent: object) -> int:
    state = consent.get("state") if isinstance(consent, dict) else None
    return _STRICTNESS.get(state if isinstance(state, str) else "unknown", 1)


def _merge_user_data(stored: dict[str, Any], extra: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Add ``extra``'s keys and values ``stored`` lacks (in place); the keys changed, and the
    list keys some of whose new values did not fit under :data:`MAX_VALUES_PER_KEY`. Linear
    in the values (a set of those present)."""
    added: list[str] = []
    cut: list[str] = []
    for key, value in extra.items():
        have = stored.get(key)
        if have is None:
            if isinstance(value, list) and len(value) > MAX_VALUES_PER_KEY:
                value = value[:MAX_VALUES_PER_KEY]
                cut.append(key)
            stored[key] = value
            added.append(key)
        elif isinstance(have, list) and isinstance(value, list):
            present = {v for v in have if isinstance(v, str | int)}
            grown = left_out = False
            for v in value:
                if not isinstance(v, str | int) or v in present:
                    continue
                if len(have) >= MAX_VALUES_PER_KEY:
                    left_out = True
                    break
                have.append(v)
                present.add(v)
                grown = True
            if grown:
                added.append(key)
            if left_out:
                cut.append(key)
    return added, cut


def _outcome(stored: dict[str, Any], extra: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The keys merging would add and those whose values it would cut (nothing is changed)."""
    copy = {k: list(v) if isinstance(v, list) else v for k, v in stored.items()}
    return _merge_user_data(copy, extra)


def _would_add(stored: dict[str, Any], extra: dict[str, Any]) -> list[str]:
    """The keys merging would change (nothing is changed)."""
    return _outcome(stored, extra)[0]


def merge_one(
    stored_source: str,
    stored: dict[str, Any],
    statuses: Sequence[tuple[str, float | None]],
    duplicate: AcceptedEvent,
    now: float,
) -> tuple[MergeResult, bool]:
    """Decide, and apply to ``stored`` (the stored payload, in place) when it still waits for
    delivery, what a duplicate adds; ``statuses`` are the stored copy's outbox rows (status,
    lease_until). Also whether ``stored`` changed (to be written)."""
    if duplicate.source in UNAUTHENTICATED_SOURCES:
        return MergeResult("same"), False
    extra = duplicate.payload.get("user_data")
    if not isinstance(extra, dict) or not extra:
        return MergeResult("same"), False
    user_data = stored.get("user_data")
    if not isinstance(user_data, dict):
        user_data = {}
    waiting = [lease for status, lease in statuses if status in ("queued", "held")]
    if not waiting:
        added = _would_add(user_data, extra)
        sent = any(status == "delivered" for status, _ in statuses)
        if added and sent:
            return MergeResult("late", tuple(added)), False
        return MergeResult("same"), False
    said = duplicate.consent.state if duplicate.consent is not None else "unknown"
    if said != "unknown" and _STRICTNESS.get(said, 1) > _strictness(stored.get("_consent")):
        return MergeResult("stricter_consent", tuple(_would_add(user_data, extra))), False
    if all(lease is not None and lease > now for lease in waiting):
        # Every waiting row is in a request right now, with the payload read when it was
        # claimed: written now, the stored event would show keys the platform never received
        # should that send succeed. Late, and nothing changes.
        added = _would_add(user_data, extra)
        return (MergeResult("late", tuple(added)) if added else MergeResult("same")), False
    keys_before = list(user_data)
    added, cut = _merge_user_data(user_data, extra)
    if not added:
        return MergeResult("same", cut=tuple(cut)), False
    stored["user_data"] = user_data
    # The identity variants of the values added come with them (never sent: ``_``).
    if "_identity" in stored or "_identity" in duplicate.payload:
        stored["_identity"] = merge_identity(
            stored.get("_identity"), keys_before, duplicate.payload.get("_identity"), user_data
        )
    sources = stored.get("_sources")
    if not isinstance(sources, list):
        sources = [stored_source]
    if duplicate.source not in sources and len(sources) < MAX_SOURCES:
        sources.append(duplicate.source)
    stored["_sources"] = sources
    return MergeResult("merged", tuple(added), tuple(cut)), True


def _candidate(ev: AcceptedEvent) -> bool:
    extra = ev.payload.get("user_data")
    return ev.source not in UNAUTHENTICATED_SOURCES and isinstance(extra, dict) and bool(extra)


def _order(events: Sequence[AcceptedEvent]) -> list[int]:
    """Candidates in key order: merges in several processes lock rows in the same order."""
    return sorted(
        (i for i, ev in enumerate(events) if _candidate(ev)), key=lambda i: _key(events[i])
    )


def merge_sqlite(
    conn: sqlite3.Connection, events: Sequence[AcceptedEvent], now: float
) -> list[MergeResult]:
    """The SQLite store's merge job (one savepoint of a group commit)."""
    results = [MergeResult("same")] * len(events)
    order = _order(events)
    times: dict[_Key, float] = {}
    for i in order:
        row = conn.execute(_KEY_TIME, _key(events[i])).fetchone()
        if row is not None:
            times[_key(events[i])] = row[0]
    rows_at = {
        (d, t): conn.execute(_SAME_TIME, (d, t)).fetchall()
        for d, t in {(k[0], t) for k, t in times.items()}
    }
    pks = _stored_pks(times, rows_at)
    for i in order:
        pk = pks.get(_key(events[i]))
        if pk is None:
            continue
        source, payload = conn.execute(_EVENT, (pk,)).fetchone()
        stored = orjson.loads(payload)
        statuses = [(r[0], r[1]) for r in conn.execute(_ROWS, (pk,))]
        results[i], changed = merge_one(source, stored, statuses, events[i], now)
        if changed:
            conn.execute(_UPDATE, (orjson.dumps(stored), pk))
    return results


async def merge_pg(
    conn: asyncpg.Connection, events: Sequence[AcceptedEvent], now: float
) -> list[MergeResult]:
    """The PostgreSQL store's merge, inside the caller's transaction: each stored copy and its
    outbox rows are locked before they are read."""
    results = [MergeResult("same")] * len(events)
    order = _order(events)
    times: dict[_Key, float] = {}
    for i in order:
        at = await conn.fetchval(_PG_KEY_TIME, *_key(events[i]))
        if at is not None:
            times[_key(events[i])] = at
    rows_at = {
        (d, t): [tuple(r) for r in await conn.fetch(_PG_SAME_TIME, d, t)]
        for d, t in {(k[0], t) for k, t in times.items()}
    }
    pks = _stored_pks(times, rows_at)
    for i in order:
        pk = pks.get(_key(events[i]))
        if pk is None:
            continue
        row = await conn.fetchrow(_PG_EVENT, pk)
        stored = orjson.loads(row["payload"])
        extra = events[i].payload.get("user_data")
        user_data = stored.get("user_data")
        if not isinstance(extra, dict) or not any(
            _outcome(user_data if isinstance(user_data, dict) else {}, extra)
        ):
            continue  # a repeat adding and cutting nothing (the usual duplicate): no row locked
        free = {r[0] for r in await conn.fetch(_PG_FREE_ROWS, pk)}
        statuses = [
            (r[1], r[2] if r[0] in free else math.inf) for r in await conn.fetch(_PG_ALL_ROWS, pk)
        ]
        results[i], changed = merge_one(row["source"], stored, statuses, events[i], now)
        if changed:
            await conn.execute(_PG_UPDATE, orjson.dumps(stored), pk)
    return results
