"""Defects found in review, each pinned: arrival order never changes credits (a Purchase of
the shop's server before the order webhook's, a landing that arrives after its order), a
second sale in a WhatsApp chat, rounding never below zero, odd time zones and claim days
refused cleanly, and the revenue check summing the orders on its own."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from click.testing import CliRunner

from signalyard.attribution.channels import classify
from signalyard.attribution.checks import check
from signalyard.attribution.claims import parse_claims
from signalyard.attribution.identity import Persons
from signalyard.attribution.model import Click, Order, attribute
from signalyard.attribution.report import build_report, day_function
from signalyard.cli import main
from signalyard.errors import ConfigError, InputError
from signalyard.settings import load_settings
from tests.attribution.test_engine import DAY, order, run, send
from tests.sources.conftest import DATASET as DATASET_ID
from tests.sources.conftest import Gateway
from tests.sources.test_shopify import ORDER_ID, PAID_TS, Shop, fixture

pytestmark = pytest.mark.anyio
UTC = ZoneInfo("UTC")


async def test_a_refund_counts_when_the_shop_s_server_sent_the_purchase_first(shop: Shop) -> None:
    gw = shop.gw
    paid = fixture("shopify_orders_paid.json")
    api = order(gw, ORDER_ID, 129.5, fbp="fb.1.1.API")
    api["event_time"] = PAID_TS
    await send(gw, api)  # the shop's server, before the webhook
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    assert (await shop.deliver("refunds/create", fixture("shopify_refunds_create.json"))).is_success
    [a] = (await run(gw)).attributions
    assert a.order.gross == Decimal("129.50") and a.order.net == Decimal("75.47")


async def test_a_landing_arriving_after_its_order_still_gives_its_click_time(
    gateway: Gateway,
) -> None:
    """The order (carrying its gclid, no click time) reaches the gateway before the landing
    of an hour earlier: Google is credited as when they arrive the other way round."""
    gw = gateway
    gw.clock.advance(3600)
    purchase = order(gw, "LATE-1", 30.0, fbp="fb.1.1.L")
    purchase["click_ids"] = {"gclid": "Cj0-late"}
    await send(gw, purchase)
    landing_at = gw.clock.now() - 3600
    late_landing: dict[str, Any] = {
        "event_name": "PageView",
        "event_time": int(landing_at),
        "event_id": "pv-late",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/?gclid=Cj0-late",
        "user_data": {
            "fbp": "fb.1.1.L",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "UA",
        },
        "click_ids": {"gclid": {"id": "Cj0-late", "at": int(landing_at * 1000)}},
    }
    await send(gw, late_landing)
    [a] = (await run(gw)).attributions
    assert a.primary is not None and a.primary.platform == "google"
    assert a.primary.lag_seconds == 3600


async def test_a_second_sale_in_the_same_whatsapp_chat_is_the_ad_s_too(gateway: Gateway) -> None:
    gw = gateway

    def sale(order_id: str) -> dict[str, Any]:
        return {
            "event_name": "Purchase",
            "event_time": int(gw.clock.now()),
            "event_id": order_id,
            "action_source": "business_messaging",
            "messaging_channel": "whatsapp",
            "user_data": {
                "whatsapp_business_account_id": "102290129340398",
                "ctwa_clid": "ARAk-2",
                "ph": "+84901234567",
            },
            "custom_data": {"currency": "VND", "value": 100000, "order_id": order_id},
        }

    await send(gw, sale("WA-A"))
    gw.clock.advance(2 * DAY)
    await send(gw, sale("WA-B"))
    result = await run(gw)
    assert [
        (a.order.order_id, a.primary.reason if a.primary else None) for a in result.attributions
    ] == [("WA-A", "click_to_message_ad"), ("WA-B", "click_to_message_ad")]


def test_rounding_never_gives_a_negative_credit() -> None:
    t = 1_800_000_000.0
    clicks = [Click("meta", "fbclid", f"c{i}", t - 3600 * (i + 1), i) for i in range(6)]
    o = Order("tiny", t, "EUR", Decimal("0.04"))
    a = attribute(o, clicks, (), {"meta": 7 * 86400}, lens="linear")
    assert sum(c.amount for c in a.credits) == Decimal("0.04")
    assert min(c.amount for c in a.credits) >= 0


def test_odd_time_zones_are_refused_cleanly() -> None:
    for name in ("Europe", "x" * 300):
        with pytest.raises(ConfigError, match="IANA"):
            load_settings(environ={"SIGNALYARD_ATTRIBUTION_TIME_ZONE": name})
    out = CliRunner().invoke(
        main,
        ["attribution", "report", "--time-zone", "Europe"],
        env={"SIGNALYARD_DATABASE_URL": "sqlite:////nonexistent/x.db"},
    )
    assert out.exit_code == 2 and "IANA" in out.output and "Traceback" not in out.output


@pytest.mark.parametrize("day", ["20261201", "2026-W49-2", "2026-12-1"])
def test_claim_days_are_written_as_the_report_writes_them(day: str) -> None:
    text = f"date,conversions,value,spend\n{day},1,2,3\n"
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        parse_claims(io.StringIO(text), platform="meta", currency="EUR")


def test_the_revenue_check_sums_the_orders_on_their_own() -> None:
    t = 1_800_000_000.0
    orders = [Order("a", t, "EUR", Decimal("10.00")), Order("b", t, "EUR", Decimal("5.00"))]
    credited = [attribute(o, (), (), {}) for o in orders]
    day = day_function(UTC)
    assert all(c.ok for c in check(credited, {}, day, orders))
    failed = {c.name: c.ok for c in check(credited[:1], {}, day, orders)}
    assert failed["revenue"] is False and failed["one_truth"] is False


def test_a_huge_referrer_host_is_classified_without_trouble() -> None:
    host = ".".join(["a"] * 2000) + ".com"
    landing = classify("https://shop.example.com/", f"https://{host}/", click_channels={})
    assert landing is not None and landing.channel in ("referral", "direct")


def test_the_shared_key_guardrail_counts_browsers_per_day() -> None:
    """A loyal customer whose browser id is renewed every week (Safari) keeps their e-mail's
    links; a test address used from 21 browsers in one day links nothing."""
    week, t0 = 7 * 86400, 1_800_000_000.0
    loyal = [("em:loyal", f"fbp:{i}", t0 + i * week) for i in range(30)]
    loyal.append(("fbp:29", "click:gclid:G", t0 + 29 * week))
    persons = Persons(loyal)
    assert persons.shared == frozenset()
    assert persons.of("fbp:0") == persons.of("click:gclid:G")
    staff = [("em:test", f"fbp:s{i}", t0 + i * 60) for i in range(21)]
    assert Persons(staff).shared == frozenset({"em:test"})


def test_persons_grow_in_the_order_links_were_seen() -> None:
    t0 = 1_800_000_000.0
    links = [
        ("fbp:a", "em:x", t0 + 100),
        ("fbp:b", "em:x", t0 + 10),
        ("fbp:c", "click:gclid:G", None),  # time unknown: there from the start
    ]
    persons = Persons(links, deferred=True)
    assert persons.advance(t0) == [("fbp:c", "click:gclid:G")]
    assert persons.of("fbp:a") != persons.of("fbp:b")
    joined = persons.advance(t0 + 50)
    assert joined == [("fbp:b", "em:x")] and persons.of("fbp:b") == persons.of("em:x")
    assert persons.of("fbp:a") == "fbp:a"
    assert persons.advance(t0 + 50) == []  # nothing twice
    persons.advance(t0 + 100)
    assert persons.of("fbp:a") == persons.of("fbp:b")
    all_at_once = Persons(links)
    assert all_at_once.of("fbp:a") == all_at_once.of("fbp:b")


def test_a_key_stops_linking_from_the_day_it_was_shared_not_before() -> None:
    day, t0 = 86400, 1_800_000_000.0 - 1_800_000_000.0 % 86400
    early = [("em:s", "fbp:own", t0), ("fbp:own", "click:gclid:G", t0)]
    shared = [("em:s", f"fbp:s{i}", t0 + 3 * day + i) for i in range(21)]
    persons = Persons(early + shared)
    assert persons.shared == frozenset({"em:s"})
    assert persons.of("em:s") == persons.of("click:gclid:G")  # its first day's link stands
    assert all(persons.of(f"fbp:s{i}") == f"fbp:s{i}" for i in range(21))


@pytest.mark.parametrize(
    ("fbc", "expected"),
    [
        ("fb.1.1764000000123.IwAR1", ("IwAR1", 1764000000.123)),
        ("fb.2.1764000000123.Iw.AR.dots", ("Iw.AR.dots", 1764000000.123)),
        ("fb.1.1764000000.IwAR1", ("IwAR1", None)),  # seconds, not milliseconds
        ("fb.1." + "9" * 400 + ".IwAR1", None),  # over MAX_NODE
        ("fb.1." + "9" * 30 + ".IwAR1", ("IwAR1", None)),
        ("fb.1.12x.IwAR1", None),
        ("fb.1.²³.IwAR1", None),  # digits to str.isdigit, not to int(): was a crash
        ("fb.1.١٢٣٤٥٦٧٨٩٠١٢٣.IwAR1", None),
        ("fb.1.1764000000123.", None),
        ("fb.1.1764000000123", None),
        ("xx.1.1764000000123.IwAR1", None),
        (1764000000123, None),
    ],
)
def test_fbc_cookies_are_read_strictly(fbc: object, expected: object) -> None:
    from signalyard.attribution.extract import _fbc_click

    assert _fbc_click(fbc) == expected


@pytest.mark.parametrize("token", ["checkout", "cart"])
def test_the_guardrail_sees_browsers_behind_an_order_s_tokens(token: str) -> None:
    """25 browsers each send a checkout (or cart) token; the 25 orders carrying them share one
    test e-mail and no browser id: the e-mail was seen with 25 browsers, so it links nothing
    (it once joined them all through the tokens, which the count left out)."""
    t0 = 1_800_000_000.0
    links = []
    for i in range(25):
        links.append((f"fbp:{i}", f"{token}:T{i}", t0 + i))  # the browser's checkout page
        links.append((f"{token}:T{i}", "em:shared", t0 + i + 30))  # its order
    links.append(("fbp:0", "click:gclid:G", t0))
    persons = Persons(links)
    assert persons.shared == frozenset({"em:shared"})
    assert persons.of("fbp:0") == persons.of("click:gclid:G")
    assert persons.of(f"{token}:T5") != persons.of("click:gclid:G")
    # an order linking its cart and its checkout: the browsers behind either count
    few = [("fbp:a", "checkout:K", t0), ("cart:C", "checkout:K", t0), ("cart:C", "em:x", t0)]
    assert Persons(few).shared == frozenset()


def _chat(
    gw: Gateway, name: str, event_id: str, channel: str, user: dict[str, Any], **extra: Any
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


def _sale(gw: Gateway, order_id: str, channel: str, user: dict[str, Any]) -> dict[str, Any]:
    custom = {"currency": "USD", "value": 30, "order_id": order_id}
    return _chat(gw, "Purchase", order_id, channel, user, custom_data=custom)


async def test_a_referral_opens_only_its_own_chat_user_s_sales(gateway: Gateway) -> None:
    """A Messenger user opened a chat from an ad; 80 days later the same customer (linked by
    the e-mail) buys in an Instagram chat they started: not the Messenger ad's. The referral
    click has the chat's time (so Meta's windows and retention apply to it), and the
    Messenger sale itself is still the ad's however old the chat."""
    gw = gateway
    email = "0" * 63 + "e"  # a hashed e-mail (64 hex characters)
    opened = int(gw.clock.now())
    await send(
        gw,
        _chat(
            gw,
            "Contact",
            "open-ms",
            "messenger",
            {"page_id": "11", "page_scoped_user_id": "PSID-7", "em": email},
            click_ids={"referral_ad_id": "6045"},
        ),
    )
    gw.clock.advance(80 * DAY)
    await send(
        gw,
        _sale(gw, "IG-80", "instagram", {"ig_account_id": "17", "ig_sid": "IG-9", "em": email}),
        _sale(gw, "MS-80", "messenger", {"page_id": "11", "page_scoped_user_id": "PSID-7"}),
    )
    result = await run(gw)
    by_id = {a.order.order_id: a for a in result.attributions}
    assert by_id["IG-80"].primary is None  # Meta's click is 80 days old: out of its windows
    ms = by_id["MS-80"].primary
    assert ms is not None and (ms.platform, ms.reason) == ("meta", "click_to_message_ad")
    assert ms.click is not None and ms.click.clicked_at == opened
    evidence = await gw.store.attribution_evidence(DATASET_ID)
    [click] = [c for c in evidence.clicks if c[0] == "referral_ad_id"]
    assert click[1] == "6045/PSID-7" and click[2] == opened
    assert build_report(result, tz=ZoneInfo("UTC")).ok  # the opener is not window-checked


async def test_a_test_event_s_referral_ties_nothing(gateway: Gateway) -> None:
    gw = gateway
    user = {"page_id": "11", "page_scoped_user_id": "PSID-T"}
    opening = _chat(
        gw, "Contact", "open-t", "messenger", user, click_ids={"referral_ad_id": "6046"}
    )
    response = await gw.post(
        content=orjson.dumps({"data": [opening], "test_event_code": "TEST123"}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    gw.clock.advance(3600)
    await send(gw, _sale(gw, "MS-T", "messenger", user))
    [a] = (await run(gw)).attributions
    assert a.primary is None
