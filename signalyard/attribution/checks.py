"""The invariants every run is checked against (docs/attribution.md, *Conservation*):

- ``weights``: for every order the weights of its credits sum to exactly 1;
- ``one_truth``: every order is credited once, with exactly one primary, fallback or
  unattributed row;
- ``amounts``: for every order its credited amounts sum to exactly its net revenue, none
  below zero;
- ``windows``: no credit for a click made at or after its order, or outside its platform's
  window in the run's profile (but the click-to-message ad that opened the chat a sale was
  closed in, credited however old, from the chat's event that carried it);
- ``revenue``: for every day and currency, credited + unattributed revenue = the actual net
  revenue of the orders of that day, summed on its own from the orders as loaded.

A check that fails is shown red with how many orders (or days) break it; it is never hidden.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from signalyard.attribution.model import CHAT_OPENER, Attribution, Order

__all__ = ["Check", "check", "checks_of"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def check(
    attributions: list[Attribution],
    windows: dict[str, int],
    day_of: Callable[[float], str],
    orders: Sequence[Order],
) -> list[Check]:
    """``orders``: the orders as loaded, before crediting (the actual revenue is summed from
    them, not from the credits)."""
    bad_weights = bad_truth = bad_amounts = bad_windows = 0
    actual: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for order in orders:
        actual[(day_of(order.created_at), order.currency)] += order.net
    credited: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    seen = Counter(a.order.order_id for a in attributions)
    bad_truth += sum(n - 1 for n in seen.values()) + sum(
        1 for o in orders if o.order_id not in seen
    )
    for a in attributions:
        order = a.order
        key = (day_of(order.created_at), order.currency)
        if sum((c.weight for c in a.credits), Decimal(0)) != 1:
            bad_weights += 1
        if sum(c.role in ("primary", "fallback", "unattributed") for c in a.credits) != 1:
            bad_truth += 1
        amounts = sum((c.amount for c in a.credits), Decimal(0))
        if amounts != order.net or any(c.amount < 0 for c in a.credits):
            bad_amounts += 1
        credited[key] += amounts
        for c in a.credits:
            if c.click is None or c.click.clicked_at is None or c.reason == CHAT_OPENER:
                continue
            window = windows.get(c.click.platform)
            lag = order.created_at - c.click.clicked_at
            if lag <= 0 or window is None or lag > window:
                bad_windows += 1
                break
    keys = actual.keys() | credited.keys()
    bad_days = sorted(k for k in keys if actual.get(k, 0) != credited.get(k, 0))
    return checks_of(
        [bad_weights, bad_truth, bad_amounts, bad_windows], len(orders), len(keys), bad_days
    )


def checks_of(
    bad: Sequence[int], orders: int, revenue_keys: int, bad_days: Sequence[tuple[str, str]]
) -> list[Check]:
    """The checks from what fails them: ``bad`` the orders failing weights, one truth,
    amounts and windows; ``orders`` how many were loaded; ``revenue_keys`` the days x
    currencies compared, ``bad_days`` those that differ (sorted)."""
    bad_weights, bad_truth, bad_amounts, bad_windows = bad
    n = orders
    return [
        Check("weights", bad_weights == 0, _orders(bad_weights, n, "weights summing to 1")),
        Check(
            "one_truth",
            bad_truth == 0,
            _orders(bad_truth, n, "one credit: one primary, fallback or unattributed row"),
        ),
        Check(
            "amounts",
            bad_amounts == 0,
            _orders(bad_amounts, n, "credits summing to net, none below zero"),
        ),
        Check("windows", bad_windows == 0, _orders(bad_windows, n, "credited clicks in window")),
        Check(
            "revenue",
            not bad_days,
            f"{revenue_keys} day(s) x currency: credited + unattributed = actual"
            if not bad_days
            else f"{len(bad_days)} day(s) x currency differ: "
            + ", ".join(f"{d} {c}" for d, c in bad_days[:5]),
        ),
    ]


def _orders(bad: int, total: int, what: str) -> str:
    if bad == 0:
        return f"{total} order(s), all with {what}"
    return f"{bad} of {total} order(s) without {what}"
