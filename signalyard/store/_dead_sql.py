"""Dead letters: the queries both stores run, written once with ``?`` placeholders
(:func:`signalyard.store._marks.pg` for PostgreSQL). A :class:`ReplayRule` becomes
conditions of the query itself, so a selection of replayable dead letters reaches them
however many others (refused as invalid, past the age limit) died since; they are read
through the partial index on dead rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from signalyard.store.base import DEAD_LETTER_IDS_MAX, ReplayRule

_COLUMNS = (
    "o.id, o.destination_id, e.event_name, e.event_id, e.event_time, o.dead_reason,"
    " o.dead_code, o.dead_subcode, o.attempts, o.settled_at"
)


def _where(
    destination_id: int | None, outbox_ids: Sequence[int] | None, rule: ReplayRule | None
) -> tuple[str, list[Any]]:
    sql = " WHERE o.status='dead'"
    args: list[Any] = []
    if destination_id is not None:
        sql += " AND o.destination_id=?"
        args.append(destination_id)
    if outbox_ids is not None:
        ids = list(outbox_ids)
        if len(ids) > DEAD_LETTER_IDS_MAX:
            raise ValueError(f"at most {DEAD_LETTER_IDS_MAX} outbox ids, got {len(ids)}")
        sql += f" AND o.id IN ({','.join('?' * len(ids))})" if ids else " AND 1=0"
        args.extend(ids)
    if rule is not None:
        if rule.skip_code is not None:
            sql += " AND (o.dead_code IS NULL OR o.dead_code <> ?)"
            args.append(rule.skip_code)
        if rule.skip_reason_prefix:
            sql += " AND substr(coalesce(o.dead_reason, ''), 1, ?) <> ?"
            args.extend((len(rule.skip_reason_prefix), rule.skip_reason_prefix))
        if rule.min_event_time is not None:
            sql += " AND e.event_time >= ?"
            args.append(rule.min_event_time)
    return sql, args


def select(
    destination_id: int | None,
    limit: int,
    outbox_ids: Sequence[int] | None,
    rule: ReplayRule | None,
) -> tuple[str, list[Any]]:
    """The dead letters, most recent first: the columns of :class:`DeadLetter`."""
    where, args = _where(destination_id, outbox_ids, rule)
    sql = (
        f"SELECT {_COLUMNS} FROM outbox o JOIN events e ON e.pk=o.event_pk{where}"
        " ORDER BY o.settled_at DESC, o.id DESC LIMIT ?"
    )
    return sql, [*args, limit]


def count(destination_id: int | None, rule: ReplayRule | None) -> tuple[str, list[Any]]:
    """How many dead letters (the events are read only when the rule needs their time)."""
    where, args = _where(destination_id, None, rule)
    join = " JOIN events e ON e.pk=o.event_pk" if rule and rule.min_event_time is not None else ""
    return f"SELECT count(*) FROM outbox o{join}{where}", args
