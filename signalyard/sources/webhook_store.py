"""The SQL of the order webhooks: their sources (secret and options), the delivery ledger and
the state of each order. Works on both stores: a :class:`SQLiteStore` runs each function as one
job in its group-committed transaction (``run_job``), a :class:`PostgresStore` in one
transaction on its pool. Each statement is written once with ``?`` placeholders.

Tables (migration 0003):

- ``webhook_sources(id, dataset_id, kind, secret, options, created_at)``: one per dataset and
  platform. ``secret`` holds one secret per line: the current one first, then the previous
  one while a rotation is under way (both are accepted).
- ``webhook_deliveries(source_id, delivery_id, received_at)``: the ledger of keys already
  handled: delivery ids (``X-Shopify-Webhook-Id``...) and refunds (``refund:<id>``).
- ``orders(dataset_id, platform, order_id, status, financial_status, purchase_event_id,
  purchase_sent_at, refunded_value, cancelled_at, updated_at)``: ``updated_at`` is the
  platform's own update time, so a late delivery of an older state does not overwrite a newer
  one; ``purchase_event_id`` is fixed when the order is first seen.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from signalyard.errors import Conflict
from signalyard.secret import Secret
from signalyard.store._marks import pg as _pg
from signalyard.store.base import Store
from signalyard.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")

KINDS = ("shopify", "woocommerce")


@dataclass(frozen=True, slots=True)
class WebhookSource:
    id: int
    dataset_id: str
    kind: str
    secrets: tuple[Secret, ...]
    """The current secret first, then the previous one during a rotation."""
    options: dict[str, str]
    created_at: float


@dataclass(frozen=True, slots=True)
class OrderState:
    dataset_id: str
    platform: str
    order_id: str
    status: str
    financial_status: str | None
    purchase_event_id: str | None
    purchase_sent_at: float | None
    refunded_value: float
    cancelled_at: float | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """What one delivery says about an order."""

    dataset_id: str
    platform: str
    order_id: str
    status: str
    financial_status: str | None
    purchase_event_id: str
    """Kept only if the order has none yet: the first delivery decides."""
    updated_at: float
    """The platform's update time of this state (epoch seconds)."""


# SQL ------------------------------------------------------------------------------------------

_SOURCE_COLUMNS = "id, dataset_id, kind, secret, options, created_at"
_ORDER_COLUMNS = (
    "dataset_id, platform, order_id, status, financial_status, purchase_event_id,"
    " purchase_sent_at, refunded_value, cancelled_at, updated_at"
)
_ORDER_KEY = "dataset_id=? AND platform=? AND order_id=?"

_INSERT_SOURCE = (
    "INSERT INTO webhook_sources(dataset_id, kind, secret, options, created_at)"
    f" VALUES (?,?,?,?,?) RETURNING {_SOURCE_COLUMNS}"
)
_REPLACE_SOURCE = (
    f"UPDATE webhook_sources SET secret=?, options=? WHERE dataset_id=? AND kind=?"
    f" RETURNING {_SOURCE_COLUMNS}"
)
_GET_SOURCE = f"SELECT {_SOURCE_COLUMNS} FROM webhook_sources WHERE dataset_id=? AND kind=?"
_LIST_SOURCES = f"SELECT {_SOURCE_COLUMNS} FROM webhook_sources ORDER BY dataset_id, kind"
_LIST_SOURCES_OF = (
    f"SELECT {_SOURCE_COLUMNS} FROM webhook_sources WHERE dataset_id=? ORDER BY dataset_id, kind"
)
_DELETE_DELIVERIES = (
    "DELETE FROM webhook_deliveries WHERE source_id IN"
    " (SELECT id FROM webhook_sources WHERE dataset_id=? AND kind=?)"
)
_DELETE_SOURCE = "DELETE FROM webhook_sources WHERE dataset_id=? AND kind=?"
_INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries(source_id, delivery_id, received_at) VALUES (?,?,?)"
    " ON CONFLICT (source_id, delivery_id) DO NOTHING"
)
_SEEN_DELIVERY = "SELECT 1 FROM webhook_deliveries WHERE source_id=? AND delivery_id=?"
_PRUNE_DELIVERIES = (
    "DELETE FROM webhook_deliveries WHERE received_at < ? AND delivery_id NOT LIKE 'refund:%'"
)
# A newer state replaces an older one; an older state arriving late changes nothing but may
# give the order its event id if it has none (a row made by a refund seen first).
_UPSERT_ORDER = (
    "INSERT INTO orders(dataset_id, platform, order_id, status, financial_status,"
    " purchase_event_id, refunded_value, updated_at) VALUES (?,?,?,?,?,?,0,?)"
    " ON CONFLICT (dataset_id, platform, order_id) DO UPDATE SET"
    " status = CASE WHEN excluded.updated_at >= orders.updated_at"
    " THEN excluded.status ELSE orders.status END,"
    " financial_status = CASE WHEN excluded.updated_at >= orders.updated_at"
    " THEN excluded.financial_status ELSE orders.financial_status END,"
    " updated_at = CASE WHEN excluded.updated_at > orders.updated_at"
    " THEN excluded.updated_at ELSE orders.updated_at END,"
    " purchase_event_id = COALESCE(orders.purchase_event_id, excluded.purchase_event_id)"
    f" RETURNING {_ORDER_COLUMNS}"
)
_GET_ORDER = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE {_ORDER_KEY}"
_MARK_PURCHASE = (
    f"UPDATE orders SET purchase_sent_at=? WHERE {_ORDER_KEY} AND purchase_sent_at IS NULL"
)
_MARK_CANCELLED = f"UPDATE orders SET cancelled_at=? WHERE {_ORDER_KEY} AND cancelled_at IS NULL"
# A refund of an order not seen yet makes a placeholder row (status unknown, updated_at 0) that
# the order's first delivery fills in.
_ADD_REFUND = (
    "INSERT INTO orders(dataset_id, platform, order_id, status, refunded_value, updated_at)"
    " VALUES (?,?,?,'unknown',?,0) ON CONFLICT (dataset_id, platform, order_id) DO UPDATE SET"
    " refunded_value = orders.refunded_value + excluded.refunded_value"
)

# Row mapping ----------------------------------------------------------------------------------


def _source(row: Sequence[Any]) -> WebhookSource:
    secrets = tuple(Secret(s) for s in str(row[3]).split("\n") if s)
    options = orjson.loads(row[4]) if row[4] else {}
    return WebhookSource(int(row[0]), row[1], row[2], secrets, dict(options), float(row[5]))


def _order(row: Sequence[Any]) -> OrderState:
    return OrderState(
        dataset_id=row[0],
        platform=row[1],
        order_id=row[2],
        status=row[3],
        financial_status=row[4],
        purchase_event_id=row[5],
        purchase_sent_at=row[6],
        refunded_value=float(row[7]),
        cancelled_at=row[8],
        updated_at=float(row[9]),
    )


def _secret_text(secrets: Sequence[Secret]) -> str:
    values = [s.reveal() for s in secrets]
    if not values or any(not v or "\n" in v or v != v.strip() for v in values):
        raise ValueError("a webhook secret must be one non-empty line")
    return "\n".join(values)


# Dispatch -------------------------------------------------------------------------------------


async def _sqlite(store: Store, job: Callable[[sqlite3.Connection], T]) -> T:
    assert isinstance(store, SQLiteStore)
    return await store.run_job(job)


def _backend(store: Store) -> str:
    if isinstance(store, SQLiteStore):
        return "sqlite"
    _pool(store)
    return "postgres"


def _pool(store: Store) -> asyncpg.Pool:
    """The pool of a :class:`PostgresStore` (imported only when one is in use)."""
    from signalyard.store.postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        raise TypeError(f"order webhooks do not support {type(store).__name__}")
    return store.pool


def _pg_count(status: str) -> int:
    """The row count of an asyncpg command status (``UPDATE 1``, ``INSERT 0 1``)."""
    return int(status.rsplit(" ", 1)[-1])


# Sources --------------------------------------------------------------------------------------


async def add_source(
    store: Store,
    dataset_id: str,
    kind: str,
    secrets: Sequence[Secret],
    options: Mapping[str, str],
    *,
    now: float,
    replace: bool = False,
) -> WebhookSource:
    """Add the ``kind`` source of a dataset; with ``replace``, replace the secret and options
    of an existing one (adding it if absent). Raises :class:`Conflict` if it exists and
    ``replace`` is false."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    secret = _secret_text(secrets)
    opts = orjson.dumps(dict(options)).decode()
    exists = f"dataset {dataset_id} has a {kind} webhook source already (use --replace)"
    if _backend(store) == "sqlite":

        def job(conn: sqlite3.Connection) -> WebhookSource:
            if replace:
                row = conn.execute(_REPLACE_SOURCE, (secret, opts, dataset_id, kind)).fetchone()
                if row is not None:
                    return _source(row)
            try:
                row = conn.execute(_INSERT_SOURCE, (dataset_id, kind, secret, opts, now)).fetchone()
            except sqlite3.IntegrityError:
                raise Conflict(exists) from None
            return _source(row)

        return await _sqlite(store, job)

    import asyncpg

    async with _pool(store).acquire() as conn, conn.transaction():
        if replace:
            row = await conn.fetchrow(_pg(_REPLACE_SOURCE), secret, opts, dataset_id, kind)
            if row is not None:
                return _source(tuple(row))
        try:
            row = await conn.fetchrow(_pg(_INSERT_SOURCE), dataset_id, kind, secret, opts, now)
        except asyncpg.UniqueViolationError:
            raise Conflict(exists) from None
        return _source(tuple(row))


async def get_source(store: Store, dataset_id: str, kind: str) -> WebhookSource | None:
    if _backend(store) == "sqlite":
        row = await _sqlite(store, lambda c: c.execute(_GET_SOURCE, (dataset_id, kind)).fetchone())
    else:
        row = await _pool(store).fetchrow(_pg(_GET_SOURCE), dataset_id, kind)
    return _source(tuple(row)) if row is not None else None


async def list_sources(store: Store, dataset_id: str | None = None) -> list[WebhookSource]:
    sql, args = (_LIST_SOURCES, ()) if dataset_id is None else (_LIST_SOURCES_OF, (dataset_id,))
    if _backend(store) == "sqlite":
        rows = await _sqlite(store, lambda c: c.execute(sql, args).fetchall())
    else:
        rows = await _pool(store).fetch(_pg(sql), *args)
    return [_source(tuple(r)) for r in rows]


async def remove_source(store: Store, dataset_id: str, kind: str) -> bool:
    """Remove a source and its delivery ledger; the order states are kept."""
    if _backend(store) == "sqlite":

        def job(conn: sqlite3.Connection) -> bool:
            conn.execute(_DELETE_DELIVERIES, (dataset_id, kind))
            return conn.execute(_DELETE_SOURCE, (dataset_id, kind)).rowcount == 1

        return await _sqlite(store, job)
    async with _pool(store).acquire() as conn, conn.transaction():
        await conn.execute(_pg(_DELETE_DELIVERIES), dataset_id, kind)
        return _pg_count(await conn.execute(_pg(_DELETE_SOURCE), dataset_id, kind)) == 1


# Delivery ledger ------------------------------------------------------------------------------


def _keys(keys: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(keys))
    if not unique:
        raise ValueError("no delivery key")
    return unique


async def delivery_seen(store: Store, source_id: int, keys: Sequence[str]) -> bool:
    """Whether any of ``keys`` was recorded for this source."""
    unique = _keys(keys)
    if _backend(store) == "sqlite":

        def job(conn: sqlite3.Connection) -> bool:
            return any(
                conn.execute(_SEEN_DELIVERY, (source_id, key)).fetchone() is not None
                for key in unique
            )

        return await _sqlite(store, job)
    found = await _pool(store).fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE source_id=$1 AND delivery_id = ANY($2)",
        source_id,
        unique,
    )
    return bool(found)


async def record_delivery(store: Store, source_id: int, keys: Sequence[str], *, now: float) -> bool:
    """Record ``keys`` (in one transaction); True if none of them was recorded before. Two
    concurrent calls with the same key: exactly one gets True."""
    unique = _keys(keys)
    if _backend(store) == "sqlite":

        def job(conn: sqlite3.Connection) -> bool:
            added = [
                conn.execute(_INSERT_DELIVERY, (source_id, key, now)).rowcount for key in unique
            ]
            return sum(added) == len(unique)

        return await _sqlite(store, job)
    rows = await _pool(store).fetch(
        "INSERT INTO webhook_deliveries(source_id, delivery_id, received_at)"
        " SELECT $1, k, $3 FROM unnest($2::text[]) AS k"
        " ON CONFLICT (source_id, delivery_id) DO NOTHING RETURNING delivery_id",
        source_id,
        unique,
        now,
    )
    return len(rows) == len(unique)


async def prune_deliveries(store: Store, *, before: float) -> int:
    """Forget delivery ids received before ``before`` (platforms retry for hours, not weeks).
    Refund keys are kept: they stop a refund from being counted twice."""
    if _backend(store) == "sqlite":
        return await _sqlite(store, lambda c: c.execute(_PRUNE_DELIVERIES, (before,)).rowcount)
    return _pg_count(await _pool(store).execute(_pg(_PRUNE_DELIVERIES), before))


# Orders ---------------------------------------------------------------------------------------


async def upsert_order(store: Store, update: OrderUpdate) -> OrderState:
    """Insert the order or bring it to this state (unless the stored state is newer); return
    the state after. The ``purchase_event_id`` of the first delivery stays."""
    args = (
        update.dataset_id,
        update.platform,
        update.order_id,
        update.status,
        update.financial_status,
        update.purchase_event_id,
        update.updated_at,
    )
    if _backend(store) == "sqlite":
        row = await _sqlite(store, lambda c: c.execute(_UPSERT_ORDER, args).fetchone())
    else:
        row = await _pool(store).fetchrow(_pg(_UPSERT_ORDER), *args)
    return _order(tuple(row))


async def get_order(
    store: Store, dataset_id: str, platform: str, order_id: str
) -> OrderState | None:
    args = (dataset_id, platform, order_id)
    if _backend(store) == "sqlite":
        row = await _sqlite(store, lambda c: c.execute(_GET_ORDER, args).fetchone())
    else:
        row = await _pool(store).fetchrow(_pg(_GET_ORDER), *args)
    return _order(tuple(row)) if row is not None else None


async def _mark(store: Store, sql: str, args: tuple[Any, ...]) -> bool:
    if _backend(store) == "sqlite":
        return await _sqlite(store, lambda c: c.execute(sql, args).rowcount == 1)
    return _pg_count(await _pool(store).execute(_pg(sql), *args)) == 1


async def mark_purchase_sent(
    store: Store, dataset_id: str, platform: str, order_id: str, *, now: float
) -> bool:
    """Note that the order's Purchase is stored. True for exactly one caller per order, even
    when deliveries race: the update only applies while ``purchase_sent_at`` is null."""
    return await _mark(store, _MARK_PURCHASE, (now, dataset_id, platform, order_id))


async def mark_cancelled(
    store: Store, dataset_id: str, platform: str, order_id: str, *, at: float
) -> bool:
    """Note that the order is cancelled; True for the first caller only."""
    return await _mark(store, _MARK_CANCELLED, (at, dataset_id, platform, order_id))


async def record_refund(
    store: Store,
    source_id: int,
    dataset_id: str,
    platform: str,
    order_id: str,
    refund_id: str,
    amount: float,
    *,
    now: float,
) -> bool:
    """Count a refund once: its key goes in the ledger and its amount is added to the order's
    ``refunded_value`` in one transaction. True if it was new."""
    key = f"refund:{refund_id}"
    order_args = (dataset_id, platform, order_id, amount)
    if _backend(store) == "sqlite":

        def job(conn: sqlite3.Connection) -> bool:
            if conn.execute(_INSERT_DELIVERY, (source_id, key, now)).rowcount == 0:
                return False
            conn.execute(_ADD_REFUND, order_args)
            return True

        return await _sqlite(store, job)
    async with _pool(store).acquire() as conn, conn.transaction():
        added = await conn.execute(_pg(_INSERT_DELIVERY), source_id, key, now)
        if _pg_count(added) == 0:
            return False
        await conn.execute(_pg(_ADD_REFUND), *order_args)
        return True


async def refund_seen(store: Store, source_id: int, refund_id: str) -> bool:
    return await delivery_seen(store, source_id, [f"refund:{refund_id}"])
