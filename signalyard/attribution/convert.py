"""A run and its claims in one currency (``attribution report --currency``), with the
exchange rates of :mod:`.rates`.

Each order's net and gross are converted at the rate of its own day (in the report's time
zone) and rounded to the cent; its credits are split again from the converted net by the
same weights (:func:`~.model.shares`), so every check still holds exactly in the one
currency. A claim's value and spend are converted at the rate of its own (the ad account's)
day. Nothing is converted unless every amount has a rate: the missing currencies and days
are named instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from signalyard.attribution.claims import Claim
from signalyard.attribution.engine import Run
from signalyard.attribution.model import Attribution, Order, shares
from signalyard.attribution.rates import Rates
from signalyard.attribution.report import day_function

__all__ = ["Converter", "MissingRates", "convert"]

CENT = Decimal("0.01")
MAIN_ROLES = ("primary", "fallback", "unattributed")


class MissingRates(Exception):
    """Amounts without a rate: ``missing`` holds their (currency, day) pairs, sorted."""

    def __init__(self, missing: Sequence[tuple[str, str]], *, message: str = "") -> None:
        """``message``: the text of an earlier such error, as kept (its pairs not kept)."""
        shown = ", ".join(f"{c} on {d}" for c, d in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        super().__init__(message or f"no exchange rate for {shown}{more}")
        self.missing = list(missing)


class Converter:
    """Amounts into currency ``to``, one order, attribution or claim at a time; the
    (currency, day) pairs without a rate gather in :attr:`missing` (their amounts convert to
    zero meanwhile: a caller raises :class:`MissingRates` before using any)."""

    def __init__(self, rates: Rates, to: str, tz: ZoneInfo) -> None:
        self.rates = rates
        self.to = to
        self.day = day_function(tz)
        self.missing: set[tuple[str, str]] = set()
        self._converted: dict[int, Order] = {}

    def _factor(self, currency: str, on: str) -> Decimal:
        source, target = self.rates.of(currency, on), self.rates.of(self.to, on)
        if source is None:
            self.missing.add((currency, on))
        if target is None:
            self.missing.add((self.to, on))
        return target / source if source is not None and target is not None else Decimal(0)

    def order(self, order: Order) -> Order:
        """``order`` at the rate of its day (the same object for the same order)."""
        found = self._converted.get(id(order))
        if found is None:
            f = self._factor(order.currency, self.day(order.created_at))
            gross = None if order.gross is None else _money(order.gross, f)
            found = dataclasses.replace(
                order, currency=self.to, net=_money(order.net, f), gross=gross
            )
            self._converted[id(order)] = found
        return found

    def attribution(self, a: Attribution, order: Order | None = None) -> Attribution:
        """``a`` with its order converted (``order``, when given, is it already converted)
        and its credits split again from the converted net by the same weights."""
        order = order if order is not None else self.order(a.order)
        primary = next((i for i, c in enumerate(a.credits) if c.role in MAIN_ROLES), 0)
        amounts = shares(order.net, [c.weight for c in a.credits], primary)
        credits = tuple(
            dataclasses.replace(c, amount=amount)
            for c, amount in zip(a.credits, amounts, strict=True)
        )
        return Attribution(order, a.lens, credits, a.not_eligible)

    def forget(self) -> None:
        """Let go of the orders converted so far (streaming callers convert each once)."""
        self._converted.clear()

    def claim(self, c: Claim) -> Claim:
        f = self._factor(c.currency, c.day)
        return dataclasses.replace(
            c, currency=self.to, value=_money(c.value, f), spend=_money(c.spend, f)
        )

    def check(self) -> None:
        """:class:`MissingRates` when any amount converted so far had no rate."""
        if self.missing:
            raise MissingRates(sorted(self.missing))


def _money(amount: Decimal, f: Decimal) -> Decimal:
    return (amount * f).quantize(CENT, ROUND_HALF_EVEN)


def convert(
    run: Run, claims: Sequence[Claim], rates: Rates, to: str, tz: ZoneInfo
) -> tuple[Run, list[Claim]]:
    """``run`` and ``claims`` in currency ``to``; :class:`MissingRates` when an amount has
    no rate."""
    converter = Converter(rates, to, tz)
    orders = [converter.order(o) for o in run.orders]
    attributions = [converter.attribution(a) for a in run.attributions]
    kept = [converter.claim(c) for c in claims]
    converter.check()
    out = dataclasses.replace(run, attributions=attributions, orders=orders)
    return out, kept
