"""The Attribution page through the real dashboard: events seeded through the real ingest path
(landings with click ids, orders with an order id), attribution run by the page, the checks,
the profile and lens switches, the days, bad input, the login, and no click id on the page;
the page's pure parts (the choice, the view with the platforms' claims, the grouped bars)."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from signalyard.attribution.checks import Check
from signalyard.attribution.claims import Claim, save_claims
from signalyard.attribution.report import PlatformRow, Report
from signalyard.clock import FrozenClock
from signalyard.dashboard.attribution_page import parse_choice, report_view
from signalyard.dashboard.charts import grouped_bars
from signalyard.settings import AttributionSettings
from signalyard.sources.ingest import Ingestor
from signalyard.store.sqlite import SQLiteStore

from .conftest import DATASET, client_for, login, text_by_testid

pytestmark = pytest.mark.anyio

DAY = 86400
PATH = "/dashboard/attribution"
CLICK_IDS = ("IwAR_meta_A", "Cj0_google_A", "IwAR_meta_B")
BROWSER_IDS = ("fb.1.1800000000.A", "fb.1.1800000000.B")


def _landing(now: float, url: str, fbp: str, clicks: dict[str, str], n: int) -> dict[str, Any]:
    return {
        "event_name": "PageView",
        "event_time": int(now),
        "event_id": f"pv-{n}",
        "action_source": "website",
        "event_source_url": url,
        "referrer_url": "https://l.facebook.com/" if "fbclid" in clicks else None,
        "user_data": {
            "fbp": fbp,
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
        },
        "click_ids": {k: {"id": v, "at": int(now * 1000)} for k, v in clicks.items()},
    }


def _order(now: float, order_id: str, value: float, fbp: str) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(now),
        "event_id": f"purchase-{order_id}",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/thank-you",
        "user_data": {"fbp": fbp, "client_ip_address": "203.0.113.7", "client_user_agent": "UA"},
        "custom_data": {"currency": "EUR", "value": value, "order_id": order_id},
    }


async def seed_orders(store: SQLiteStore, clock: FrozenClock) -> None:
    """Two shoppers, through the real ingest path (clock starts 2027-01-15 08:00 UTC):

    - B clicks a Meta ad (day 0);
    - A clicks a Meta ad (day 1), then a Google ad (day 2), and orders 1001 (120 EUR) an hour
      later (2027-01-17): Google credited, Meta eligible and assisting;
    - B orders 1002 (80 EUR) 10 days after the Meta click (2027-01-25): out of Meta's 7-day
      default window, inside its 28-day ``max`` one."""
    ingestor = Ingestor(store, clock, default_country=None, max_future_seconds=600)
    dataset = await store.get_dataset(DATASET)
    assert dataset is not None
    meta_a, google_a, meta_b = CLICK_IDS
    fbp_a, fbp_b = BROWSER_IDS

    async def send(event: dict[str, Any]) -> None:
        event = {k: v for k, v in event.items() if v is not None}
        result = await ingestor.ingest([event], dataset, source="graph_api")
        assert result.stored == 1

    start = clock.now()
    await send(
        _landing(start, f"https://shop.example.com/?fbclid={meta_b}", fbp_b, {"fbclid": meta_b}, 1)
    )
    clock.advance(DAY)
    await send(
        _landing(
            clock.now(), f"https://shop.example.com/?fbclid={meta_a}", fbp_a, {"fbclid": meta_a}, 2
        )
    )
    clock.advance(DAY)
    await send(
        _landing(
            clock.now(),
            f"https://shop.example.com/?gclid={google_a}&utm_campaign=Winter%20Sale",
            fbp_a,
            {"gclid": google_a},
            3,
        )
    )
    clock.advance(3600)
    await send(_order(clock.now(), "1001", 120.0, fbp_a))
    clock.advance(start + 10 * DAY - clock.now())
    await send(_order(clock.now(), "1002", 80.0, fbp_b))


@pytest.fixture
async def orders(store: SQLiteStore, clock: FrozenClock) -> None:
    """Ask for it before ``authed``: it moves the clock 10 days, past a login's 12 hours."""
    await seed_orders(store, clock)


async def show(client: httpx.AsyncClient, **params: str) -> tuple[str, dict[str, str]]:
    r = await client.get(PATH, params=params)
    assert r.status_code == 200, r.text
    return r.text, text_by_testid(r.text)


async def test_google_credited_meta_eligible_and_assisted(
    orders: None, authed: httpx.AsyncClient
) -> None:
    html, ids = await show(authed)
    assert ids["nav-attribution"] == "Attribution"
    assert 'data-testid="nav-attribution" aria-current="page"' in html
    # the checks come first, each OK
    assert html.index('data-testid="attribution-checks"') < html.index("attribution-chart-EUR")
    checks = {k: v for k, v in ids.items() if k.startswith("check-")}
    assert set(checks) == {
        "check-weights",
        "check-one_truth",
        "check-amounts",
        "check-windows",
        "check-revenue",
    }
    assert all(v.startswith("OK ") for v in checks.values()), checks
    assert 'data-ok="false"' not in html
    # platform-default: Meta's click of order 1002 is 10 days old, out of its 7-day window
    assert ids["attribution-credited-google-EUR"] == "1"
    assert ids["attribution-revenue-google-EUR"] == "120.00"
    assert ids["attribution-eligible-google-EUR"] == "1"
    assert ids["attribution-eligible-meta-EUR"] == "1"
    assert ids["attribution-eligible-other-meta-EUR"] == "2"  # under max
    assert ids["attribution-credited-meta-EUR"] == "0"
    assert ids["attribution-assisted-meta-EUR"] == "1"
    assert ids["attribution-overlap-meta-EUR"] == "1"
    assert ids["attribution-co-eligible-google-meta"] == "google + meta 1"
    # per campaign: the Google click's landing named its campaign
    row = ids["attribution-campaign-google-winter-sale-EUR"]
    assert row.startswith("google winter sale 1 120.00")
    # 1002 falls back to the channel of its last landing (a Meta click: paid social)
    assert ids["attribution-channel-paid_social-2027-01-25-EUR"].endswith("1 80.00")
    assert ids["attribution-actual-2027-01-17-EUR"] == "2027-01-17 EUR 1 120.00 120.00"
    assert ids["attribution-actual-2027-01-25-EUR"] == "2027-01-25 EUR 1 80.00 80.00"
    assert ids["attribution-quality-orders"] == "2"
    assert ids["attribution-lag-google"] == "google 1.0 1.0"
    assert "attribution-day-meta-2027-01-17-EUR" in ids
    # the chart: per platform, eligible and credited (no claims yet)
    chart = ids["attribution-chart-EUR"]
    assert chart.endswith("eligible credited")
    assert "<title>google, credited: 1</title>" in html
    assert "<title>meta, eligible: 1</title>" in html
    assert "claimed" not in chart
    assert "attribution-claims" not in ids
    # no personal data, no click id
    for secret in (*CLICK_IDS, *BROWSER_IDS):
        assert secret not in html


async def test_profile_switch_changes_eligibility(orders: None, authed: httpx.AsyncClient) -> None:
    html, ids = await show(authed, profile="max")
    assert '<option value="max" selected>' in html
    assert ids["attribution-eligible-meta-EUR"] == "2"
    assert ids["attribution-eligible-other-meta-EUR"] == "1"  # under platform-default
    assert ids["attribution-credited-meta-EUR"] == "1"
    assert ids["attribution-revenue-meta-EUR"] == "80.00"
    assert ids["attribution-credited-google-EUR"] == "1"
    assert "attribution-channel-paid_social-2027-01-25-EUR" not in ids
    assert all(v.startswith("OK ") for k, v in ids.items() if k.startswith("check-"))
    # the lens: first click gives 1001 to Meta
    _, ids = await show(authed, lens="first_click")
    assert ids["attribution-credited-meta-EUR"] == "1"
    assert ids["attribution-revenue-meta-EUR"] == "120.00"
    assert ids["attribution-assisted-google-EUR"] == "1"


async def test_days_limit_the_orders(orders: None, authed: httpx.AsyncClient) -> None:
    html, ids = await show(authed, since="2027-01-20", until="2027-01-31")
    assert 'value="2027-01-20"' in html
    assert "attribution-actual-2027-01-17-EUR" not in ids
    assert "attribution-actual-2027-01-25-EUR" in ids
    assert ids["attribution-quality-orders"] == "1"
    _, ids = await show(authed, since="2028-01-01")
    assert "No orders in these days" in ids["attribution-empty"]
    assert all(v.startswith("OK ") for k, v in ids.items() if k.startswith("check-"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "since must be a day written YYYY-MM-DD"),
        ({"until": "2027-02-30"}, "until must be a day written YYYY-MM-DD"),
        ({"since": "2027-02-01", "until": "2027-01-01"}, "since must not be after until"),
        ({"profile": "forever"}, "profile must be one of platform-default, max"),
        ({"lens": "<script>"}, "lens must be one of last_click"),
    ],
)
async def test_bad_input_is_a_message(
    orders: None, authed: httpx.AsyncClient, params: dict[str, str], message: str
) -> None:
    r = await authed.get(PATH, params=params)
    assert r.status_code == 400
    ids = text_by_testid(r.text)
    assert message in ids["attribution-error"]
    assert "attribution-checks" not in ids
    assert "<script>" not in r.text
    assert ids["attribution-submit"] == "Show"  # the form is there to correct it


async def test_login_required(store: SQLiteStore, clock: FrozenClock, orders: None) -> None:
    from .conftest import app_for

    async with client_for(app_for(store, clock)) as client:
        r = await client.get(PATH, params={"profile": "max"})
        assert r.status_code == 303
        assert (
            r.headers["location"]
            == "/dashboard/login?next=%2Fdashboard%2Fattribution%3Fprofile%3Dmax"
        )
        assert "attribution-checks" not in r.text
        assert (await login(client)).status_code == 303
        assert (await client.get(PATH)).status_code == 200


async def test_no_orders_and_other_dataset(
    authed: httpx.AsyncClient, store: SQLiteStore, clock: FrozenClock
) -> None:
    await store.add_dataset("555", name="Blog", default_country=None, now=clock.now())
    html, ids = await show(authed, dataset="555")
    assert '<option value="555" selected>' in html
    assert ids["attribution-empty"] == "No orders."
    assert ids["attribution-quality-orders"] == "0"
    assert all(v.startswith("OK ") for k, v in ids.items() if k.startswith("check-"))


# the pure parts ----------------------------------------------------------------------------


def test_choice_defaults_come_from_the_settings() -> None:
    settings = AttributionSettings(window_profile="max", lens="linear", time_zone="Europe/Paris")
    choice, errors = parse_choice({}, settings)
    assert (choice.profile, choice.lens, choice.since, choice.until, errors) == (
        "max",
        "linear",
        None,
        None,
        [],
    )
    choice, errors = parse_choice({"since": "2027-01-01", "until": "", "profile": ""}, settings)
    assert (choice.profile, choice.since, choice.until, errors) == (
        "max",
        datetime.date(2027, 1, 1),
        None,
        [],
    )
    choice, errors = parse_choice({"since": "20270101"}, settings)
    assert choice.since is None and errors == [
        "since must be a day written YYYY-MM-DD (such as 2026-12-01)"
    ]


def claimed_report(*checks: Check) -> Report:
    """A report whose Meta row has claims (7.5 conversions worth 600 for 100 spent)."""
    row = PlatformRow("meta", "2027-01-17", "EUR", 2, 3, 1, Decimal("80.00"), 1)
    row.has_claims, row.claimed = True, 7.5
    row.claimed_value, row.spend = Decimal("600"), Decimal("100")
    report = Report(DATASET, "platform-default", "max", "last_click", "UTC", platforms=[row])
    report.checks = list(checks) or [Check("weights", True, "3 orders")]
    report.quality = {"orders": 3}
    no_orders = {"claimed_value": "600", "actual_net": "0", "inflation_value": ""}
    report.claims = {"inflation_orders": 2.5, "by_currency": {"EUR": no_orders}}
    return report


def test_view_shows_the_platforms_claims() -> None:
    view = report_view(claimed_report())
    [section] = view["sections"]
    assert section["claims"]
    [total] = section["totals"]
    assert (total["day"], total["claimed"], total["unverified"]) == ("", 7.5, 5.5)
    assert (total["true_roas"], total["claimed_roas"]) == (Decimal("0.80"), Decimal("6.00"))
    chart = str(section["chart"])
    assert "<title>meta, claimed: 7.5</title>" in chart
    assert chart.count("<rect ") == 3


async def test_failed_check_is_red(
    authed: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signalyard.attribution import snapshot

    failed = claimed_report(Check("revenue", False, "1 day(s) x currency differ"))

    async def report(self: object, kept: object, **kw: object) -> Report:
        return failed

    monkeypatch.setattr(snapshot.Reports, "report", report)
    r = await authed.get(PATH)
    assert r.status_code == 200
    assert '<li class="check failed" data-testid="check-revenue" data-ok="false">' in r.text
    ids = text_by_testid(r.text)
    assert ids["check-revenue"] == "FAILED revenue: 1 day(s) x currency differ"
    assert ids["attribution-checks"].startswith("Checks a check FAILED")
    assert ids["attribution-claims-inflation_orders"] == "2.5"
    assert ids["attribution-claims-EUR"] == "EUR 600 0 n/a"


async def test_page_shows_imported_claims(
    orders: None, authed: httpx.AsyncClient, store: SQLiteStore
) -> None:
    """Meta claims 3 conversions (worth 400 EUR, 50 EUR spent) on the day of order 1001,
    where one click of ours makes it eligible and Google got the order."""
    claims = [Claim("meta", "2027-01-17", "", "EUR", 3.0, Decimal("400"), Decimal("50"))]
    await save_claims(store, DATASET, claims, source="meta.csv", now=0.0)
    html, ids = await show(authed)
    assert ids["attribution-claimed-meta-EUR"] == "3"
    assert ids["attribution-claimed-value-meta-EUR"] == "400.00"
    assert ids["attribution-spend-meta-EUR"] == "50.00"
    assert ids["attribution-true-roas-meta-EUR"] == "0.00"  # nothing credited to Meta
    assert ids["attribution-claimed-roas-meta-EUR"] == "8.00"
    assert ids["attribution-unverified-meta-EUR"] == "2"  # 3 claimed, 1 eligible
    assert ids["attribution-claimed-google-EUR"] == "n/a"  # Google claims nothing here
    assert ids["attribution-chart-EUR"].endswith("eligible credited claimed")
    assert "<title>meta, claimed: 3</title>" in html
    assert ids["attribution-claims-claimed_conversions"] == "3.0"
    assert ids["attribution-claims-actual_orders"] == "2"
    assert ids["attribution-claims-EUR"].startswith("EUR 400")
    assert all(v.startswith("OK ") for k, v in ids.items() if k.startswith("check-"))
    assert (
        ids["attribution-claim-source-meta-meta-csv"]
        == "meta meta.csv 2027-01-17 .. 2027-01-17 1 1970-01-01 00:00 UTC"
    )
    # the days outside the claims' day: no claim columns
    _, ids = await show(authed, since="2027-01-20")
    assert "attribution-claimed-meta-EUR" not in ids


def test_grouped_bars() -> None:
    chart = str(
        grouped_bars(
            "c",
            "Orders <EUR>",
            ["google", "meta"],
            [("eligible", [1, 2]), ("credited", [1, 0])],
            y_title="orders",
            colours={"credited": "s0"},
        )
    )
    assert chart.count("<rect ") == 3  # a zero draws nothing
    assert "<title>meta, eligible: 2</title>" in chart
    assert 'class="s0"' in chart and "Orders &lt;EUR&gt;" in chart
    assert re.search(r'<text class="tick"[^>]*>google</text>', chart)
    empty = str(grouped_bars("e", "none", [], [("eligible", [])], y_title="orders"))
    assert "nothing in this period" in empty and "<rect " not in empty


async def test_the_claims_can_be_fetched_from_the_page(
    orders: None, authed: httpx.AsyncClient, store: SQLiteStore, clock: FrozenClock
) -> None:
    from signalyard.secret import Secret

    from .conftest import csrf_of

    secrets = {"access_token": Secret("EAAB-claims-page-token")}
    for name, options in (
        ("meta-no-account", {"pixel_id": DATASET}),
        # nothing listens on port 1 of this machine: a refusal, never the internet
        (
            "meta-down",
            {"pixel_id": DATASET, "ad_account_id": "42", "graph_url": "http://127.0.0.1:1"},
        ),
    ):
        await store.add_destination(
            DATASET, name=name, kind="meta", options=options, secrets=secrets, now=clock.now()
        )
    page = await authed.get(PATH, params={"dataset": DATASET})
    assert 'data-testid="attribution-fetch-claims"' in page.text
    assert "No claims kept yet" in page.text
    form = {"csrf": csrf_of(page.text), "dataset": DATASET}
    r = await authed.post("/dashboard/attribution/claims", data=form)
    assert r.status_code == 303
    assert r.headers["location"].endswith(
        f"/dashboard/attribution?dataset={DATASET}#attribution-claim-sources"
    )
    shown = await authed.get(PATH, params={"dataset": DATASET})
    flash = text_by_testid(shown.text)["flash"]
    assert flash.startswith("Claims of ")
    assert "meta-down (meta): FAILED: no answer from Meta's Ads Insights (ConnectError)" in flash
    assert "meta-no-account (meta): skipped: set the option ad_account_id" in flash
    assert "EAAB-claims-page-token" not in shown.text
    forged = await authed.post("/dashboard/attribution/claims", data={"dataset": DATASET})
    assert forged.status_code == 403
    unknown = await authed.post(
        "/dashboard/attribution/claims", data={"csrf": form["csrf"], "dataset": "nope"}
    )
    assert unknown.status_code == 303


async def test_fetching_claims_needs_a_login(client: httpx.AsyncClient) -> None:
    r = await client.post("/dashboard/attribution/claims", data={"dataset": DATASET})
    assert r.status_code in (302, 303) and "/dashboard/login" in r.headers["location"]


async def test_the_page_in_one_currency(
    store: SQLiteStore, clock: FrozenClock, orders: None
) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from signalyard.attribution.rates import Rate, save_rates
    from signalyard.dashboard import create_dashboard
    from signalyard.secret import Secret
    from signalyard.settings import DashboardSettings

    settings = AttributionSettings(reporting_currency="USD")
    app = Starlette(
        routes=[
            Mount(
                "/dashboard",
                app=create_dashboard(
                    store,
                    clock,
                    DashboardSettings(password=Secret("correct horse battery")),
                    attribution=settings,
                ),
            )
        ]
    )
    async with client_for(app) as client:
        assert (await login(client, "correct horse battery")).status_code == 303
        r = await client.get(PATH)
        assert r.status_code == 409
        error = text_by_testid(r.text)["attribution-error"]
        assert "no exchange rate for USD on" in error and "import-rates" in error
        days = {
            datetime.datetime.fromtimestamp(clock.now() - d * 86400, datetime.UTC).date()
            for d in range(40)
        }
        rates = [Rate("USD", day.isoformat(), Decimal("1.25")) for day in days]
        await save_rates(store, rates, base="EUR", source="test", now=clock.now())
        _, ids = await show(client)
        assert "attribution-section-USD" in ids and "attribution-section-EUR" not in ids
        assert all(v.startswith("OK ") for k, v in ids.items() if k.startswith("check-"))
