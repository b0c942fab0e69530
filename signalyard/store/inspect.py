"""Read-only views for operators (``signalyard status``, later the dashboard): consent
decisions and the trail of one event. Either store (:mod:`signalyard.store.dual`)."""

from __future__ import annotations

from dataclasses import dataclass

from signalyard.store.base import Store
from signalyard.store.dual import fetch

__all__ = ["ConsentDecisionCount", "EventTrail", "consent_decisions", "event_trail"]


@dataclass(frozen=True, slots=True)
class ConsentDecisionCount:
    destination_id: int
    action: str
    reason: str
    status: str
    events: int


@dataclass(frozen=True, slots=True)
class EventTrail:
    """Where one event stands at one destination, and why."""

    destination_id: int
    dataset_id: str
    event_name: str
    event_id: str
    event_time: int
    source: str
    status: str
    consent_action: str | None
    consent_reason: str | None
    attempts: int
    last_error: str | None
    dead_reason: str | None


_DECISIONS = (
    "SELECT destination_id, consent_action, consent_reason, status, COUNT(*) FROM outbox"
    " WHERE consent_action IS NOT NULL AND consent_action <> 'full'"
    " GROUP BY destination_id, consent_action, consent_reason, status"
    " ORDER BY COUNT(*) DESC, destination_id LIMIT ?"
)
_TRAIL = (
    "SELECT o.destination_id, e.dataset_id, e.event_name, e.event_id, e.event_time, e.source,"
    " o.status, o.consent_action, o.consent_reason, o.attempts, o.last_error, o.dead_reason"
    " FROM events e JOIN outbox o ON o.event_pk = e.pk WHERE e.event_id = ?"
)


async def consent_decisions(store: Store, *, limit: int = 50) -> list[ConsentDecisionCount]:
    """Events not sent in full, by destination, decision, reason and outbox state (biggest
    first)."""
    rows = await fetch(store, _DECISIONS, (limit,))
    return [ConsentDecisionCount(int(r[0]), r[1], r[2] or "", r[3], int(r[4])) for r in rows]


async def event_trail(
    store: Store, event_id: str, *, dataset_id: str | None = None
) -> list[EventTrail]:
    sql, args = _TRAIL, [event_id]
    if dataset_id is not None:
        sql += " AND e.dataset_id = ?"
        args.append(dataset_id)
    rows = await fetch(store, sql + " ORDER BY e.pk, o.destination_id", args)
    return [EventTrail(*r) for r in rows]
