"""What each platform claims: its reported conversions, their value, and the ad spend, per
day, campaign and currency, imported from the platform's CSV export
(``signalyard attribution import-claims``) and kept in ``attribution_claims``.

Claims are data, never truth: the report sets them beside our credit (true ROAS = credited
net revenue / spend, beside the platform's own ROAS = claimed value / spend) and never adds
them to it.

The CSV's first row names its columns; names are matched without case, spaces or
underscores, and each field accepts the names the platforms' exports use:

- ``day`` (``date``, ``day``, ``reporting starts``): ``YYYY-MM-DD``, the ad account's day;
- ``campaign`` (``campaign``, ``campaign name``): optional (empty: the platform's total);
- ``conversions`` (``conversions``, ``purchases``, ``results``): a number;
- ``value`` (``conversion value``, ``purchases conversion value``, ``value``): a decimal;
- ``spend`` (``spend``, ``cost``, ``amount spent``): a decimal;
- ``currency``: optional when ``--currency`` is given.

Rows of the same day, campaign and currency are added up (an export by ad set). A bad value is
refused with its line and column named; nothing of the file is kept then.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from signalyard.errors import InputError
from signalyard.store import dual
from signalyard.store.base import Store

__all__ = [
    "MAX_ROWS",
    "Claim",
    "ClaimSource",
    "claim_rows",
    "load_claims",
    "load_sources",
    "parse_claims",
    "save_claims",
]

MAX_ROWS = 1_000_000
MAX_FIELD = 500
FIELDS: dict[str, tuple[str, ...]] = {
    "day": ("Date", "Day", "Reporting starts"),
    "campaign": ("Campaign", "Campaign name"),
    "conversions": ("Conversions", "Purchases", "Results"),
    "value": (
        "Conversion value",
        "Conv. value",
        "All conv. value",
        "Purchases conversion value",
        "Purchase value",
        "Value",
    ),
    "spend": ("Spend", "Cost", "Amount spent", "Amount spent (EUR)"),
    "currency": ("Currency", "Currency code"),
}
"""Each field's column names, as the platforms' exports write them (matched by :func:`_key`:
no case, spaces, dots, underscores, hyphens or brackets; ``Amount spent (USD)`` is
``Amount spent`` with its currency)."""
_NUMBER = re.compile(r"-?[0-9][0-9,]*(\.[0-9]+)?|-?\.[0-9]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
"""Days as the report writes them (``date.fromisoformat`` alone also takes ``20261201`` and
``2026-W49-2``, which would never meet a report's day)."""

UPSERT = (
    "INSERT INTO attribution_claims(dataset_id, platform, day, campaign, currency, conversions,"
    " value, spend, source, imported_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (dataset_id, platform, day, campaign, currency) DO UPDATE SET"
    " conversions = excluded.conversions, value = excluded.value, spend = excluded.spend,"
    " source = excluded.source, imported_at = excluded.imported_at"
)
"""A corrected export imported again replaces the same days and campaigns."""
SELECT = (
    "SELECT platform, day, campaign, currency, conversions, value, spend FROM attribution_claims"
    " WHERE dataset_id = ? ORDER BY platform, day, campaign, currency"
)


SOURCES = (
    "SELECT platform, source, min(day), max(day), count(*), max(imported_at)"
    " FROM attribution_claims WHERE dataset_id = ? GROUP BY platform, source"
    " ORDER BY platform, source"
)


@dataclass(frozen=True, slots=True)
class ClaimSource:
    """Where a platform's kept claims came from: a file's name or the platform's reporting
    API, the days they cover, and when they were last kept."""

    platform: str
    source: str
    first_day: str
    last_day: str
    rows: int
    kept_at: float


@dataclass(frozen=True, slots=True)
class Claim:
    platform: str
    day: str
    campaign: str
    currency: str
    conversions: float
    value: Decimal
    spend: Decimal


def _key(name: str) -> str:
    key = re.sub(r"[\s_().\-]+", "", name.strip().lower())
    return re.sub(r"^(amountspent)[a-z]{3}$", r"\1", key)  # Amount spent (USD)


_KEYS = {field: {_key(n) for n in names} for field, names in FIELDS.items()}


def _columns(header: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    keys = [_key(h) for h in header]
    for field, names in _KEYS.items():
        for i, key in enumerate(keys):
            if key in names and field not in found:
                found[field] = i
    return found


def _decimal(text: str, where: str) -> Decimal:
    cleaned = text.strip()
    if not cleaned:
        return Decimal(0)
    if not _NUMBER.fullmatch(cleaned):
        raise InputError(where, "must be a number such as 1234.56")
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation:
        raise InputError(where, "must be a number such as 1234.56") from None
    if value < 0 or value > Decimal("1e13"):
        raise InputError(where, "must be between 0 and 10^13")
    return value


def parse_claims(
    lines: Iterable[str], *, platform: str, currency: str | None = None
) -> list[Claim]:
    """The claims of a CSV export (``lines``: its text, line by line). Raises
    :class:`InputError` naming the line and column of the first bad value."""
    if currency is not None and not _CURRENCY.fullmatch(currency):
        raise InputError("currency", "must be an ISO 4217 code such as EUR")
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise InputError("file", "is empty: its first row must name the columns")
    columns = _columns(header)
    for needed in ("day", "conversions", "value", "spend"):
        if needed not in columns:
            names = ", ".join(FIELDS[needed])
            raise InputError(f"columns.{needed}", f"is missing: name one of {names}")
    if "currency" not in columns and currency is None:
        raise InputError("currency", "is neither a column nor given (--currency EUR)")
    totals: dict[tuple[str, str, str], list[Any]] = {}
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS + 1:
            raise InputError("file", f"has more than {MAX_ROWS} rows: split it")
        if not any(cell.strip() for cell in row):
            continue

        def cell(field: str, row: list[str] = row) -> str:
            i = columns.get(field)
            return row[i].strip()[:MAX_FIELD] if i is not None and i < len(row) else ""

        day = cell("day")
        try:
            if not _DAY.fullmatch(day):
                raise ValueError(day)
            datetime.date.fromisoformat(day)
        except ValueError:
            raise InputError(
                f"line {n}.{header[columns['day']]}", "must be a day YYYY-MM-DD"
            ) from None
        cur = (cell("currency") or currency or "").upper()
        if not _CURRENCY.fullmatch(cur):
            raise InputError(f"line {n}.currency", "must be an ISO 4217 code such as EUR")
        conversions = _decimal(cell("conversions"), f"line {n}.{header[columns['conversions']]}")
        value = _decimal(cell("value"), f"line {n}.{header[columns['value']]}")
        spend = _decimal(cell("spend"), f"line {n}.{header[columns['spend']]}")
        key = (day, cell("campaign"), cur)
        total = totals.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])
        total[0] += conversions
        total[1] += value
        total[2] += spend
    return [
        Claim(platform, day, campaign, cur, float(t[0]), t[1], t[2])
        for (day, campaign, cur), t in sorted(totals.items())
    ]


async def save_claims(
    store: Store, dataset_id: str, claims: Sequence[Claim], *, source: str, now: float
) -> None:
    await dual.execute_many(store, UPSERT, claim_rows(dataset_id, claims, source, now))


def claim_rows(
    dataset_id: str, claims: Iterable[Claim], source: str, now: float
) -> list[tuple[object, ...]]:
    """The :data:`UPSERT` arguments of ``claims``, kept from ``source`` at ``now``."""
    return [
        (
            dataset_id,
            c.platform,
            c.day,
            c.campaign,
            c.currency,
            c.conversions,
            str(c.value),
            str(c.spend),
            source[:200],
            now,
        )
        for c in claims
    ]


async def load_claims(store: Store, dataset_id: str) -> list[Claim]:
    return [
        Claim(str(p), str(d), str(c), str(cur), float(n), Decimal(str(v)), Decimal(str(s)))
        for p, d, c, cur, n, v, s in await dual.fetch(store, SELECT, (dataset_id,))
    ]


async def load_sources(store: Store, dataset_id: str) -> list[ClaimSource]:
    return [
        ClaimSource(str(p), str(src), str(a), str(b), int(n), float(at))
        for p, src, a, b, n, at in await dual.fetch(store, SOURCES, (dataset_id,))
    ]
