"""The alerts raised so far (table ``alerts``, migration 0005): one row per alert, ``firing``
until resolved; at most one firing row per kind and subject (a unique partial index), so two
processes evaluating the same rule raise it once. The rules that raise and resolve them are in
:mod:`signalyard.insights.alerts`."""

from __future__ import annotations

from dataclasses import dataclass

from signalyard.store.base import Store
from signalyard.store.dual import execute, fetch

__all__ = ["Alert", "firing_alerts", "raise_alert", "recent_alerts", "resolve_alert"]

_COLUMNS = "id, kind, subject, state, message, fired_at, resolved_at"


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    kind: str
    """``volume_drop``, ``error_rate``, ``destination_paused``, ``age_limit``."""
    subject: str
    """What it is about: ``dataset:<id>`` or ``destination:<id>``."""
    state: str
    """``firing`` or ``resolved``."""
    message: str
    fired_at: float
    resolved_at: float | None


def _alert(row: tuple[object, ...]) -> Alert:
    return Alert(*row)  # type: ignore[arg-type]


async def recent_alerts(store: Store, *, limit: int = 50) -> list[Alert]:
    """Firing alerts first, then the most recently fired."""
    rows = await fetch(
        store,
        f"SELECT {_COLUMNS} FROM alerts ORDER BY CASE WHEN state = 'firing' THEN 0 ELSE 1 END,"
        " fired_at DESC, id DESC LIMIT ?",
        (limit,),
    )
    return [_alert(r) for r in rows]


async def firing_alerts(store: Store) -> list[Alert]:
    rows = await fetch(
        store, f"SELECT {_COLUMNS} FROM alerts WHERE state = 'firing' ORDER BY fired_at, id"
    )
    return [_alert(r) for r in rows]


async def raise_alert(store: Store, kind: str, subject: str, message: str, *, now: float) -> bool:
    """Record a firing alert; False (and nothing changed) if one is already firing for this
    kind and subject: the caller notifies only on True."""
    changed = await execute(
        store,
        "INSERT INTO alerts(kind, subject, state, message, fired_at) VALUES (?,?,'firing',?,?)"
        " ON CONFLICT (kind, subject) WHERE state = 'firing' DO NOTHING",
        (kind, subject, message, now),
    )
    return changed == 1


async def resolve_alert(store: Store, kind: str, subject: str, *, now: float) -> Alert | None:
    """Resolve the firing alert of this kind and subject; the alert if one was firing (the
    caller notifies the recovery), else None."""
    rows = await fetch(
        store,
        "UPDATE alerts SET state = 'resolved', resolved_at = ? WHERE kind = ? AND subject = ?"
        f" AND state = 'firing' RETURNING {_COLUMNS}",
        (now, kind, subject),
    )
    return _alert(rows[0]) if rows else None
