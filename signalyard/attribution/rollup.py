"""A run's report cut into days: what the orders of one day (in the report's time zone) add to
each of its sections, summed again over any range of days (:func:`assemble`).

:func:`~.report.build_report` is this with every day of a run; :mod:`.snapshot` keeps the days
of a run in the store so that the dashboard's report of a year reads a few hundred small rows
instead of crediting millions of orders again. Every figure of a day adds up across days:
counts, amounts (exact Decimals), the co-eligible pairs, the checks' failures, and the
click-to-order lags as a histogram (:func:`lag_bucket`) from which the median and the 90th
percentile are read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from signalyard.attribution.engine import QUARTER
from signalyard.attribution.model import CHAT_OPENER, Attribution, Order

__all__ = [
    "NO_CAMPAIGN",
    "Accumulator",
    "DayPart",
    "campaign_key",
    "lag_bucket",
    "lag_quantiles",
]

NO_CAMPAIGN = ""
"""A click whose landing named no campaign; claims imported without one."""
MAIN_ROLES = ("primary", "fallback", "unattributed")


def campaign_key(name: str) -> str:
    """Campaigns meet without case or surrounding spaces: a landing's ``utm_campaign`` is
    lowercased, an export keeps the name as the platform shows it."""
    return " ".join(name.split()).lower()


def lag_bucket(seconds: float) -> int:
    """A click-to-order lag kept to two significant figures of an hour, in tenths of an
    hour: to the tenth under 10 hours, to the hour under 100, to ten hours beyond (the
    report shows lags in hours with one decimal). Lags of a year then fall in a few hundred
    buckets, whatever the number of orders."""
    tenths = max(0.0, seconds) / 360
    if tenths < 100:
        return int(tenths + 0.5)
    if tenths < 1000:
        return int(tenths / 10 + 0.5) * 10
    return int(tenths / 100 + 0.5) * 100


def lag_quantiles(histogram: dict[int, int]) -> dict[str, float]:
    """The median (the mean of the two middle lags when their number is even) and the 90th
    percentile (the lag at rank ``int(0.9 n)``) of a lag histogram, in hours."""
    n = sum(histogram.values())
    ordered = sorted(histogram.items())

    def at(rank: int) -> int:
        seen = 0
        for bucket, count in ordered:
            seen += count
            if rank < seen:
                return bucket
        return ordered[-1][0]

    median = float(at(n // 2)) if n % 2 else (at(n // 2 - 1) + at(n // 2)) / 2
    return {
        "median": round(median / 10, 1),
        "p90": round(at(min(n - 1, int(0.9 * n))) / 10, 1),
    }


def _money(text: object) -> Decimal:
    return Decimal(str(text))


@dataclass(slots=True)
class DayPart:
    """What the orders of one day add to a report (per currency where it says so)."""

    platforms: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    """(platform, currency) -> [eligible, eligible_other, primary, primary revenue, assisted,
    assisted revenue]."""
    campaigns: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    """(platform, campaign key, currency) -> [primary, primary revenue]."""
    channels: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    """(channel, currency) -> [orders, revenue] credited by the fallback."""
    reasons: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    """(reason, currency) -> [orders, revenue] left unattributed."""
    actual: dict[str, list[Any]] = field(default_factory=dict)
    """currency -> [orders, net, gross] of the credited orders."""
    loaded: dict[str, Decimal] = field(default_factory=dict)
    """currency -> net revenue of the orders as loaded (the revenue check's side)."""
    credited: dict[str, Decimal] = field(default_factory=dict)
    """currency -> the sum of the credits' amounts (the other side)."""
    co: Counter[tuple[str, str]] = field(default_factory=Counter)
    orders: int = 0
    """Orders credited (attributions)."""
    loaded_orders: int = 0
    linked: int = 0
    with_click: int = 0
    with_browser: int = 0
    """Orders whose person has a browser's evidence (a landing or a click)."""
    landings: int = 0
    landings_with_click: int = 0
    """Landings of the day, and those whose URL carried a click id."""
    lags: dict[str, Counter[int]] = field(default_factory=dict)
    """platform -> lag bucket (:func:`lag_bucket`) -> primary credits."""
    bad: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    """Orders failing the checks: weights, one truth, amounts, windows."""

    def add(self, other: DayPart) -> None:
        _add_lists(self.platforms, other.platforms)
        _add_lists(self.campaigns, other.campaigns)
        _add_lists(self.channels, other.channels)
        _add_lists(self.reasons, other.reasons)
        _add_lists(self.actual, other.actual)
        _add_values(self.loaded, other.loaded)
        _add_values(self.credited, other.credited)
        self.add_counts(other)

    def add_counts(self, other: DayPart) -> None:
        """:meth:`add` for what is not per currency: the co-eligible pairs, the order
        counts, the lags and the checks' failures."""
        self.co.update(other.co)
        self.orders += other.orders
        self.loaded_orders += other.loaded_orders
        self.linked += other.linked
        self.with_click += other.with_click
        self.with_browser += other.with_browser
        self.landings += other.landings
        self.landings_with_click += other.landings_with_click
        for platform, hist in other.lags.items():
            self.lags.setdefault(platform, Counter()).update(hist)
        self.bad = [a + b for a, b in zip(self.bad, other.bad, strict=True)]

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "p": [[*k, *_texts(v)] for k, v in self.platforms.items()],
                "k": [[*k, *_texts(v)] for k, v in self.campaigns.items()],
                "c": [[*k, *_texts(v)] for k, v in self.channels.items()],
                "u": [[*k, *_texts(v)] for k, v in self.reasons.items()],
                "a": [[k, *_texts(v)] for k, v in self.actual.items()],
                "l": [[k, str(v)] for k, v in self.loaded.items()],
                "r": [[k, str(v)] for k, v in self.credited.items()],
                "co": [[p, q, n] for (p, q), n in self.co.items()],
                "n": [
                    self.orders,
                    self.loaded_orders,
                    self.linked,
                    self.with_click,
                    self.with_browser,
                    self.landings,
                    self.landings_with_click,
                ],
                "lag": [[p, [[b, n] for b, n in h.items()]] for p, h in self.lags.items()],
                "bad": self.bad,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> DayPart:
        d = orjson.loads(data)
        part = cls(
            platforms={
                (p, c): [e, eo, pr, _money(prv), a, _money(av)]
                for p, c, e, eo, pr, prv, a, av in d["p"]
            },
            campaigns={(p, k, c): [n, _money(v)] for p, k, c, n, v in d["k"]},
            channels={(ch, c): [n, _money(v)] for ch, c, n, v in d["c"]},
            reasons={(r, c): [n, _money(v)] for r, c, n, v in d["u"]},
            actual={c: [n, _money(net), _money(g)] for c, n, net, g in d["a"]},
            loaded={c: _money(v) for c, v in d["l"]},
            credited={c: _money(v) for c, v in d["r"]},
            co=Counter({(p, q): n for p, q, n in d["co"]}),
            lags={p: Counter({int(b): n for b, n in h}) for p, h in d["lag"]},
            bad=list(d["bad"]),
        )
        (
            part.orders,
            part.loaded_orders,
            part.linked,
            part.with_click,
            part.with_browser,
            part.landings,
            part.landings_with_click,
        ) = d["n"]
        return part


def _texts(values: list[Any]) -> list[Any]:
    return [str(v) if isinstance(v, Decimal) else v for v in values]


def _add_lists(into: dict[Any, list[Any]], other: dict[Any, list[Any]]) -> None:
    for key, values in other.items():
        found = into.get(key)
        if found is None:
            into[key] = list(values)
        else:
            for i, v in enumerate(values):
                found[i] += v


def _add_values(into: dict[str, Decimal], other: dict[str, Decimal]) -> None:
    for key, value in other.items():
        into[key] = into.get(key, Decimal(0)) + value


class Accumulator:
    """The day parts of a run, one order at a time (:meth:`add`), in constant memory per day
    (no order is kept)."""

    def __init__(self, day_of: Callable[[float], str], windows: dict[str, int]) -> None:
        """``day_of``: UTC seconds -> the day in the report's time zone; ``windows``: the
        run's profile's click windows (the windows check)."""
        self.day_of = day_of
        self.windows = windows
        self.quarter = QUARTER
        self.days: dict[str, DayPart] = defaultdict(DayPart)

    def loaded(self, order: Order) -> None:
        """An order as loaded, before crediting (what the revenue check sums on its own)."""
        part = self.days[self.day_of(order.created_at)]
        part.loaded_orders += 1
        part.loaded[order.currency] = part.loaded.get(order.currency, Decimal(0)) + order.net

    def add_landings(self, landings: Mapping[int, int], with_click: Mapping[int, int]) -> None:
        """Landings per quarter hour (UTC seconds // ``quarter``), and those whose URL carried
        a click id, into their days."""
        for quarter, n in landings.items():
            part = self.days[self.day_of(quarter * self.quarter)]
            part.landings += n
            part.landings_with_click += with_click.get(quarter, 0)

    def uncredited(self, order: Order, times: int) -> None:
        """An order as loaded credited ``times`` times other than once (the one-truth check)."""
        self.days[self.day_of(order.created_at)].bad[1] += abs(times - 1) if times else 1

    def add(
        self,
        a: Attribution,
        eligible_other: Iterable[str],
        has_click: bool,
        has_browser: bool = False,
    ) -> None:
        """One order's attribution, with the platforms it is eligible for under the other
        window profile, whether its journey has any click, and any browser's evidence (a
        landing or a click)."""
        order = a.order
        cur = order.currency
        part = self.days[self.day_of(order.created_at)]
        part.orders += 1
        totals = part.actual.get(cur)
        if totals is None:
            totals = part.actual[cur] = [0, Decimal(0), Decimal(0)]
        totals[0] += 1
        totals[1] += order.net
        totals[2] += order.gross if order.gross is not None else order.net
        part.linked += order.linked
        part.with_click += has_click
        part.with_browser += has_browser
        eligible = sorted(a.eligible_platforms)
        for p in eligible:
            _row(part, p, cur)[0] += 1
        for p in sorted(eligible_other):
            _row(part, p, cur)[1] += 1
        for i, p in enumerate(eligible):
            for q in eligible[i + 1 :]:
                part.co[(p, q)] += 1
        assisted: set[str] = set()
        weights = amounts = Decimal(0)
        main = 0
        below_zero = out_of_window = False
        for c in a.credits:
            weights += c.weight
            amounts += c.amount
            main += c.role in MAIN_ROLES
            below_zero = below_zero or c.amount < 0
            if (
                not out_of_window
                and c.click is not None
                and c.click.clicked_at is not None
                and c.reason != CHAT_OPENER
            ):
                window = self.windows.get(c.click.platform)
                lag = order.created_at - c.click.clicked_at
                out_of_window = lag <= 0 or window is None or lag > window
            if c.role == "primary" and c.platform is not None:
                r = _row(part, c.platform, cur)
                r[2] += 1
                r[3] += c.amount
                name = campaign_key((c.click.campaign if c.click else None) or NO_CAMPAIGN)
                k = part.campaigns.get((c.platform, name, cur))
                if k is None:
                    k = part.campaigns[(c.platform, name, cur)] = [0, Decimal(0)]
                k[0] += 1
                k[1] += c.amount
                if c.lag_seconds is not None:
                    part.lags.setdefault(c.platform, Counter())[lag_bucket(c.lag_seconds)] += 1
            elif c.role == "assist" and c.platform is not None:
                assisted.add(c.platform)
            elif c.role == "fallback" and c.channel is not None:
                _pair(part.channels, (c.channel, cur), c.amount)
            elif c.role == "unattributed":
                _pair(part.reasons, (c.reason, cur), c.amount)
        primary = a.primary
        for p in assisted - ({primary.platform} if primary and primary.platform else set()):
            r = _row(part, p, cur)
            r[4] += 1
            r[5] += order.net
        part.credited[cur] = part.credited.get(cur, Decimal(0)) + amounts
        part.bad[0] += weights != 1
        part.bad[1] += main != 1
        part.bad[2] += amounts != order.net or below_zero
        part.bad[3] += out_of_window


def _row(part: DayPart, platform: str, cur: str) -> list[Any]:
    found = part.platforms.get((platform, cur))
    if found is None:
        found = part.platforms[(platform, cur)] = [0, 0, 0, Decimal(0), 0, Decimal(0)]
    return found


def _pair(into: dict[tuple[str, str], list[Any]], key: tuple[str, str], amount: Decimal) -> None:
    found = into.get(key)
    if found is None:
        found = into[key] = [0, Decimal(0)]
    found[0] += 1
    found[1] += amount
