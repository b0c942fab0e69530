"""The invariants every run is checked against (docs/attribution.md, *Conservation*):

- ``weights``: for every order the weights of its credits sum to exactly 1;
- ``one_truth``: every order has exactly one primary, fallback or unattributed row;
- ``amounts``: for every order its credited amounts sum to exactly its net revenue;
- ``windows``: no credit for a click made at or after its order, or outside its platform's
  window in the run's profile;
- ``revenue``: for every day and currency, credited + unattributed revenue = the actual net
  revenue of the orders of that day, summed independently from the orders.

A check that fails is shown red with how many orders (or days) break it; it is never hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from signalyard.attribution.model import Attribution

__all__ = ["Check", "check"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def check(
    attributions: list[Attribution], windows: dict[str, int], day_of: Callable[[float], str]
) -> list[Check]:
    bad_weights = bad_truth = bad_amounts = bad_windows = 0
    actual: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    credited: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for a in attributions:
        order = a.order
        key = (day_of(order.created_at), order.currency)
        actual[key] += order.net
        if sum((c.weight for c in a.credits), Decimal(0)) != 1:
            bad_weights += 1
        if sum(c.role in ("primary", "fallback", "unattributed") for c in a.credits) != 1:
            bad_truth += 1
        amounts = sum((c.amount for c in a.credits), Decimal(0))
        if amounts != order.net:
            bad_amounts += 1
        credited[key] += amounts
        for c in a.credits:
            if c.click is None or c.click.clicked_at is None:
                continue
            window = windows.get(c.click.platform)
            lag = order.created_at - c.click.clicked_at
            if lag <= 0 or window is None or lag > window:
                bad_windows += 1
                break
    bad_days = sorted(k for k in actual.keys() | credited.keys() if actual[k] != credited[k])
    n = len(attributions)
    return [
        Check("weights", bad_weights == 0, _orders(bad_weights, n, "weights summing to 1")),
        Check(
            "one_truth",
            bad_truth == 0,
            _orders(bad_truth, n, "one primary, fallback or unattributed row"),
        ),
        Check("amounts", bad_amounts == 0, _orders(bad_amounts, n, "credits summing to net")),
        Check("windows", bad_windows == 0, _orders(bad_windows, n, "credited clicks in window")),
        Check(
            "revenue",
            not bad_days,
            f"{len(actual)} day(s) x currency: credited + unattributed = actual"
            if not bad_days
            else f"{len(bad_days)} day(s) x currency differ: "
            + ", ".join(f"{d} {c}" for d, c in bad_days[:5]),
        ),
    ]


def _orders(bad: int, total: int, what: str) -> str:
    if bad == 0:
        return f"{total} order(s), all with {what}"
    return f"{bad} of {total} order(s) without {what}"
