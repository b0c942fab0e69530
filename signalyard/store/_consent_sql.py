"""Held events and late consent: the SQL both stores run (written once with ``?``
placeholders; :func:`pg` turns them into ``$n``) and the decision in between, which is pure.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from signalyard.event import Consent
from signalyard.store._outbox_plan import STATUS_OF
from signalyard.store.base import ConsentUpdate
from signalyard.transforms.consent import decide, parse_policy

RECORD = (
    "INSERT INTO consent_subjects(dataset_id, subject, state, source, updated_at)"
    " VALUES (?,?,?,?,?) ON CONFLICT (dataset_id, subject) DO UPDATE SET"
    " state = excluded.state, source = excluded.source, updated_at = excluded.updated_at"
    " WHERE consent_subjects.updated_at <= excluded.updated_at"
)
"""The last consent given for a subject (a later one replaces it)."""
RECORDED = (
    "SELECT state, source, updated_at FROM consent_subjects WHERE dataset_id = ? AND subject = ?"
)
SUBJECTS_HELD = "SELECT DISTINCT subject FROM consent_holds WHERE dataset_id = ? AND subject IN "
"""Followed by ``(?,?,...)``: which of a request's subjects have held events at all (most have
none: a request's decisions then cost one upsert each and this one query)."""
SUBJECTS_HELD_PG = (
    "SELECT DISTINCT subject FROM consent_holds WHERE dataset_id = $1 AND subject = ANY($2::text[])"
)
IN_CHUNK = 500
"""Subjects per ``SUBJECTS_HELD`` query (SQLite's bound-parameter limit is far above)."""
HELD_OF_SUBJECT = (
    "SELECT o.id, o.destination_id, d.options, e.payload FROM consent_holds h"
    " JOIN outbox o ON o.event_pk = h.event_pk AND o.status = 'held'"
    " JOIN events e ON e.pk = h.event_pk"
    " JOIN destinations d ON d.id = o.destination_id"
    " WHERE h.dataset_id = ? AND h.subject = ? ORDER BY o.id"
)
SET_DECISION = (
    "UPDATE outbox SET status = ?, consent_action = ?, consent_reason = ?, due_at = ?,"
    " settled_at = ? WHERE id = ? AND status = 'held'"
)
FORGET_RESOLVED = (
    "DELETE FROM consent_holds WHERE event_pk IN"
    " (SELECT event_pk FROM consent_holds WHERE dataset_id = ? AND subject = ?) AND NOT EXISTS"
    " (SELECT 1 FROM outbox o WHERE o.event_pk = consent_holds.event_pk AND o.status = 'held')"
)
"""The holds of the subject's events that no longer wait, under every key (an event from a
browser is held under its ``fbp`` and under its consent token)."""
EXPIRE = (
    "UPDATE outbox SET status = 'dropped', settled_at = ?, consent_reason = ?"
    " WHERE id IN (SELECT o.id FROM outbox o JOIN events e ON e.pk = o.event_pk"
    " WHERE o.status = 'held' AND e.event_time < ?) AND status = 'held'"
)
"""``status = 'held'`` outside the subquery too: on PostgreSQL a row released by a concurrent
consent update is re-checked against it, and left alone."""
FORGET_EXPIRED = (
    "DELETE FROM consent_holds WHERE NOT EXISTS"
    " (SELECT 1 FROM outbox o WHERE o.event_pk = consent_holds.event_pk AND o.status = 'held')"
)


def _region(payload: bytes | str) -> str | None:
    try:
        stored = orjson.loads(payload).get("_consent") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return None
    region = stored.get("region") if isinstance(stored, dict) else None
    return region if isinstance(region, str) else None


def decisions(
    rows: Sequence[Sequence[Any]], consent: Consent, now: float
) -> list[tuple[str, str, str, float, float | None, int]]:
    """``SET_DECISION`` arguments for the held rows (id, destination, options, payload) whose
    decision under ``consent`` is no longer ``hold``."""
    out = []
    for outbox_id, _destination_id, options, payload in rows:
        opts = orjson.loads(options) if isinstance(options, str | bytes) else options
        policy = parse_policy(opts.get("consent_policy") if isinstance(opts, dict) else None)
        region = _region(payload) or consent.region
        decision = decide(policy, dataclasses.replace(consent, region=region))
        if decision.action == "hold":
            continue
        status = STATUS_OF.get(decision.action, "queued")
        settled = now if status == "dropped" else None
        out.append(
            (status, decision.action, f"{decision.reason} (later)", now, settled, int(outbox_id))
        )
    return out


def subjects_held_sqlite(
    conn: sqlite3.Connection, decisions: Sequence[tuple[str, str, Consent]]
) -> set[tuple[str, str]]:
    """The (dataset, subject) pairs of ``decisions`` that have held events."""
    by_dataset: dict[str, list[str]] = {}
    for dataset_id, subject, _ in decisions:
        by_dataset.setdefault(dataset_id, []).append(subject)
    held: set[tuple[str, str]] = set()
    for dataset_id, subjects in by_dataset.items():
        unique = list(dict.fromkeys(subjects))
        for i in range(0, len(unique), IN_CHUNK):
            chunk = unique[i : i + IN_CHUNK]
            marks = "(" + ",".join("?" * len(chunk)) + ")"
            for (subject,) in conn.execute(SUBJECTS_HELD + marks, (dataset_id, *chunk)).fetchall():
                held.add((dataset_id, subject))
    return held


def update_sqlite(
    conn: sqlite3.Connection, made: Sequence[tuple[str, str, Consent]], now: float
) -> ConsentUpdate:
    """The SQLite store's ``update_consents`` job (inside the caller's transaction)."""
    released = dropped = still = 0
    conn.executemany(RECORD, [(d, subject, c.state, c.source, now) for d, subject, c in made])
    held = subjects_held_sqlite(conn, made)
    for dataset_id, subject, consent in made:
        if (dataset_id, subject) not in held:
            continue
        rows = conn.execute(HELD_OF_SUBJECT, (dataset_id, subject)).fetchall()
        changes = decisions(rows, consent, now)
        conn.executemany(SET_DECISION, changes)
        conn.execute(FORGET_RESOLVED, (dataset_id, subject))
        gone = sum(c[0] == "dropped" for c in changes)
        released += len(changes) - gone
        dropped += gone
        still += len(rows) - len(changes)
    return ConsentUpdate(released, dropped, still)
