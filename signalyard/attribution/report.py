"""The reconciliation report of a run: per platform, day and currency, the orders each
platform could claim by its clicks (*eligible*, under both window profiles), the orders it
earned (*primary*), those it assisted, and what it lost to another platform's later click
(*overlap*); the channels credited by the fallback; the unattributed orders by reason; the
actual orders and net revenue; who was co-eligible with whom; data quality; and the checks of
:mod:`.checks`. As a table, CSV or JSON.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from signalyard.attribution.checks import Check, checks_of
from signalyard.attribution.claims import Claim
from signalyard.attribution.engine import Run
from signalyard.attribution.report_output import report_csv, report_json, report_table, text
from signalyard.attribution.rollup import (
    NO_CAMPAIGN,
    Accumulator,
    DayPart,
    campaign_key,
    lag_quantiles,
)

__all__ = [
    "NO_CAMPAIGN",
    "Report",
    "ReportMeta",
    "accumulate",
    "assemble",
    "build_report",
    "day_function",
    "meta_of",
]


QUARTER_HOUR = 900


def day_function(tz: ZoneInfo) -> Callable[[float], str]:
    """UTC seconds -> the calendar day (``YYYY-MM-DD``) in ``tz``. Remembered per quarter
    hour: every time zone's offset, and every change of it, falls on a quarter hour, so all
    the instants of one quarter hour have the same day."""
    days: dict[int, str] = {}

    def day(at: float) -> str:
        quarter = int(at // QUARTER_HOUR)
        found = days.get(quarter)
        if found is None:
            found = days[quarter] = (
                datetime.datetime.fromtimestamp(quarter * QUARTER_HOUR, tz).date().isoformat()
            )
        return found

    return day


class _Claimed:
    """What a row with claims derives: the two ROAS figures, and how a claim adds to it."""

    primary_revenue: Decimal
    has_claims: bool
    claimed: float
    claimed_value: Decimal
    spend: Decimal

    @property
    def true_roas(self) -> Decimal | None:
        """Credited net revenue / spend."""
        return _ratio(self.primary_revenue, self.spend)

    @property
    def claimed_roas(self) -> Decimal | None:
        """The platform's own: claimed value / spend."""
        return _ratio(self.claimed_value, self.spend) if self.has_claims else None

    def add_claim(self, claim: Claim) -> None:
        self.has_claims = True
        self.claimed += claim.conversions
        self.claimed_value += claim.value
        self.spend += claim.spend


@dataclass(slots=True)
class PlatformRow(_Claimed):
    platform: str
    day: str
    currency: str
    eligible: int = 0
    eligible_other: int = 0
    primary: int = 0
    primary_revenue: Decimal = Decimal(0)
    assisted: int = 0
    assisted_revenue: Decimal = Decimal(0)
    """Net revenue of the orders it assisted (each order's whole net: not additive)."""
    has_claims: bool = False
    claimed: float = 0.0
    """Conversions the platform reported (:mod:`.claims`)."""
    claimed_value: Decimal = Decimal(0)
    spend: Decimal = Decimal(0)

    @property
    def overlap(self) -> int:
        """Eligible orders another platform's later click won."""
        return self.eligible - self.primary

    @property
    def unverified(self) -> float | None:
        """Claimed - eligible: conversions the platform claims that no click of ours shows
        (view-through, its own cross-device and modelled conversions, our identity loss)."""
        return round(self.claimed - self.eligible, 2) if self.has_claims else None

    def add(self, other: PlatformRow) -> None:
        self.eligible += other.eligible
        self.eligible_other += other.eligible_other
        self.primary += other.primary
        self.primary_revenue += other.primary_revenue
        self.assisted += other.assisted
        self.assisted_revenue += other.assisted_revenue
        self.has_claims = self.has_claims or other.has_claims
        self.claimed += other.claimed
        self.claimed_value += other.claimed_value
        self.spend += other.spend


def _ratio(a: Decimal, b: Decimal) -> Decimal | None:
    return (a / b).quantize(Decimal("0.01")) if b else None


@dataclass(slots=True)
class CampaignRow(_Claimed):
    """One platform's campaign over the report's days: what it earned beside what it claims."""

    platform: str
    campaign: str
    currency: str
    primary: int = 0
    primary_revenue: Decimal = Decimal(0)
    has_claims: bool = False
    claimed: float = 0.0
    claimed_value: Decimal = Decimal(0)
    spend: Decimal = Decimal(0)


@dataclass(slots=True)
class Report:
    dataset_id: str
    profile: str
    other_profile: str
    lens: str
    tz: str
    platforms: list[PlatformRow] = field(default_factory=list)
    channels: list[tuple[str, str, str, int, Decimal]] = field(default_factory=list)
    """(channel, day, currency, orders, revenue) credited by the fallback."""
    unattributed: list[tuple[str, str, str, int, Decimal]] = field(default_factory=list)
    """(reason, day, currency, orders, revenue)."""
    actual: list[tuple[str, str, int, Decimal, Decimal]] = field(default_factory=list)
    """(day, currency, orders, net revenue, gross revenue)."""
    co_eligible: dict[tuple[str, str], int] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    claims: dict[str, Any] = field(default_factory=dict)
    """Claimed against actual: per currency, and the inflation factors (empty without
    claims)."""
    campaigns: list[CampaignRow] = field(default_factory=list)
    """Per platform, campaign and currency over the days: the campaign of each primary click
    (its landing's ``utm_campaign``) beside the claims imported for that campaign."""

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def totals(self) -> list[PlatformRow]:
        """The platform rows summed over the days, per platform and currency (``day``
        empty)."""
        out: dict[tuple[str, str], PlatformRow] = {}
        for r in self.platforms:
            total = out.setdefault(
                (r.platform, r.currency), PlatformRow(r.platform, "", r.currency)
            )
            total.add(r)
        return [out[k] for k in sorted(out)]

    def to_json(self) -> dict[str, Any]:
        return report_json(self)

    def to_csv(self) -> str:
        """One row per platform, channel, reason and day: ``row`` says which."""
        return report_csv(self)

    def to_table(self) -> str:
        return report_table(self)


@dataclass(frozen=True, slots=True)
class ReportMeta:
    """What a report says of the run it comes from, beside its days."""

    dataset_id: str
    profile: str
    other_profile: str
    lens: str
    tz: str
    shared_keys: int


def meta_of(run: Run, tz: ZoneInfo) -> ReportMeta:
    return ReportMeta(
        run.dataset_id,
        run.windows.profile,
        run.windows.other().profile,
        run.lens,
        str(tz),
        run.shared_keys,
    )


def accumulate(run: Run, tz: ZoneInfo) -> dict[str, DayPart]:
    """The day parts (:mod:`.rollup`) of every order of ``run``, by day in ``tz``."""
    acc = Accumulator(day_function(tz), run.windows.seconds)
    times = Counter(a.order.order_id for a in run.attributions)
    for order in run.orders:
        acc.loaded(order)
        n = times.get(order.order_id, 0)
        if n != 1:
            acc.uncredited(order, n)
    for a in run.attributions:
        journey = run.journeys.get(a.order.order_id)
        acc.add(
            a,
            run.eligible_other.get(a.order.order_id, frozenset()),
            bool(journey and journey.clicks),
            bool(journey and (journey.clicks or journey.touches)),
        )
    acc.add_landings(run.landings, run.landings_with_click)
    return acc.days


def build_report(
    run: Run,
    *,
    tz: ZoneInfo,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    claims: Sequence[Claim] = (),
) -> Report:
    """The report of ``run`` for the orders whose day (in ``tz``) lies in [since, until];
    ``claims`` (:mod:`.claims`) of those days beside them, by the platforms' own days."""
    return assemble(meta_of(run, tz), accumulate(run, tz), since=since, until=until, claims=claims)


def assemble(
    meta: ReportMeta,
    days: Mapping[str, DayPart],
    *,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    claims: Sequence[Claim] = (),
) -> Report:
    """The report of the day parts of ``days`` in [since, until] (the days of a run,
    :func:`accumulate`, or those kept in the store, :mod:`.snapshot`), with ``claims``."""
    first = since.isoformat() if since is not None else None
    last = until.isoformat() if until is not None else None

    def in_range(d: str) -> bool:
        return (first is None or d >= first) and (last is None or d <= last)

    report = Report(meta.dataset_id, meta.profile, meta.other_profile, meta.lens, meta.tz)
    platforms: dict[tuple[str, str, str], PlatformRow] = {}

    def row(platform: str, d: str, cur: str) -> PlatformRow:
        key = (platform, d, cur)
        found = platforms.get(key)
        if found is None:
            found = platforms[key] = PlatformRow(platform, d, cur)
        return found

    campaigns: dict[tuple[str, str, str], CampaignRow] = {}

    def campaign(platform: str, name: str, cur: str) -> CampaignRow:
        key = (platform, name, cur)
        found = campaigns.get(key)
        if found is None:
            found = campaigns[key] = CampaignRow(platform, name, cur)
        return found

    total = DayPart()
    channels: list[tuple[str, str, str, int, Decimal]] = []
    reasons: list[tuple[str, str, str, int, Decimal]] = []
    actual: list[tuple[str, str, int, Decimal, Decimal]] = []
    revenue_keys = 0
    bad_days: list[tuple[str, str]] = []
    zero = Decimal(0)
    for d in sorted(k for k in days if in_range(k)):
        part = days[d]
        for (p, cur), (e, eo, pr, prv, a, av) in part.platforms.items():
            r = row(p, d, cur)
            r.eligible += e
            r.eligible_other += eo
            r.primary += pr
            r.primary_revenue += prv
            r.assisted += a
            r.assisted_revenue += av
        for (p, name, cur), (n, v) in part.campaigns.items():
            k = campaign(p, name, cur)
            k.primary += n
            k.primary_revenue += v
        channels.extend((c, d, cur, n, v) for (c, cur), (n, v) in part.channels.items())
        reasons.extend((why, d, cur, n, v) for (why, cur), (n, v) in part.reasons.items())
        actual.extend((d, cur, n, net, g) for cur, (n, net, g) in part.actual.items())
        currencies = part.loaded.keys() | part.credited.keys()
        revenue_keys += len(currencies)
        bad_days.extend(
            (d, cur)
            for cur in sorted(currencies)
            if part.loaded.get(cur, zero) != part.credited.get(cur, zero)
        )
        total.add_counts(part)
    claimed_orders = 0.0
    claimed_value: dict[str, Decimal] = defaultdict(Decimal)
    for claim in claims:
        if not in_range(claim.day):
            continue
        row(claim.platform, claim.day, claim.currency).add_claim(claim)
        campaign(claim.platform, campaign_key(claim.campaign), claim.currency).add_claim(claim)
        claimed_orders += claim.conversions
        claimed_value[claim.currency] += claim.value
    report.platforms = [platforms[k] for k in sorted(platforms)]
    report.campaigns = [campaigns[k] for k in sorted(campaigns)]
    report.channels = sorted(channels, key=lambda t: (t[0], t[1], t[2]))
    report.unattributed = sorted(reasons, key=lambda t: (t[0], t[1], t[2]))
    report.actual = sorted(actual, key=lambda t: (t[0], t[1]))
    report.co_eligible = dict(total.co)
    n = total.orders
    report.quality = {
        "orders": n,
        "orders_with_identity": _share(total.linked, n),
        "orders_with_a_click": _share(total.with_click, n),
        "orders_with_a_browser": _share(total.with_browser, n),
        "landings": total.landings,
        "landings_with_a_click_id": _share(total.landings_with_click, total.landings),
        "identity_keys_left_out": meta.shared_keys,
        "click_to_order_lag_hours": {
            p: lag_quantiles(hist) for p, hist in sorted(total.lags.items()) if hist
        },
    }
    if claimed_value or claimed_orders:
        net: dict[str, Decimal] = defaultdict(Decimal)
        for _d, cur, _n, v, _g in report.actual:
            net[cur] += v
        report.claims = {
            "claimed_conversions": round(claimed_orders, 2),
            "actual_orders": n,
            "inflation_orders": round(claimed_orders / n, 2) if n else None,
            "by_currency": {
                cur: {
                    "claimed_value": str(claimed_value[cur]),
                    "actual_net": str(net[cur]),
                    "inflation_value": text(_ratio(claimed_value[cur], net[cur])),
                }
                for cur in sorted(claimed_value.keys() | net.keys())
            },
        }
    report.checks = checks_of(total.bad, total.loaded_orders, revenue_keys, sorted(bad_days))
    return report


def _share(part: int, whole: int) -> str:
    return f"{part} ({part / whole:.0%})" if whole else "0"
