"""Attribution end to end: events through the real app (its lifespan, a SQLite file), taken in
as evidence, credited, reported and explained (the CLI too); the store's attribution tables on
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner

from signalyard.attribution.engine import Attributor, Run
from signalyard.attribution.explain import explain_text
from signalyard.attribution.report import build_report
from signalyard.cli import main
from signalyard.delivery.worker import Worker
from signalyard.runtime import before_prune
from signalyard.secret import Secret
from signalyard.settings import (
    AttributionSettings,
    DashboardSettings,
    DeliverySettings,
    Settings,
    load_settings,
)
from signalyard.sinks import REGISTRY
from signalyard.store.base import AttributionRows, Store
from tests.conftest import in_thread
from tests.dashboard.conftest import PASSWORD, login
from tests.sources.conftest import DATASET, Gateway
from tests.sources.test_shopify import ORDER_ID, PAID_TS, Shop, fixture

pytestmark = pytest.mark.anyio

DAY = 86400
UTC = __import__("zoneinfo").ZoneInfo("UTC")


def attributor(gw: Gateway) -> Attributor:
    return Attributor(gw.store, gw.clock, ((k, s.click_attribution) for k, s in REGISTRY.items()))


def landing(
    gw: Gateway,
    url: str,
    *,
    fbp: str,
    clicks: dict[str, str] | None = None,
    referrer: str | None = None,
    em: str | None = None,
    event_id: str,
) -> dict[str, Any]:
    now = gw.clock.now()
    event: dict[str, Any] = {
        "event_name": "PageView",
        "event_time": int(now),
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": url,
        "user_data": {
            "fbp": fbp,
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
        },
    }
    if em is not None:
        event["user_data"]["em"] = em
    if referrer is not None:
        event["referrer_url"] = referrer
    if clicks:
        event["click_ids"] = {k: {"id": v, "at": int(now * 1000)} for k, v in clicks.items()}
    return event


def order(
    gw: Gateway, order_id: str, value: float, *, fbp: str | None, em: str | None = None
) -> dict[str, Any]:
    user: dict[str, Any] = {"client_ip_address": "203.0.113.7", "client_user_agent": "UA"}
    if fbp:
        user["fbp"] = fbp
    if em:
        user["em"] = em
    return {
        "event_name": "Purchase",
        "event_time": int(gw.clock.now()),
        "event_id": f"purchase-{order_id}",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/thank-you",
        "user_data": user,
        "custom_data": {"currency": "EUR", "value": value, "order_id": order_id},
    }


async def ad_click(gw: Gateway, kind: str, click_id: str, *, fbp: str, event_id: str) -> None:
    """A landing from an ad: its click id in the URL and in ``click_ids``, now."""
    url = f"https://shop.example.com/?{kind}={click_id}"
    await send(gw, landing(gw, url, fbp=fbp, clicks={kind: click_id}, event_id=event_id))


async def send(gw: Gateway, *events: dict[str, Any]) -> None:
    response = await gw.post_json(list(events))
    assert response.status_code == 200, response.text


async def run(gw: Gateway, profile: str = "platform-default", lens: str = "last_click") -> Run:
    return await attributor(gw).run(DATASET, profile=profile, lens=lens)


async def test_meta_then_google_overlap_one_order_one_primary(gateway: Gateway) -> None:
    gw = gateway
    await send(
        gw,
        landing(
            gw,
            "https://shop.example.com/?fbclid=IwAR_meta_1",
            fbp="fb.1.1.A",
            clicks={"fbclid": "IwAR_meta_1"},
            referrer="https://l.facebook.com/",
            event_id="pv-1",
        ),
    )
    gw.clock.advance(2 * DAY)
    await ad_click(gw, "gclid", "Cj0_google_1", fbp="fb.1.1.A", event_id="pv-2")
    gw.clock.advance(3600)
    await send(gw, order(gw, "1001", 120.0, fbp="fb.1.1.A"))
    result = await run(gw)
    [a] = result.attributions
    assert a.primary is not None and a.primary.platform == "google"
    assert a.primary.amount == Decimal("120.00")
    assert a.primary.lag_seconds == 3600
    assert {c.platform for c in a.credits if c.role == "assist"} == {"meta"}
    assert a.eligible_platforms == {"meta", "google"}
    report = build_report(result, tz=UTC)
    assert report.ok, report.checks
    rows = {(r.platform, r.primary, r.eligible, r.assisted, r.overlap) for r in report.platforms}
    assert rows == {("google", 1, 1, 0, 0), ("meta", 0, 1, 1, 1)}
    assert report.co_eligible == {("google", "meta"): 1}
    text = explain_text(result, a, UTC)
    assert "google gclid Cj0_google_1" in text and "eligible (primary)" in text
    assert "meta fbclid IwAR_meta_1" in text and "eligible (assist)" in text


async def test_per_platform_windows_and_the_max_profile(gateway: Gateway) -> None:
    """A 20-day-old Google click (30-day window) beats a 10-day-old Meta click (7-day
    window); under ``max`` (Meta 28 days) the later Meta click wins."""
    gw = gateway
    await ad_click(gw, "gclid", "G20", fbp="fb.1.1.B", event_id="pv-g")
    gw.clock.advance(10 * DAY)
    await ad_click(gw, "fbclid", "M10", fbp="fb.1.1.B", event_id="pv-m")
    gw.clock.advance(10 * DAY)
    await send(gw, order(gw, "2002", 50.0, fbp="fb.1.1.B"))
    default = (await run(gw)).attributions[0]
    assert default.primary is not None and default.primary.platform == "google"
    assert [(c.platform, why) for c, why in default.not_eligible] == [("meta", "out_of_window")]
    widest = (await attributor(gw).run(DATASET, profile="max", sync=False)).attributions[0]
    assert widest.primary is not None and widest.primary.platform == "meta"


async def test_cross_device_with_and_without_email(gateway: Gateway) -> None:
    gw = gateway
    email = hashlib.sha256(b"ada@example.org").hexdigest()
    # Phone: a TikTok ad, then a newsletter sign-up (the e-mail seen with that browser).
    await ad_click(gw, "ttclid", "TT1", fbp="fb.1.1.PHONE", event_id="pv-tt")
    gw.clock.advance(600)
    await send(
        gw,
        landing(
            gw, "https://shop.example.com/news", fbp="fb.1.1.PHONE", em=email, event_id="lead-1"
        ),
    )
    gw.clock.advance(DAY)
    # Laptop: orders with the same e-mail; another laptop orders with no e-mail.
    await send(
        gw,
        order(gw, "3003", 80.0, fbp="fb.1.1.LAPTOP", em=email),
        order(gw, "3004", 20.0, fbp="fb.1.1.OTHER"),
    )
    result = await run(gw)
    by_id = {a.order.order_id: a for a in result.attributions}
    linked = by_id["3003"].primary
    assert linked is not None and linked.platform == "tiktok"
    [lost] = by_id["3004"].credits
    assert (lost.role, lost.reason) == ("unattributed", "no_touch")
    report = build_report(result, tz=UTC)
    assert report.ok
    assert report.actual == [
        (
            __import__("datetime").datetime.fromtimestamp(gw.clock.now(), UTC).date().isoformat(),
            "EUR",
            2,
            Decimal("100.00"),
            Decimal("100.00"),
        )
    ]


async def test_fallback_channel_refund_and_test_orders(gateway: Gateway) -> None:
    gw = gateway
    await send(
        gw,
        landing(
            gw,
            "https://shop.example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=dec",
            fbp="fb.1.1.C",
            event_id="pv-mail",
        ),
    )
    gw.clock.advance(3 * DAY)
    await send(gw, landing(gw, "https://shop.example.com/", fbp="fb.1.1.C", event_id="pv-direct"))
    gw.clock.advance(60)
    await send(gw, order(gw, "4004", 100.0, fbp="fb.1.1.C"))
    test_order = order(gw, "4005", 999.0, fbp="fb.1.1.C")
    response = await gw.post_json([test_order], params={"test_event_code": "TEST123"})
    assert response.status_code == 200
    result = await run(gw)
    [a] = result.attributions  # the test order is not revenue
    [credit] = a.credits
    assert (credit.role, credit.channel, credit.reason) == (
        "fallback",
        "email",
        "fallback_last_non_direct",
    )
    assert credit.amount == a.order.net == Decimal("100.00")
    assert build_report(result, tz=UTC).ok


async def test_a_shopify_refund_lowers_its_own_order_only(shop: Shop) -> None:
    paid = fixture("shopify_orders_paid.json")
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    assert (await shop.deliver("refunds/create", fixture("shopify_refunds_create.json"))).is_success
    result = await run(shop.gw)
    [a] = result.attributions
    refund = sum(
        Decimal(str(t["amount"])) for t in fixture("shopify_refunds_create.json")["transactions"]
    )
    assert a.order.order_id == ORDER_ID and a.order.gross == Decimal(paid["current_total_price"])
    assert a.order.net == a.order.gross - refund
    assert sum(c.amount for c in a.credits) == a.order.net
    report = build_report(result, tz=UTC)
    assert report.ok and report.actual[0][3] == a.order.net and report.actual[0][4] == a.order.gross


async def test_sync_is_incremental_and_runs_repeat(gateway: Gateway) -> None:
    gw = gateway
    worker = attributor(gw)
    await ad_click(gw, "gclid", "G1", fbp="fb.1.1.D", event_id="pv-d")
    assert await worker.sync(DATASET) == 1
    # Received under a minute ago: read again next time (a smaller pk may still commit).
    assert await worker.sync(DATASET) == 1
    gw.clock.advance(61)
    assert await worker.sync(DATASET) == 1  # settled now: the cursor moves past it
    assert await worker.sync(DATASET) == 0
    gw.clock.advance(DAY)
    await send(gw, order(gw, "5005", 10.0, fbp="fb.1.1.D"))
    assert await worker.sync(DATASET, batch=1) == 1
    first = await worker.run(DATASET, profile="platform-default")
    again = await worker.run(DATASET, profile="platform-default")
    assert first.attributions == again.attributions
    assert first.attributions[0].primary is not None


async def test_cli_report_and_explain(gateway: Gateway) -> None:
    gw = gateway
    await ad_click(gw, "ttclid", "T9", fbp="fb.1.1.E", event_id="pv-e")
    gw.clock.advance(3600)
    await send(gw, order(gw, "6006", 42.0, fbp="fb.1.1.E"))
    env = {"SIGNALYARD_DATABASE_URL": gw.settings.database_url}

    class Runner:
        def invoke(self, *args: Any, **kwargs: Any) -> Any:
            return in_thread(lambda: CliRunner().invoke(*args, **kwargs))

    runner = Runner()
    table = runner.invoke(main, ["attribution", "report", "--dataset", DATASET], env=env)
    assert table.exit_code == 0, table.output
    assert "tiktok" in table.output and "[OK] revenue" in table.output
    two = runner.invoke(main, ["attribution", "report"], env=env)
    assert two.exit_code == 2 and "name one with --dataset" in two.output
    env["SIGNALYARD_ATTRIBUTION_WINDOW_PROFILE"] = "max"
    d = ["--dataset", DATASET]
    as_json = runner.invoke(main, ["attribution", "report", "--format", "json", *d], env=env)
    assert as_json.exit_code == 0, as_json.output
    data = orjson.loads(as_json.output)
    assert data["ok"] is True
    assert [(p["platform"], p["primary"]) for p in data["platforms"]] == [("tiktok", 1)]
    assert (data["profile"], data["other_profile"]) == ("max", "platform-default")
    as_csv = runner.invoke(main, ["attribution", "report", "--format", "csv", *d], env=env)
    assert as_csv.output.splitlines()[0].startswith("row,name,day,currency,orders,revenue")
    explained = runner.invoke(main, ["attribution", "explain", "6006", *d], env=env)
    assert explained.exit_code == 0, explained.output
    assert "tiktok ttclid T9" in explained.output and "Why: the latest eligible" in explained.output
    missing = runner.invoke(main, ["attribution", "explain", "nope", *d], env=env)
    assert missing.exit_code == 1 and "no order nope" in missing.output
    bad = runner.invoke(main, ["attribution", "report", "--time-zone", "Mars/Base", *d], env=env)
    assert bad.exit_code == 2 and "IANA" in bad.output


async def test_store_attribution_tables(backend_store: Store) -> None:
    store = backend_store
    await store.add_dataset("42", name="s", default_country=None, now=1.0)
    assert await store.attribution_cursor("42") == 0
    rows = AttributionRows(
        orders=[("o1", 7, 100.0, "EUR", "10.50", "web", "api", "fbp:x")],
        touches=[(5, 90.0, "email", "newsletter", "dec", "fbp:x")],
        clicks=[
            ("gclid", "G", 5, "event", 90.0, "dec"),
            ("ttclid", "T", 7, "order", 100.0, None),
            ("fbclid", "F", 7, "fbc", 42.5, None),
        ],
        links=[("fbp:x", "click:gclid:G", 5, 90.0)],
    )
    await store.attribution_save("42", rows, last_pk=7, now=2.0)
    await store.attribution_save("42", rows, last_pk=3, now=3.0)  # never moves back
    assert await store.attribution_cursor("42") == 7
    # a link seen again later keeps its time; seen again dated earlier, it takes that time
    later = AttributionRows([], [], [], [("fbp:x", "click:gclid:G", 8, 95.0)])
    earlier = AttributionRows([], [], [], [("fbp:x", "click:gclid:G", 9, 80.0)])
    await store.attribution_save("42", later, last_pk=8, now=4.0)
    assert [tuple(r) for r in (await store.attribution_evidence("42")).links] == [
        ("fbp:x", "click:gclid:G", 90.0)
    ]
    await store.attribution_save("42", earlier, last_pk=9, now=5.0)
    assert [tuple(r) for r in (await store.attribution_evidence("42")).links] == [
        ("fbp:x", "click:gclid:G", 80.0)
    ]
    await store.attribution_save("42", rows, last_pk=9, now=6.0)
    loaded = await store.attribution_evidence("42")
    assert [tuple(r) for r in loaded.orders] == [
        ("o1", 7, 100.0, "EUR", "10.50", "web", "api", "fbp:x", None, None)
    ]
    assert [tuple(r) for r in loaded.clicks] == [
        ("gclid", "G", None, 5, "event", "dec"),  # not in the click ledger
        ("fbclid", "F", 42.5, 7, "fbc", None),  # the cookie's creation time
        ("ttclid", "T", None, 7, "order", None),
    ]
    assert [tuple(r) for r in loaded.links] == [("fbp:x", "click:gclid:G", 80.0)]
    assert [tuple(r) for r in loaded.touches] == [(5, 90.0, "email", "newsletter", "dec", "fbp:x")]
    assert await store.attribution_evidence("other") == type(loaded)([], [], [], [])


async def test_the_worker_takes_events_in_before_it_prunes_them(gateway: Gateway) -> None:
    gw = gateway
    await ad_click(gw, "gclid", "GP", fbp="fb.1.1.P", event_id="pv-p")
    gw.clock.advance(3600)
    await send(gw, order(gw, "7007", 15.0, fbp="fb.1.1.P"))
    gw.clock.advance(8 * DAY)  # past the 7-day retention: both events may go
    async with httpx.AsyncClient() as client:
        worker = Worker(
            gw.store,
            DeliverySettings(),
            clock=gw.clock,
            client=client,
            sandbox_url="http://127.0.0.1:1",
            before_prune=attributor(gw).sync_all,
        )
        await worker.prune()
    assert await gw.store.event_count(DATASET) == 0
    result = await attributor(gw).run(DATASET, profile="platform-default", sync=False)
    [a] = result.attributions
    assert a.primary is not None and a.primary.platform == "google"


async def test_the_gateway_s_dashboard_page_follows_the_attribution_settings(
    make_gateway: Any,
) -> None:
    gw = await make_gateway(
        dashboard=DashboardSettings(password=Secret(PASSWORD)),
        attribution=AttributionSettings(window_profile="max", lens="linear"),
    )
    async with httpx.AsyncClient(
        transport=gw.client._transport, base_url="http://127.0.0.1"
    ) as client:
        await login(client)
        page = await client.get("/dashboard/attribution", params={"dataset": DATASET})
    assert page.status_code == 200, page.text
    assert '<option value="max" selected>' in page.text
    assert "windows <strong>max</strong>" in page.text and "lens: linear" in page.text


async def test_a_sale_closed_in_a_chat_is_the_click_to_message_ad_s(gateway: Gateway) -> None:
    """A WhatsApp sale carrying the ctwa_clid of the ad that opened the chat is Meta's even
    days past Meta's 7-day click window, and even after a later Google click of the same
    customer (which assists); a Messenger sale without an ad click follows the web rules."""
    gw = gateway
    phone = "+84901234567"
    await ad_click(gw, "gclid", "Cj0-chat", fbp="fb.1.1.CHAT", event_id="pv-chat")
    gw.clock.advance(9 * DAY)

    def chat_sale(order_id: str, channel: str, user: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_name": "Purchase",
            "event_time": int(gw.clock.now()),
            "event_id": order_id,
            "action_source": "business_messaging",
            "messaging_channel": channel,
            "user_data": user,
            "custom_data": {"currency": "VND", "value": 350000, "order_id": order_id},
        }

    await send(
        gw,
        chat_sale(
            "WA-1",
            "whatsapp",
            {"whatsapp_business_account_id": "102290129340398", "ctwa_clid": "ARAk-1", "ph": phone},
        ),
        chat_sale("MS-1", "messenger", {"page_id": "1122334455", "page_scoped_user_id": "778899"}),
    )
    result = await run(gw)
    by_id = {a.order.order_id: a for a in result.attributions}
    whatsapp = by_id["WA-1"]
    assert whatsapp.order.kind == "chat"
    assert whatsapp.primary is not None
    assert (whatsapp.primary.platform, whatsapp.primary.reason) == ("meta", "click_to_message_ad")
    assert whatsapp.primary.amount == Decimal("350000.00")
    [messenger] = by_id["MS-1"].credits
    assert (messenger.role, messenger.reason) == ("unattributed", "no_touch")
    report = build_report(result, tz=UTC)
    assert report.ok
    assert [(r.platform, r.primary) for r in report.platforms] == [("meta", 1)]
    assert "click-to-message ad" in explain_text(result, whatsapp, UTC)


async def test_a_chat_opened_from_a_messenger_or_instagram_ad_is_that_ad_s(
    gateway: Gateway,
) -> None:
    """The referral's ad id (click_ids.referral_ad_id) on an event of the chat (the chat's
    opening, days before) or on the sale itself makes the sale Meta's, whole, past Meta's
    7-day window. The same ad opening another user's chat credits nothing here; a referral
    outside a chat (a website event) ties nothing; a chat sale without a referral follows
    the web rules."""
    gw = gateway

    def chat_event(
        name: str, event_id: str, channel: str, user: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        return {
            "event_name": name,
            "event_time": int(gw.clock.now()),
            "event_id": event_id,
            "action_source": "business_messaging",
            "messaging_channel": channel,
            "user_data": user,
            **extra,
        }

    page = {"page_id": "1122334455"}
    ig = {"ig_account_id": "17841400000000001"}
    await send(
        gw,
        chat_event(
            "Contact",
            "open-1",
            "messenger",
            {**page, "page_scoped_user_id": "PSID-1"},
            click_ids={"referral_ad_id": "6045246247433"},
        ),
        chat_event(
            "Contact",
            "open-2",
            "messenger",
            {**page, "page_scoped_user_id": "PSID-2"},
            click_ids={"referral_ad_id": "6045246247433"},
        ),
        # a website event naming a referral: no chat, nothing tied
        {
            **landing(gw, "https://shop.example.com/", fbp="fb.1.1.WEB", event_id="pv-web"),
            "click_ids": {"referral_ad_id": "6045246247433"},
        },
    )
    gw.clock.advance(9 * DAY)

    def sale(order_id: str, channel: str, user: dict[str, Any], **extra: Any) -> dict[str, Any]:
        custom = {"currency": "USD", "value": 40, "order_id": order_id}
        return chat_event("Purchase", order_id, channel, user, custom_data=custom, **extra)

    await send(
        gw,
        sale("MS-1", "messenger", {**page, "page_scoped_user_id": "PSID-1"}),
        sale(
            "IG-1",
            "instagram",
            {**ig, "ig_sid": "IGSID-1"},
            click_ids={"referral_ad_id": "120210000000001"},
        ),
        sale("MS-3", "messenger", {**page, "page_scoped_user_id": "PSID-3"}),
        order(gw, "WEB-1", 10.0, fbp="fb.1.1.WEB"),
    )
    result = await run(gw)
    by_id = {a.order.order_id: a for a in result.attributions}
    for order_id in ("MS-1", "IG-1"):
        a = by_id[order_id]
        assert a.order.kind == "chat"
        assert a.primary is not None, order_id
        assert (a.primary.platform, a.primary.reason) == ("meta", "click_to_message_ad")
        assert a.primary.amount == Decimal("40.00")
    [unrelated] = by_id["MS-3"].credits
    assert unrelated.role == "unattributed"
    web = by_id["WEB-1"]
    assert web.primary is None and not web.eligible_platforms
    report = build_report(result, tz=UTC)
    assert report.ok
    assert [(r.platform, r.primary) for r in report.totals()] == [("meta", 2)]


async def test_evidence_past_its_retention_is_pruned(gateway: Gateway) -> None:
    gw = gateway
    await ad_click(gw, "gclid", "OLD", fbp="fb.1.1.R", event_id="pv-old")
    gw.clock.advance(3600)
    await send(gw, order(gw, "R-OLD", 5.0, fbp="fb.1.1.R"))
    worker = Attributor(
        gw.store,
        gw.clock,
        ((k, s.click_attribution) for k, s in REGISTRY.items()),
        retention_days=30,
    )
    await worker.sync_all()
    gw.clock.advance(31 * DAY)
    await send(gw, order(gw, "R-NEW", 7.0, fbp="fb.1.1.R"))
    await worker.sync_all()  # takes R-NEW in, prunes what is over 30 days old
    evidence = await gw.store.attribution_evidence(DATASET)
    assert [r[0] for r in evidence.orders] == ["R-NEW"]
    assert evidence.touches == [] and evidence.clicks == []
    kept = [(a, b) for a, b, _at in evidence.links]
    assert ("fbp:fb.1.1.R", "click:gclid:OLD") in kept  # links are kept


@pytest.mark.parametrize("token", ["checkout", "none"])
async def test_the_checkout_token_links_a_browser_to_its_shopify_order(
    shop: Shop, token: str
) -> None:
    """A checkout's page sent the checkout's token with its event (browser_ids.checkout, as
    `signalyard.track(..., {checkout: token})` does); the order webhook carries it as
    checkout_token and neither the browser's fbp nor its cart: the order is the browser's
    click's. Without the token nothing joins them."""
    gw = shop.gw
    paid = fixture("shopify_orders_paid.json")
    paid["note_attributes"] = []
    paid["email"] = paid["contact_email"] = None
    paid["customer"] = {}
    paid["cart_token"] = None
    start = gw.clock.now()
    gw.clock.advance(PAID_TS - 3600 - start)
    url = "https://shop.example.com/?gclid=G-checkout"
    event = landing(gw, url, fbp="fb.1.1.CHECKOUT", clicks={"gclid": "G-checkout"}, event_id="pv-k")
    if token == "checkout":
        event["browser_ids"] = {"checkout": paid["checkout_token"]}
    await send(gw, event)
    gw.clock.advance(start - gw.clock.now())
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    result = await run(gw)
    [a] = result.attributions
    if token == "checkout":
        assert a.primary is not None and a.primary.platform == "google"
    else:
        assert a.primary is None


async def test_the_cart_token_links_a_browser_to_its_shopify_order(shop: Shop) -> None:
    """The browser sent Shopify's cart cookie with its events (browser_ids.cart, with the
    "?key=" Shopify may add); the order webhook carries the cart token but no fbp of that
    browser: the order is the click's."""
    gw = shop.gw
    paid = fixture("shopify_orders_paid.json")
    paid["note_attributes"] = []  # no _fbp, no click id on the order
    paid["email"] = paid["contact_email"] = None
    paid["customer"] = {}
    start = gw.clock.now()
    gw.clock.advance(PAID_TS - 3600 - start)  # an hour before the order's payment
    url = "https://shop.example.com/?ttclid=TT-cart"
    event = landing(gw, url, fbp="fb.1.1.CART", clicks={"ttclid": "TT-cart"}, event_id="pv-c")
    event["browser_ids"] = {"cart": paid["cart_token"] + "%3Fkey%3Dabc123"}
    await send(gw, event)
    gw.clock.advance(start - gw.clock.now())
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    result = await run(gw)
    [a] = result.attributions
    assert a.primary is not None and a.primary.platform == "tiktok"


async def test_the_worker_s_attribution_step_can_be_turned_off(gateway: Gateway) -> None:
    gw = gateway
    off = Settings(attribution=AttributionSettings(enabled=False))
    assert before_prune(off, gw.store, gw.clock) is None  # nor are claims fetched
    await ad_click(gw, "gclid", "G-before", fbp="fb.1.1.BEFORE", event_id="pv-before")
    no_claims = Settings(attribution=AttributionSettings(fetch_claims_hours=0))
    sync_only = before_prune(no_claims, gw.store, gw.clock)
    assert sync_only is not None and await sync_only() == 1
    assert load_settings(environ={"SIGNALYARD_ATTRIBUTION_ENABLED": "false"}).attribution == (
        AttributionSettings(enabled=False)
    )
    await ad_click(gw, "gclid", "G-on", fbp="fb.1.1.ON", event_id="pv-on")
    step = before_prune(Settings(), gw.store, gw.clock)
    assert step is not None and await step() == 2  # under a minute old: read again


@pytest.mark.parametrize(("login_after", "credited"), [(2 * 3600, "meta"), (3 * DAY, None)])
async def test_a_link_seen_after_the_settle_period_does_not_rewrite_an_order(
    gateway: Gateway, login_after: float, credited: str | None
) -> None:
    """A Meta click on the phone, an order on the laptop with the e-mail; the phone logs in
    with that e-mail later. Within a day (late evidence of the same purchase) the link pulls
    the click in; days later it does not rewrite the order, but credits the next one."""
    gw = gateway
    email = hashlib.sha256(b"grace@example.org").hexdigest()
    await ad_click(gw, "fbclid", "IwAR_settle", fbp="fb.1.1.PHONE", event_id="pv-settle")
    gw.clock.advance(3600)
    await send(gw, order(gw, "5001", 50.0, fbp="fb.1.1.LAPTOP", em=email))
    gw.clock.advance(login_after)
    login = landing(
        gw, "https://shop.example.com/account", fbp="fb.1.1.PHONE", em=email, event_id="login"
    )
    await send(gw, login)
    gw.clock.advance(3600)
    await send(gw, order(gw, "5002", 30.0, fbp="fb.1.1.LAPTOP", em=email))
    result = await run(gw)
    by_id = {a.order.order_id: a for a in result.attributions}
    first = by_id["5001"].primary
    assert (first.platform if first else None) == credited
    if credited is None:
        assert [(c.role, c.reason) for c in by_id["5001"].credits] == [("unattributed", "no_touch")]
    second = by_id["5002"].primary  # the click is within Meta's 7 days of it either way
    assert second is not None and second.platform == "meta"


async def test_a_server_purchase_s_fbc_gives_meta_its_click_and_the_click_s_time(
    gateway: Gateway,
) -> None:
    """A shop whose server alone sends events: the Purchase's ``fbc`` (made when the ad's link
    landed, its creation time in ms) is Meta's click, at that time."""
    gw = gateway
    now = gw.clock.now()
    recent = order(gw, "6001", 40.0, fbp="fb.1.1.SRV1")
    recent["user_data"]["fbc"] = f"fb.1.{int((now - 2 * DAY) * 1000)}.IwAR_server_recent"
    old = order(gw, "6002", 60.0, fbp="fb.1.1.SRV2")
    old["user_data"]["fbc"] = f"fb.1.{int((now - 10 * DAY) * 1000)}.IwAR_server_old"
    ahead = order(gw, "6003", 10.0, fbp="fb.1.1.SRV3")  # made at the order: it dates nothing
    ahead["user_data"]["fbc"] = f"fb.1.{int((now + 600) * 1000)}.IwAR_server_ahead"
    await send(gw, recent, old, ahead)
    result = await run(gw)
    by_id = {a.order.order_id: a for a in result.attributions}
    first = by_id["6001"].primary
    assert first is not None and first.platform == "meta"
    assert first.lag_seconds == 2 * DAY
    assert [(c.click_id, why) for c, why in by_id["6002"].not_eligible] == [
        ("IwAR_server_old", "out_of_window")
    ]
    assert by_id["6002"].primary is None
    assert result.eligible_other["6002"] == frozenset({"meta"})  # 28 days under max
    [(click, why)] = by_id["6003"].not_eligible
    assert (click.clicked_at, why) == (None, "time_unknown")


async def test_data_quality_counts_landings_with_a_click_id_and_orders_linked_to_a_browser(
    gateway: Gateway,
) -> None:
    """Three landings (one from a Google ad, one from a search engine, one a newsletter's
    link, on two days) and two orders: one linked to that browser, one from a server with
    only an e-mail nobody else gave. Landings count by their own day (``since``)."""
    gw = gateway
    await send(
        gw,
        landing(
            gw,
            "https://shop.example.com/?gclid=G-q",
            fbp="fb.1.1.Q",
            clicks={"gclid": "G-q"},
            event_id="pv-q1",
        ),
        landing(
            gw,
            "https://shop.example.com/",
            fbp="fb.1.1.Q",
            referrer="https://www.google.com/",
            event_id="pv-q2",
        ),
    )
    gw.clock.advance(DAY)
    await send(
        gw,
        landing(
            gw, "https://shop.example.com/?utm_medium=email&utm_source=news", fbp="fb.1.1.Q",
            event_id="pv-q3",
        ),
        order(gw, "Q-1", 20.0, fbp="fb.1.1.Q"),
        order(gw, "Q-2", 30.0, fbp=None, em="f" * 64),
    )  # fmt: skip
    result = await run(gw)
    quality = build_report(result, tz=UTC).quality
    assert quality["landings"] == 3
    assert quality["landings_with_a_click_id"] == "1 (33%)"
    assert quality["orders_with_a_browser"] == "1 (50%)"
    assert quality["orders_with_a_click"] == "1 (50%)"
    today = datetime.datetime.fromtimestamp(gw.clock.now(), datetime.UTC).date()
    second = build_report(result, tz=UTC, since=today).quality
    assert second["landings"] == 1 and second["landings_with_a_click_id"] == "0 (0%)"
