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

__all__ = ["MissingRates", "convert"]

CENT = Decimal("0.01")
MAIN_ROLES = ("primary", "fallback", "unattributed")


class MissingRates(Exception):
    """Amounts without a rate: ``missing`` holds their (currency, day) pairs, sorted."""

    def __init__(self, missing: Sequence[tuple[str, str]]) -> None:
        shown = ", ".join(f"{c} on {d}" for c, d in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        super().__init__(f"no exchange rate for {shown}{more}")
        self.missing = list(missing)


def convert(
    run: Run, claims: Sequence[Claim], rates: Rates, to: str, tz: ZoneInfo
) -> tuple[Run, list[Claim]]:
    """``run`` and ``claims`` in currency ``to``; :class:`MissingRates` when an amount has
    no rate."""
    day = day_function(tz)
    missing: set[tuple[str, str]] = set()

    def factor(currency: str, on: str) -> Decimal:
        source, target = rates.of(currency, on), rates.of(to, on)
        if source is None:
            missing.add((currency, on))
        if target is None:
            missing.add((to, on))
        return target / source if source is not None and target is not None else Decimal(0)

    def money(amount: Decimal, f: Decimal) -> Decimal:
        return (amount * f).quantize(CENT, ROUND_HALF_EVEN)

    converted: dict[int, Order] = {}

    def order_in(order: Order) -> Order:
        found = converted.get(id(order))
        if found is None:
            f = factor(order.currency, day(order.created_at))
            gross = None if order.gross is None else money(order.gross, f)
            found = dataclasses.replace(order, currency=to, net=money(order.net, f), gross=gross)
            converted[id(order)] = found
        return found

    orders = [order_in(o) for o in run.orders]
    attributions = []
    for a in run.attributions:
        order = order_in(a.order)
        primary = next((i for i, c in enumerate(a.credits) if c.role in MAIN_ROLES), 0)
        amounts = shares(order.net, [c.weight for c in a.credits], primary)
        credits = tuple(
            dataclasses.replace(c, amount=amount)
            for c, amount in zip(a.credits, amounts, strict=True)
        )
        attributions.append(Attribution(order, a.lens, credits, a.not_eligible))
    kept = []
    for c in claims:
        f = factor(c.currency, c.day)
        kept.append(
            dataclasses.replace(c, currency=to, value=money(c.value, f), spend=money(c.spend, f))
        )
    if missing:
        raise MissingRates(sorted(missing))
    out = dataclasses.replace(run, attributions=attributions, orders=orders)
    return out, kept
