"""Exchange rates for reports in one currency (``signalyard attribution import-rates``,
``attribution report --currency``).

A rate says what one unit of the *base* currency was worth in another currency on a day
(``1 EUR = 1.0843 USD``), as central banks publish them. Two CSV layouts are read, their
first row naming the columns:

- *wide*, as the European Central Bank's history file: ``Date,USD,JPY,...``, a row per day,
  a column per currency (empty or ``N/A`` cells are left out);
- *long*: ``Date,Currency,Rate``, a row per day and currency.

A day without a rate (a weekend, a holiday) takes the latest rate of the
:data:`LOOKBACK_DAYS` before it. A bad value is refused with its line and column named;
nothing of the file is kept then.
"""

from __future__ import annotations

import bisect
import csv
import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from signalyard.errors import InputError
from signalyard.store import dual
from signalyard.store.base import Store

__all__ = ["LOOKBACK_DAYS", "MAX_ROWS", "Rate", "Rates", "load_rates", "parse_rates", "save_rates"]

LOOKBACK_DAYS = 7
MAX_ROWS = 2_000_000
_CURRENCY = re.compile(r"[A-Z]{3}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MISSING = {"", "N/A", "NA", "-"}
UPSERT = (
    "INSERT INTO attribution_rates(base, currency, day, rate, source, imported_at)"
    " VALUES (?,?,?,?,?,?) ON CONFLICT (base, currency, day) DO UPDATE SET"
    " rate = excluded.rate, source = excluded.source, imported_at = excluded.imported_at"
)
SELECT = "SELECT currency, day, rate FROM attribution_rates WHERE base = ? ORDER BY currency, day"
SELECT_SOME = "SELECT currency, day, rate FROM attribution_rates WHERE base = ? AND currency IN "


@dataclass(frozen=True, slots=True)
class Rate:
    currency: str
    day: str
    rate: Decimal
    """Units of ``currency`` for one unit of the base."""


def _day(text: str, where: str) -> str:
    text = text.strip()
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        datetime.date.fromisoformat(text)
    except ValueError:
        raise InputError(where, "must be a day YYYY-MM-DD") from None
    return text


def _rate(text: str, where: str) -> Decimal:
    try:
        rate = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(where, "must be a number such as 1.0843") from None
    if not rate.is_finite() or not Decimal("1e-9") <= rate <= Decimal("1e9"):
        raise InputError(where, "must be a number between 1e-9 and 1e9")
    return rate


def parse_rates(lines: Iterable[str], *, base: str) -> list[Rate]:
    """The rates of a CSV file (``lines``: its text); :class:`InputError` names the line and
    column of the first bad value."""
    if not _CURRENCY.fullmatch(base):
        raise InputError("base", "must be an ISO 4217 code such as EUR")
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader, [])]
    if not header or header[0].lower() not in ("date", "day"):
        raise InputError("file", "its first column must be Date")
    long = [h.lower() for h in header[1:3]] == ["currency", "rate"]
    if not long:
        for name in header[1:]:
            if name and not _CURRENCY.fullmatch(name):
                raise InputError(f"columns.{name[:20]}", "must be an ISO 4217 code such as USD")
    out: list[Rate] = []
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS + 1:
            raise InputError("file", f"has more than {MAX_ROWS} rows: split it")
        if not any(cell.strip() for cell in row):
            continue
        day = _day(row[0], f"line {n}.{header[0]}")
        if long:
            cur = (row[1] if len(row) > 1 else "").strip().upper()
            if not _CURRENCY.fullmatch(cur):
                raise InputError(f"line {n}.{header[1]}", "must be an ISO 4217 code such as USD")
            out.append(Rate(cur, day, _rate(row[2] if len(row) > 2 else "", f"line {n}.Rate")))
            continue
        for name, cell in zip(header[1:], row[1:], strict=False):
            if name and cell.strip().upper() not in _MISSING:
                out.append(Rate(name, day, _rate(cell, f"line {n}.{name}")))
    return out


async def save_rates(
    store: Store, rates: Sequence[Rate], *, base: str, source: str, now: float
) -> None:
    """Keep ``rates`` (a day and currency given again is replaced)."""
    await dual.execute_many(
        store, UPSERT, [(base, r.currency, r.day, str(r.rate), source[:200], now) for r in rates]
    )


class Rates:
    """The rates of one base, by currency and day (:meth:`of`)."""

    def __init__(self, base: str, rates: Iterable[Rate]) -> None:
        self.base = base
        self._days: dict[str, list[str]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        for r in sorted(rates, key=lambda r: (r.currency, r.day)):
            self._days.setdefault(r.currency, []).append(r.day)
            self._rates.setdefault(r.currency, []).append(r.rate)

    def of(self, currency: str, day: str) -> Decimal | None:
        """Units of ``currency`` for one unit of the base on ``day``: 1 for the base itself;
        else the rate of that day or of the latest of the :data:`LOOKBACK_DAYS` before it;
        ``None`` when there is none."""
        if currency == self.base:
            return Decimal(1)
        days = self._days.get(currency)
        if not days:
            return None
        i = bisect.bisect_right(days, day) - 1
        if i < 0:
            return None
        found = datetime.date.fromisoformat(days[i])
        if (datetime.date.fromisoformat(day) - found).days > LOOKBACK_DAYS:
            return None
        return self._rates[currency][i]


async def load_rates(store: Store, base: str, currencies: Iterable[str] | None = None) -> Rates:
    """The rates of ``base``; only those of ``currencies`` when given (what a page converting
    a few claims needs, not every currency's history)."""
    if currencies is None:
        rows = await dual.fetch(store, SELECT, (base,))
    else:
        wanted = sorted(set(currencies) - {base})
        rows = []
        for i in range(0, len(wanted), 100):
            chunk = wanted[i : i + 100]
            sql = SELECT_SOME + "(" + ",".join("?" * len(chunk)) + ") ORDER BY currency, day"
            rows.extend(await dual.fetch(store, sql, (base, *chunk)))
    return Rates(base, (Rate(str(c), str(d), Decimal(str(r))) for c, d, r in rows))
