"""Attribution's tables (migration 0009): the SQL both stores run, written once with ``?``
placeholders (:func:`~signalyard.store._marks.pg` turns them into ``$n``), and the SQLite
jobs. The store reads events for attribution and keeps its evidence; what the evidence means
is :mod:`signalyard.attribution`'s business.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from signalyard.store.base import AttributionEvidence, AttributionRows, StoredEvent

EVENTS_AFTER = (
    "SELECT pk, event_name, event_id, event_time, source, test_event_code, payload, received_at"
    " FROM events"
    " WHERE dataset_id = ? AND pk > ? ORDER BY pk LIMIT ?"
)
"""A dataset's events after a cursor, oldest first (``events_dataset_received`` does not
serve this order; the primary key does, filtered by dataset)."""
CURSOR = "SELECT last_pk FROM attribution_cursor WHERE dataset_id = ?"
SET_CURSOR = (
    "INSERT INTO attribution_cursor(dataset_id, last_pk, synced_at) VALUES (?,?,?)"
    " ON CONFLICT (dataset_id) DO UPDATE SET last_pk = excluded.last_pk,"
    " synced_at = excluded.synced_at WHERE attribution_cursor.last_pk < excluded.last_pk"
)
ORDER = (
    "INSERT INTO attribution_orders(dataset_id, order_id, event_pk, created_at, currency, gross,"
    " kind, source, node) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (dataset_id, order_id) DO UPDATE"
    " SET event_pk = excluded.event_pk, created_at = excluded.created_at,"
    " currency = excluded.currency, gross = excluded.gross, kind = excluded.kind,"
    " source = excluded.source, node = excluded.node"
    " WHERE (excluded.created_at, excluded.event_pk)"
    " < (attribution_orders.created_at, attribution_orders.event_pk)"
)
"""An order's earliest Purchase (by its time, then its arrival) is the order, whatever order
they arrive in; every Purchase of it links its ids to the order (``order:<id>``)."""
TOUCH = (
    "INSERT INTO attribution_touches(dataset_id, event_pk, at, channel, detail, campaign, node)"
    " VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"
)
_CLICK_TIME = (
    "coalesce((SELECT CASE WHEN ? = 'order' AND event_pk = ? AND clicked_at = ? THEN NULL"
    " WHEN ? IN ('event', 'fbc') THEN {lesser}(clicked_at, ?) ELSE clicked_at END"
    " FROM click_ledger WHERE dataset_id = ? AND kind = ? AND click_id = ?),"
    " CASE WHEN ? IN ('fbc', 'chat') THEN CAST(? AS DOUBLE PRECISION) END)"
)
"""The ledger's click time (its first sighting); none when that sighting was an order with no
time of its own (the ledger then took the order's time); and for a click an event carried, no
later than that event (a click is never after an event that carries it: a landing that
arrives after its order still gives its click its own time). An ``fbc`` cookie's click is no
later than the cookie's creation, which is its time when the ledger never saw it; and a chat's
click (a click-to-message ad's, never in the ledger under its own id) the time of the chat's
event that carried it."""
CLICK = (
    "INSERT INTO attribution_clicks(dataset_id, kind, click_id, clicked_at, first_pk, evidence,"
    f" campaign) VALUES (?,?,?,{_CLICK_TIME},?,?,?) ON CONFLICT (dataset_id, kind, click_id)"
    " DO UPDATE SET clicked_at = CASE WHEN excluded.clicked_at IS NULL"
    " THEN attribution_clicks.clicked_at ELSE {earliest} END,"
    " campaign = coalesce(attribution_clicks.campaign, excluded.campaign)"
)
"""A click id with its time from the click ledger (its first sighting, where the page said when
it landed) and the campaign of its landing; seen again, the earliest known time is kept, and
the first campaign known."""
CLICK_SQLITE = CLICK.format(
    lesser="min",
    earliest="coalesce(min(attribution_clicks.clicked_at, excluded.clicked_at),"
    " excluded.clicked_at)",
)
CLICK_PG = CLICK.format(
    lesser="least", earliest="least(attribution_clicks.clicked_at, excluded.clicked_at)"
)
LINK = (
    "INSERT INTO attribution_links(dataset_id, a, b, first_pk, observed_at) VALUES (?,?,?,?,?)"
    " ON CONFLICT (dataset_id, a, b) DO UPDATE SET observed_at = excluded.observed_at"
    " WHERE attribution_links.observed_at IS NULL"
    " OR excluded.observed_at < attribution_links.observed_at"
)
"""A link keeps the earliest time an event that carried it says (``event_time``), whichever
arrived first (a late webhook dated before the events already in), and a link stored before
link times were kept (migration 0011) takes its first known time; written again only then."""
LOAD_ORDERS = (
    "SELECT o.order_id, o.event_pk, o.created_at, o.currency, o.gross, o.kind, o.source, o.node,"
    " (SELECT max(w.refunded_value) FROM orders w WHERE w.dataset_id = o.dataset_id"
    " AND w.order_id = o.order_id),"
    " (SELECT min(w.cancelled_at) FROM orders w WHERE w.dataset_id = o.dataset_id"
    " AND w.order_id = o.order_id)"
    " FROM attribution_orders o WHERE o.dataset_id = ? ORDER BY o.created_at, o.order_id"
)
"""Orders with their refunds and cancellation as the order webhooks recorded them (by the
order's id, whichever source sent its Purchase first)."""
LOAD_TOUCHES = (
    "SELECT event_pk, at, channel, detail, campaign, node FROM attribution_touches"
    " WHERE dataset_id = ? ORDER BY event_pk"
)
LOAD_CLICKS = (
    "SELECT kind, click_id, clicked_at, first_pk, evidence, campaign FROM attribution_clicks"
    " WHERE dataset_id = ? ORDER BY first_pk, kind, click_id"
)
LOAD_LINKS = (
    "SELECT a, b, observed_at FROM attribution_links WHERE dataset_id = ? ORDER BY first_pk, a, b"
)


def click_args(dataset_id: str, rows: AttributionRows) -> list[tuple[Any, ...]]:
    return [
        (
            dataset_id,
            kind,
            click_id,
            evidence,
            pk,
            at,
            evidence,
            at,
            dataset_id,
            kind,
            click_id,
            evidence,
            at,
            pk,
            evidence,
            campaign,
        )
        for kind, click_id, pk, evidence, at, campaign in rows.clicks
    ]


def events_sqlite(
    conn: sqlite3.Connection, dataset_id: str, after_pk: int, limit: int
) -> list[StoredEvent]:
    return [
        StoredEvent(int(r[0]), r[1], r[2], float(r[3]), r[4], r[5], r[6], float(r[7]))
        for r in conn.execute(EVENTS_AFTER, (dataset_id, after_pk, limit))
    ]


def save_sqlite(
    conn: sqlite3.Connection, dataset_id: str, rows: AttributionRows, last_pk: int, now: float
) -> None:
    conn.executemany(ORDER, [(dataset_id, *r) for r in rows.orders])
    conn.executemany(TOUCH, [(dataset_id, *r) for r in rows.touches])
    conn.executemany(CLICK_SQLITE, click_args(dataset_id, rows))
    conn.executemany(LINK, [(dataset_id, *r) for r in rows.links])
    conn.execute(SET_CURSOR, (dataset_id, last_pk, now))


def shared_rows(
    rows: Iterable[Sequence[Any]], seen: dict[str, str], columns: Collection[int]
) -> list[tuple[Any, ...]]:
    """``rows`` as tuples whose equal strings in ``columns`` are one object (``seen``: those
    met so far): a browser's node, a channel, a campaign recur across thousands of rows, and
    the driver makes a new string for each (a year of a shop's evidence is held in memory at
    once). Unique values (order ids, click ids) are left as they are."""
    out = []
    for row in rows:
        out.append(
            tuple(
                seen.setdefault(v, v) if i in columns and type(v) is str else v
                for i, v in enumerate(row)
            )
        )
    return out


SHARED_COLUMNS = {
    "orders": frozenset({3, 5, 6, 7}),  # currency, kind, source, node
    "touches": frozenset({2, 3, 4, 5}),  # channel, detail, campaign, node
    "clicks": frozenset({0, 4, 5}),  # kind, evidence, campaign
    "links": frozenset({0, 1}),  # the two nodes
}
"""The columns of each loaded table whose values recur (:func:`shared_rows`)."""


def load_sqlite(conn: sqlite3.Connection, dataset_id: str) -> AttributionEvidence:
    seen: dict[str, str] = {}

    def rows(sql: str, table: str) -> Sequence[tuple[Any, ...]]:
        return shared_rows(conn.execute(sql, (dataset_id,)), seen, SHARED_COLUMNS[table])

    return AttributionEvidence(
        orders=rows(LOAD_ORDERS, "orders"),
        touches=rows(LOAD_TOUCHES, "touches"),
        clicks=rows(LOAD_CLICKS, "clicks"),
        links=rows(LOAD_LINKS, "links"),
    )
