"""The reconciliation report of a run: per platform, day and currency, the orders each
platform could claim by its clicks (*eligible*, under both window profiles), the orders it
earned (*primary*), those it assisted, and what it lost to another platform's later click
(*overlap*); the channels credited by the fallback; the unattributed orders by reason; the
actual orders and net revenue; who was co-eligible with whom; data quality; and the checks of
:mod:`.checks`. As a table, CSV or JSON.
"""

from __future__ import annotations

import datetime
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from signalyard.attribution.checks import Check, check
from signalyard.attribution.claims import Claim
from signalyard.attribution.engine import Run
from signalyard.attribution.model import Attribution
from signalyard.attribution.report_output import report_csv, report_json, report_table, text

__all__ = ["Report", "build_report", "day_function"]


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


NO_CAMPAIGN = ""
"""A click whose landing named no campaign; claims imported without one."""


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
    day = day_function(tz)
    kept: list[Attribution] = [
        a
        for a in run.attributions
        if (since is None or day(a.order.created_at) >= since.isoformat())
        and (until is None or day(a.order.created_at) <= until.isoformat())
    ]
    report = Report(
        run.dataset_id, run.windows.profile, run.windows.other().profile, run.lens, str(tz)
    )
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

    channels: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    reasons: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    actual: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    co: Counter[tuple[str, str]] = Counter()
    lags: dict[str, list[float]] = defaultdict(list)
    with_click = linked = 0
    for a in kept:
        order = a.order
        d, cur = day(order.created_at), order.currency
        totals = actual[(d, cur)]
        totals[0] += 1
        totals[1] += order.net
        totals[2] += order.gross if order.gross is not None else order.net
        linked += order.linked
        eligible = sorted(a.eligible_platforms)
        for p in eligible:
            row(p, d, cur).eligible += 1
        for p in sorted(run.eligible_other.get(order.order_id, frozenset())):
            row(p, d, cur).eligible_other += 1
        for i, p in enumerate(eligible):
            for q in eligible[i + 1 :]:
                co[(p, q)] += 1
        if run.journeys.get(order.order_id) and run.journeys[order.order_id].clicks:
            with_click += 1
        assisted: set[str] = set()
        for c in a.credits:
            if c.role == "primary" and c.platform is not None:
                r = row(c.platform, d, cur)
                r.primary += 1
                r.primary_revenue += c.amount
                name = _campaign_key((c.click.campaign if c.click else None) or NO_CAMPAIGN)
                k = campaign(c.platform, name, cur)
                k.primary += 1
                k.primary_revenue += c.amount
                if c.lag_seconds is not None:
                    lags[c.platform].append(c.lag_seconds)
            elif c.role == "assist" and c.platform is not None:
                assisted.add(c.platform)
            elif c.role == "fallback" and c.channel is not None:
                channels[(c.channel, d, cur)][0] += 1
                channels[(c.channel, d, cur)][1] += c.amount
            elif c.role == "unattributed":
                reasons[(c.reason, d, cur)][0] += 1
                reasons[(c.reason, d, cur)][1] += c.amount
        primary = a.primary
        for p in assisted - ({primary.platform} if primary and primary.platform else set()):
            r = row(p, d, cur)
            r.assisted += 1
            r.assisted_revenue += order.net
    claimed_orders = 0.0
    claimed_value: dict[str, Decimal] = defaultdict(Decimal)
    for claim in claims:
        if (since is not None and claim.day < since.isoformat()) or (
            until is not None and claim.day > until.isoformat()
        ):
            continue
        row(claim.platform, claim.day, claim.currency).add_claim(claim)
        campaign(claim.platform, _campaign_key(claim.campaign), claim.currency).add_claim(claim)
        claimed_orders += claim.conversions
        claimed_value[claim.currency] += claim.value
    report.platforms = [platforms[k] for k in sorted(platforms)]
    report.campaigns = [campaigns[k] for k in sorted(campaigns)]
    report.channels = [(c, d, cur, v[0], v[1]) for (c, d, cur), v in sorted(channels.items())]
    report.unattributed = [(r, d, cur, v[0], v[1]) for (r, d, cur), v in sorted(reasons.items())]
    report.actual = [(d, cur, v[0], v[1], v[2]) for (d, cur), v in sorted(actual.items())]
    report.co_eligible = dict(co)
    n = len(kept)
    report.quality = {
        "orders": n,
        "orders_with_identity": _share(linked, n),
        "orders_with_a_click": _share(with_click, n),
        "identity_keys_left_out": run.shared_keys,
        "click_to_order_lag_hours": {
            p: {
                "median": round(statistics.median(v) / 3600, 1),
                "p90": round(_p90(v) / 3600, 1),
            }
            for p, v in sorted(lags.items())
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
    in_range = [
        o
        for o in run.orders
        if (since is None or day(o.created_at) >= since.isoformat())
        and (until is None or day(o.created_at) <= until.isoformat())
    ]
    report.checks = check(kept, run.windows.seconds, day, in_range)
    return report


def _campaign_key(name: str) -> str:
    """Campaigns meet without case or surrounding spaces: a landing's ``utm_campaign`` is
    lowercased, an export keeps the name as the platform shows it."""
    return " ".join(name.split()).lower()


def _share(part: int, whole: int) -> str:
    return f"{part} ({part / whole:.0%})" if whole else "0"


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
