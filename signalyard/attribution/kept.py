"""A kept attribution report as the store holds it (migration 0013; :mod:`.snapshot` computes
and serves them): the row that says what it was computed from (:class:`Kept`), its days
(:mod:`.rollup` parts), whether it still shows what crediting now would (:func:`is_fresh`),
whether a stale one may be computed again now (:func:`is_due`), and the SQL of the lease a
process takes to compute one.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from signalyard import __version__
from signalyard.attribution.engine import SETTLE_SECONDS, Attributor
from signalyard.attribution.report import ReportMeta
from signalyard.attribution.rollup import DayPart
from signalyard.store import dual
from signalyard.store.base import Store
from signalyard.store.sqlite import SQLiteStore

__all__ = [
    "MAX_AGE_SECONDS",
    "RECOMPUTE_FACTOR",
    "Busy",
    "Kept",
    "basis_of",
    "find_kept",
    "is_due",
    "is_fresh",
    "load_days",
    "load_kept",
    "newest_event",
    "save_kept",
]

MAX_AGE_SECONDS = 86400.0
"""A kept report older than this is computed again even without a new event (evidence past
its retention is pruned; a day's boundaries are the time zone's)."""
RECOMPUTE_FACTOR = 10.0
"""A stale report is computed again at most every this many times as long as its last
computation took (a year's 5 minutes: every 50 minutes at most, a tenth of a core)."""
FORMAT = f"3/{__version__}"
"""The day parts' format and the crediting code's release: a kept report of another is
computed again."""

NEWEST = (
    "SELECT pk, received_at FROM events WHERE dataset_id = ?"
    " ORDER BY received_at DESC, pk DESC LIMIT 1"
)
NEWEST_DELIVERY = (
    "SELECT received_at, COUNT(*) FROM webhook_deliveries"
    " WHERE received_at = (SELECT MAX(received_at) FROM webhook_deliveries) GROUP BY received_at"
)
RATES = "SELECT MAX(imported_at) FROM attribution_rates WHERE base = ?"
"""Every import stamps the rows it writes: the newest stamp changes with each."""
SELECT_KEPT = (
    "SELECT profile, lens, currency, basis, through, computed_at, seconds, orders, shared_keys,"
    " error, asked_at FROM attribution_reports WHERE dataset_id = ?"
)
SELECT_DAYS = (
    "SELECT day, part FROM attribution_report_days WHERE dataset_id = ? AND profile = ?"
    " AND lens = ? AND currency = ? AND day >= ? AND day <= ?"
)
UPSERT_KEPT = (
    "INSERT INTO attribution_reports(dataset_id, profile, lens, currency, basis, through,"
    " computed_at, seconds, orders, shared_keys, error, asked_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (dataset_id, profile, lens, currency) DO UPDATE SET basis = excluded.basis,"
    " through = excluded.through, computed_at = excluded.computed_at,"
    " seconds = excluded.seconds, orders = excluded.orders,"
    " shared_keys = excluded.shared_keys, error = excluded.error,"
    " asked_at = COALESCE(excluded.asked_at, attribution_reports.asked_at)"
    " WHERE attribution_reports.computed_at <= excluded.computed_at"
)
"""A run that began earlier never replaces one that began later."""
ASKED = (
    "UPDATE attribution_reports SET asked_at = ? WHERE dataset_id = ? AND profile = ?"
    " AND lens = ? AND currency = ?"
)
DELETE_DAYS = (
    "DELETE FROM attribution_report_days WHERE dataset_id = ? AND profile = ? AND lens = ?"
    " AND currency = ?"
)
INSERT_DAY = (
    "INSERT INTO attribution_report_days(dataset_id, profile, lens, currency, day, part)"
    " VALUES (?,?,?,?,?,?)"
)
TAKE_LEASE = (
    "INSERT INTO attribution_report_leases(dataset_id, profile, currency, owner, until)"
    " VALUES (?,?,?,?,?) ON CONFLICT (dataset_id, profile, currency) DO UPDATE SET"
    " owner = excluded.owner, until = excluded.until"
    " WHERE attribution_report_leases.until < ? OR attribution_report_leases.owner = excluded.owner"
)
GIVE_LEASE = (
    "DELETE FROM attribution_report_leases WHERE dataset_id = ? AND profile = ?"
    " AND currency = ? AND owner = ?"
)


class Busy(Exception):
    """Another process is computing this report (it holds the lease)."""


@dataclass(frozen=True, slots=True)
class Kept:
    """A kept report (its days aside)."""

    dataset_id: str
    profile: str
    lens: str
    currency: str
    """The currency everything was converted to; empty: each order's own."""
    basis: str
    through: str
    computed_at: float
    """When the run began (UTC seconds)."""
    seconds: float
    """How long the run took."""
    orders: int
    shared_keys: int
    error: str | None = None
    """Why there is no report (missing exchange rates): shown instead of one."""
    asked_at: float | None = None
    """When a page last asked for it (``None``: only the worker did)."""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.dataset_id, self.profile, self.lens, self.currency)

    @property
    def tz(self) -> str:
        """The time zone its days were cut in."""
        value = orjson.loads(self.basis).get("tz")
        return value if isinstance(value, str) else "UTC"

    def meta(self, profile_other: str) -> ReportMeta:
        return ReportMeta(
            self.dataset_id, self.profile, profile_other, self.lens, self.tz, self.shared_keys
        )


async def newest_event(store: Store, dataset_id: str) -> str:
    """What changes when the evidence of the dataset may have: its newest event (an order,
    a landing, a login, an import: ``[pk, received_at]``), and the newest order webhook
    delivery of any dataset (a refund or a cancellation changes an order without an event;
    its delivery is recorded: ``[received_at, deliveries received then]``), as JSON."""
    rows = await dual.fetch(store, NEWEST, (dataset_id,))
    hooks = await dual.fetch(store, NEWEST_DELIVERY)
    return orjson.dumps(
        {
            "event": [int(rows[0][0]), float(rows[0][1])] if rows else None,
            "delivery": [float(hooks[0][0]), int(hooks[0][1])] if hooks else None,
        }
    ).decode()


def _newest_at(through: str) -> float | None:
    """The latest receipt time ``through`` names."""
    try:
        value = orjson.loads(through)
    except orjson.JSONDecodeError:
        return None
    times = [float(v[1] if k == "event" else v[0]) for k, v in value.items() if v]
    return max(times) if times else None


async def basis_of(
    store: Store, attributor: Attributor, *, tz: ZoneInfo | str, currency: str, rates_base: str
) -> str:
    """What a report is computed from besides the events."""
    windows = {p: attributor.windows(p).seconds for p in ("platform-default", "max")}
    parts: dict[str, Any] = {"format": FORMAT, "tz": str(tz), "windows": windows}
    if currency:
        [(imported,)] = await dual.fetch(store, RATES, (rates_base,))
        parts["rates"] = [rates_base, float(imported or 0)]
    return orjson.dumps(parts, option=orjson.OPT_SORT_KEYS).decode()


def is_fresh(kept: Kept, *, through: str, basis: str, now: float) -> bool:
    """Whether ``kept`` still shows what crediting now would, given the dataset's newest
    event and delivery (``through``) and the basis now. A run that began within
    :data:`SETTLE_SECONDS` of its newest event may lack a transaction that committed later
    with an earlier time (PostgreSQL): once that long has passed it is computed once more."""
    if kept.basis != basis or kept.through != through or now > kept.computed_at + MAX_AGE_SECONDS:
        return False
    newest = _newest_at(kept.through)
    settling = newest is not None and newest > kept.computed_at - SETTLE_SECONDS
    return not (settling and now >= kept.computed_at + SETTLE_SECONDS)


def is_due(kept: Kept, *, now: float, every: float = 0.0) -> bool:
    """Whether a stale ``kept`` may be computed again now: ``every`` seconds after its run
    began, and :data:`RECOMPUTE_FACTOR` times as long as the run took."""
    return now >= kept.computed_at + max(every, RECOMPUTE_FACTOR * kept.seconds)


def find_kept(kept: Iterable[Kept], key: tuple[str, str, str, str]) -> Kept | None:
    """The one of ``kept`` with ``key`` (dataset, profile, lens, currency), if any."""
    return next((k for k in kept if k.key == key), None)


async def load_kept(store: Store, dataset_id: str) -> list[Kept]:
    return [
        Kept(
            dataset_id,
            str(p),
            str(lens),
            str(cur),
            str(basis),
            str(through),
            float(at),
            float(seconds),
            int(orders),
            int(shared),
            None if error is None else str(error),
            None if asked is None else float(asked),
        )
        for p, lens, cur, basis, through, at, seconds, orders, shared, error, asked in (
            await dual.fetch(store, SELECT_KEPT, (dataset_id,))
        )
    ]


async def load_days(
    store: Store,
    kept: Kept,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> dict[str, DayPart]:
    first = since.isoformat() if since is not None else ""
    last = until.isoformat() if until is not None else "9999-99-99"
    rows = await dual.fetch(store, SELECT_DAYS, (*kept.key, first, last))
    return {str(day): DayPart.from_json(bytes(part)) for day, part in rows}


async def save_kept(store: Store, kept: Kept, days: dict[str, DayPart]) -> bool:
    """Keep ``kept`` and its days in one transaction, unless a later run's are kept
    already; whether it was kept."""
    key = kept.key
    head = (
        *key,
        kept.basis,
        kept.through,
        kept.computed_at,
        kept.seconds,
        kept.orders,
        kept.shared_keys,
        kept.error,
        kept.asked_at,
    )
    rows = [(*key, day, part.to_json()) for day, part in sorted(days.items())]
    if isinstance(store, SQLiteStore):

        def job(conn: Any) -> bool:
            if conn.execute(UPSERT_KEPT, head).rowcount == 0:
                return False
            conn.execute(DELETE_DAYS, key)
            conn.executemany(INSERT_DAY, rows)
            return True

        return await store.run_job(job)
    from signalyard.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    async with store.pool.acquire() as conn, conn.transaction():
        done = await conn.execute(dual.pg(UPSERT_KEPT), *head)
        if done.endswith(" 0"):
            return False
        await conn.execute(dual.pg(DELETE_DAYS), *key)
        await conn.executemany(dual.pg(INSERT_DAY), rows)
    return True
