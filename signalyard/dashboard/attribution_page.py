"""The Attribution page (``/dashboard/attribution``): for the selected dataset, the report of
``signalyard attribution report`` (docs/attribution.md) with the window profile, the lens and
the days chosen on the page: the checks first, a chart per currency (per platform: eligible,
credited and, when claims were imported (:mod:`signalyard.attribution.claims`), the
conversions the platform claims), the per-platform table (totals over the period, with the
claims, spend and both ROAS; the days behind a details element), then the fallback channels,
the unattributed orders by reason, the actual orders, the co-eligible pairs, the claims
summary with where each platform's claims came from (a CSV file, its reporting API) and when
(and a button fetching them now: ``POST /attribution/claims``), and data quality.

It reads the report kept in the store for the chosen profile, lens and reporting currency
(:mod:`signalyard.attribution.snapshot`: one row per day), so that a year answers in well under
a second: a kept report that new events made stale is computed again while the page waits
when its last computation was short, else in the background while the page shows the kept
one and says when it was computed. The report holds no personal data and no click id; the
page shows nothing else."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from signalyard.attribution.claims import load_claims, load_sources
from signalyard.attribution.convert import Converter, MissingRates
from signalyard.attribution.engine import Attributor
from signalyard.attribution.fetch import fetch_claims, fetched_lines
from signalyard.attribution.model import LENSES
from signalyard.attribution.rates import load_rates
from signalyard.attribution.report import PlatformRow, Report
from signalyard.attribution.snapshot import WAIT_SECONDS, Got, Reports
from signalyard.attribution.windows import PROFILES
from signalyard.dashboard.charts import grouped_bars
from signalyard.dashboard.format import slug, utc
from signalyard.dashboard.pages import Pages
from signalyard.runtime import make_attributor
from signalyard.settings import AttributionSettings

__all__ = ["AttributionPage", "Choice", "parse_choice", "report_view"]

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_FLASH = 1500
"""The longest message a fetch leaves for the page (it travels in the session cookie)."""
COLOURS = {"eligible": "s4", "credited": "s0", "claimed": "s1"}
"""The chart's series: eligible light blue, credited (primary) blue, claimed orange."""
LENS_LABELS = {
    "last_click": "last eligible click",
    "first_click": "first eligible click",
    "linear": "linear",
    "position_based": "position based",
    "time_decay": "time decay",
}
CLAIMS_LABELS = {
    "claimed_conversions": "conversions the platforms claim",
    "actual_orders": "actual orders",
    "inflation_orders": "claimed / actual orders",
}
QUALITY_LABELS = {
    "orders": "orders",
    "orders_with_identity": "orders with any id",
    "orders_with_a_click": "orders with a click",
    "orders_with_a_browser": "orders linked to a browser (a landing or a click)",
    "landings": "landings",
    "landings_with_a_click_id": "landings with an ad click id",
    "identity_keys_left_out": "identity keys left out (shared by too many browsers)",
}


@dataclass(frozen=True, slots=True)
class Choice:
    """What the page's form asks for (defaults: the settings)."""

    profile: str
    lens: str
    since: datetime.date | None
    until: datetime.date | None
    since_text: str = ""
    until_text: str = ""


def _day(name: str, text: str, errors: list[str]) -> datetime.date | None:
    if not text:
        return None
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        errors.append(f"{name} must be a day written YYYY-MM-DD (such as 2026-12-01)")
        return None


def parse_choice(
    params: Mapping[str, str], defaults: AttributionSettings
) -> tuple[Choice, list[str]]:
    """The choice the query asks for, and what is wrong with it (empty: nothing). A value
    that is wrong is replaced by its default, so the form can show it again."""
    errors: list[str] = []
    profile = params.get("profile") or defaults.window_profile
    if profile not in PROFILES:
        errors.append(f"profile must be one of {', '.join(PROFILES)}")
        profile = defaults.window_profile
    lens = params.get("lens") or defaults.lens
    if lens not in LENSES:
        errors.append(f"lens must be one of {', '.join(LENSES)}")
        lens = defaults.lens
    since_text = params.get("since", "").strip()[:32]
    until_text = params.get("until", "").strip()[:32]
    since = _day("since", since_text, errors)
    until = _day("until", until_text, errors)
    if since is not None and until is not None and since > until:
        errors.append("since must not be after until")
    return Choice(profile, lens, since, until, since_text, until_text), errors


# what the page shows ---------------------------------------------------------------------


def money(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def amount(value: float | None) -> str:
    """Conversions: whole numbers without decimals (platforms may report fractions)."""
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def ratio(value: Decimal | float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _line(row: PlatformRow) -> dict[str, Any]:
    """A platform row as the template shows it; the claim fields are None for a platform
    without claims."""
    claims = row.has_claims
    return {
        "platform": row.platform,
        "day": row.day,
        "currency": row.currency,
        "eligible": row.eligible,
        "eligible_other": row.eligible_other,
        "primary": row.primary,
        "primary_revenue": row.primary_revenue,
        "assisted": row.assisted,
        "overlap": row.overlap,
        "has_claims": claims,
        "claimed": row.claimed if claims else None,
        "claimed_value": row.claimed_value if claims else None,
        "spend": row.spend if claims else None,
        "true_roas": row.true_roas if claims else None,
        "claimed_roas": row.claimed_roas,
        "unverified": row.unverified,
    }


def report_view(report: Report) -> dict[str, Any]:
    """What the template shows of ``report`` (pure): per currency its chart, totals and days,
    then the report's other sections."""
    totals = [_line(r) for r in report.totals()]
    days = [_line(r) for r in report.platforms]
    currencies = sorted(
        {r["currency"] for r in totals} | {cur for _d, cur, *_rest in report.actual}
    )
    sections = []
    for cur in currencies:
        cur_totals = [r for r in totals if r["currency"] == cur]
        claims = any(r["has_claims"] for r in cur_totals)
        series: list[tuple[str, list[float]]] = [
            ("eligible", [r["eligible"] for r in cur_totals]),
            ("credited", [r["primary"] for r in cur_totals]),
        ]
        if claims:
            series.append(("claimed", [r["claimed"] or 0.0 for r in cur_totals]))
        chart: Markup = grouped_bars(
            f"attribution-chart-{slug(cur)}",
            f"Orders per platform ({cur}): eligible, credited"
            + (", claimed by the platform" if claims else ""),
            [r["platform"] for r in cur_totals],
            series,
            y_title="orders",
            colours=COLOURS,
        )
        sections.append(
            {
                "currency": cur,
                "slug": slug(cur),
                "chart": chart,
                "totals": cur_totals,
                "days": [r for r in days if r["currency"] == cur],
                "claims": claims,
                "campaigns": [k for k in report.campaigns if k.currency == cur],
            }
        )
    quality = report.quality
    lags = quality.get("click_to_order_lag_hours", {})
    summary = report.claims
    return {
        "report": report,
        "checks": report.checks,
        "sections": sections,
        "channels": report.channels,
        "unattributed": report.unattributed,
        "actual": report.actual,
        "co_eligible": sorted(report.co_eligible.items()),
        "quality": [
            (k, QUALITY_LABELS.get(k, k.replace("_", " ")), v)
            for k, v in quality.items()
            if not isinstance(v, dict)
        ],
        "lags": sorted(lags.items()) if isinstance(lags, dict) else [],
        "orders": quality.get("orders", 0),
        "claims": [
            (k, CLAIMS_LABELS.get(k, k.replace("_", " ")), v)
            for k, v in summary.items()
            if not isinstance(v, dict)
        ],
        "claims_by_currency": sorted(summary.get("by_currency", {}).items()),
    }


def _kept_view(got: Got, now: float) -> dict[str, Any]:
    """What the page says of the kept report it shows: when it was computed, from how many
    orders, and whether a newer one is being computed."""
    k = got.kept
    if k is None:
        return {"first": True, "fresh": False, "refreshing": got.refreshing}
    return {
        "first": False,
        "computed_at": utc(k.computed_at),
        "age_minutes": max(0, int((now - k.computed_at) // 60)),
        "seconds": round(k.seconds, 1),
        "orders": k.orders,
        "fresh": got.fresh,
        "refreshing": got.refreshing,
    }


# the handler -----------------------------------------------------------------------------


class AttributionPage:
    def __init__(
        self,
        pages: Pages,
        settings: AttributionSettings | None = None,
        *,
        attributor: Callable[[], Attributor] | None = None,
        client: Callable[[], httpx.AsyncClient] = httpx.AsyncClient,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        """``settings``: the defaults of the form and the report's time zone (the
        ``[attribution]`` settings); ``attributor``: makes the attributor (default: every
        registered platform's click windows over the pages' store); ``client``: the HTTP
        client the claims are fetched with; ``wait_seconds``: a stale kept report whose last
        computation took less is computed again while the page waits
        (:class:`~signalyard.attribution.snapshot.Reports`)."""
        self.pages = pages
        self.settings = settings or AttributionSettings()
        self.attributor = attributor or self._default_attributor
        self.client = client
        self.wait_seconds = wait_seconds
        self._reports: Reports | None = None

    def _default_attributor(self) -> Attributor:
        return make_attributor(self.pages.store, self.pages.web.clock)

    async def aclose(self) -> None:
        """Stop the reports computing in the background (the gateway stopping)."""
        if self._reports is not None:
            await self._reports.aclose()

    def reports(self) -> Reports:
        """The kept reports (:mod:`signalyard.attribution.snapshot`), made on first use."""
        if self._reports is None:
            self._reports = Reports(
                self.pages.store,
                self.attributor(),
                self.pages.web.clock,
                tz=ZoneInfo(self.settings.time_zone),
                rates_base=self.settings.rates_base,
                wait_seconds=self.wait_seconds,
            )
        return self._reports

    async def show(self, request: Request) -> Response:
        got = await self.pages._common(request, "attribution")
        if isinstance(got, Response):
            return got
        session, ctx = got
        choice, errors = parse_choice(request.query_params, self.settings)
        ctx.update(
            choice=choice,
            errors=errors,
            profiles=PROFILES,
            lenses=[(k, LENS_LABELS.get(k, k)) for k in LENSES],
            time_zone=self.settings.time_zone,
            view=None,
            kept=None,
            claim_sources=[],
        )
        status = 400 if errors else 200
        if ctx["dataset"] is not None and not errors:
            tz = ZoneInfo(self.settings.time_zone)
            to = self.settings.reporting_currency or ""
            found = await self.reports().get(ctx["dataset_id"], choice.profile, choice.lens, to)
            ctx["kept"] = _kept_view(found, self.pages.web.clock.now())
            claims = await load_claims(self.pages.store, ctx["dataset_id"])
            try:
                if found.kept is not None and found.kept.error:
                    raise MissingRates([], message=found.kept.error)
                if to and claims:
                    needed = {c.currency for c in claims} | {to}
                    rates = await load_rates(self.pages.store, self.settings.rates_base, needed)
                    converter = Converter(rates, to, tz)
                    claims = [converter.claim(c) for c in claims]
                    converter.check()
            except MissingRates as error:
                ctx["errors"] = [
                    f"{error} (attribution.reporting_currency is {to}): import rates of base"
                    f" {self.settings.rates_base} covering them with `signalyard attribution"
                    " import-rates FILE`"
                ]
                status = 409
            else:
                if found.kept is not None:
                    report = await self.reports().report(
                        found.kept, since=choice.since, until=choice.until, claims=claims
                    )
                    ctx["view"] = report_view(report)
            ctx["claim_sources"] = [
                {
                    "platform": c.platform,
                    "source": c.source,
                    "days": f"{c.first_day} .. {c.last_day}",
                    "rows": c.rows,
                    "kept": utc(c.kept_at),
                }
                for c in await load_sources(self.pages.store, ctx["dataset_id"])
            ]
        ctx.update(money=money, amount=amount, ratio=ratio)
        return self.pages.web.render(
            request, "attribution.html", ctx, session=session, status=status
        )

    async def fetch_claims(self, request: Request) -> Response:
        """``POST /attribution/claims``: fetch the dataset's claims of the last
        ``fetch_claims_days`` days now (as ``signalyard attribution fetch-claims``), and say
        what each destination gave."""
        web = self.pages.web
        session = await web.session(request)
        if session is None or not session.authenticated:
            return web.to_login(request)
        form = await web.checked_form(request, session)
        if form is None:
            return web.forbidden()
        dataset_id = str(form.get("dataset", ""))[:200]
        if not any(d.id == dataset_id for d in await self.pages.store.list_datasets()):
            message = "No such dataset: no claims fetched."
        else:
            clock = web.clock
            until = datetime.datetime.fromtimestamp(clock.now(), datetime.UTC).date()
            since = until - datetime.timedelta(days=self.settings.fetch_claims_days - 1)
            async with self.client() as client:
                results = await fetch_claims(
                    self.pages.store,
                    dataset_id,
                    client=client,
                    since=since,
                    until=until,
                    sandbox_url=self.pages.sandbox_url,
                    now=clock.now(),
                )
            said = "; ".join(" ".join(line.split()) for line in fetched_lines(results))
            message = f"Claims of {since} .. {until}: {said or 'no destination'}."
            if len(message) > MAX_FLASH:
                message = message[: MAX_FLASH - 1] + "…"
        url = web.url_maker(request)("/attribution", dataset=dataset_id)
        response = web.redirect(url + "#attribution-claim-sources")
        web.set_session(request, response, session.with_flash(message))
        return response
