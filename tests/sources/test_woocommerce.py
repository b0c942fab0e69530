"""WooCommerce order webhooks through the real app, with a REST v3 order body
(tests/sources/fixtures): the ping, signatures (and WordPress's entity-decoded secret),
replays and re-sends, Purchase once and only in a paid status, refunds by policy."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from signalyard.secret import Secret
from signalyard.sources import webhook_store as ws
from signalyard.sources.woocommerce import signing_keys
from tests.sources.conftest import DATASET, Gateway, GatewayFactory

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "wc-9Tq!x7Lp@2vR#kM4"
ORDER_ID = "4127"
BROWSER_EID = "b71e04c2-5d3a-4f8e-9c21-6a0d3e9f1b57"
PAID_TS = 1_799_998_318  # date_paid_gmt 2027-01-15T07:31:58
PATH = f"/webhooks/woocommerce/{DATASET}"
SITE = "https://hopper-supplies.example.de/"
PLAINTEXT = (
    "grace.hopper@example.net",
    "Grace",
    "Hopper",
    "Kurfürstendamm",
    "030 1234567",
    "49301234567",
    "10719",
)


def order(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(
        (FIXTURES / "woocommerce_order_processing.json").read_bytes()
    )
    data.update(changes)
    return data


def pending() -> dict[str, Any]:
    return order(
        status="pending",
        date_paid=None,
        date_paid_gmt=None,
        date_modified_gmt="2027-01-15T07:31:08",
        needs_payment=True,
    )


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class Store:
    """A WooCommerce site delivering webhooks to the gateway under test."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    async def deliver(
        self,
        payload: dict[str, Any] | None = None,
        *,
        topic: str = "order.updated",
        body: bytes | None = None,
        delivery_id: str | None = None,
        secret: str = SECRET,
        drop: tuple[str, ...] = (),
    ) -> httpx.Response:
        if body is None:
            body = orjson.dumps(payload)
        resource, _, event = topic.partition(".")
        headers = {
            "content-type": "application/json",
            "user-agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
            "x-wc-webhook-source": SITE,
            "x-wc-webhook-topic": topic,
            "x-wc-webhook-resource": resource,
            "x-wc-webhook-event": event,
            "x-wc-webhook-signature": sign(body, secret),
            "x-wc-webhook-id": "12",
            "x-wc-webhook-delivery-id": delivery_id or uuid.uuid4().hex,
        }
        for name in drop:
            del headers[name]
        return await self.gw.client.post(PATH, content=body, headers=headers)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.gw.stored() if name is None or e["event_name"] == name]


SiteFactory = Callable[..., Awaitable[Store]]


@pytest.fixture
async def make_site(make_gateway: GatewayFactory) -> SiteFactory:
    async def start(secret: str = SECRET, **options: str) -> Store:
        gateway = await make_gateway()
        await ws.add_source(gateway.store, DATASET, "woocommerce", [Secret(secret)], options, now=0)
        return Store(gateway)

    return start


@pytest.fixture
async def site(make_site: SiteFactory) -> Store:
    return await make_site()


async def test_ping_on_creation_is_answered_200(site: Store) -> None:
    r = await site.gw.client.post(
        PATH,
        content=b"webhook_id=12",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200
    assert r.json()["messages"] == ["webhook ping received"]
    assert site.events() == []


async def test_processing_order_stores_one_purchase_with_the_browser_ids(site: Store) -> None:
    r = await site.deliver(order(), topic="order.created")
    assert r.status_code == 200, r.text
    assert r.json()["events"] == [
        {"event_name": "Purchase", "event_id": BROWSER_EID, "stored": True}
    ]
    [row] = site.events()
    assert (row["source"], row["event_id"], row["event_time"]) == (
        "woocommerce",
        BROWSER_EID,
        PAID_TS,
    )
    event = row["payload"]
    assert event["action_source"] == "website"
    assert event["event_source_url"].startswith(
        "https://hopper-supplies.example.de/produkt/compiler-tasse/"
    )
    user = event["user_data"]
    assert user["fbp"] == "fb.1.1799993000000.5566778899"
    assert user["fbc"] == "fb.1.1799996000000.IwAR0WooClick"
    assert user["client_ip_address"] == "198.51.100.23"
    # a German national number, made international with the order's country (not the dataset's)
    assert user["ph"] == [hashlib.sha256(b"49301234567").hexdigest()]
    assert user["em"] == [hashlib.sha256(b"grace.hopper@example.net").hexdigest()]
    assert user["external_id"] == [hashlib.sha256(b"318").hexdigest()]
    assert user["country"] == [hashlib.sha256(b"de").hexdigest()]
    assert event["custom_data"] == {
        "currency": "EUR",
        "value": 71.39,
        "order_id": ORDER_ID,
        "contents": [
            {"id": "233", "quantity": 2, "item_price": 13.445378},
            {"id": "245", "quantity": 1, "item_price": 33.613445},
        ],
        "content_type": "product",
        "num_items": 3,
    }
    raw = site.gw.raw_database_bytes()
    for value in PLAINTEXT:
        assert value.encode() not in raw, value


async def test_pending_order_waits_then_one_purchase(site: Store) -> None:
    r = await site.deliver(pending(), topic="order.created")
    assert r.status_code == 200
    assert "not paid yet (status pending): no Purchase yet" in r.json()["messages"]
    on_hold = pending()
    on_hold["status"] = "on-hold"
    on_hold["date_modified_gmt"] = "2027-01-15T07:31:30"
    await site.deliver(on_hold)
    assert site.events() == []
    await site.deliver(order())
    completed = order(status="completed", date_modified_gmt="2027-01-15T07:45:00")
    completed["date_completed_gmt"] = "2027-01-15T07:45:00"
    await site.deliver(completed)
    [purchase] = site.events()
    assert purchase["event_id"] == BROWSER_EID
    state = await ws.get_order(site.gw.store, DATASET, "woocommerce", ORDER_ID)
    assert state is not None and state.status == "completed"


async def test_failed_and_cancelled_orders_send_nothing(site: Store) -> None:
    await site.deliver(order(status="failed", date_paid_gmt=None))
    await site.deliver(order(status="cancelled", date_modified_gmt="2027-01-15T07:40:00"))
    assert site.events() == []
    # a late processing delivery of the cancelled order
    await site.deliver(order())
    assert site.events() == []


async def test_invalid_signature_is_401_and_stores_nothing(site: Store) -> None:
    r = await site.deliver(order(), secret="wrong")
    assert r.status_code == 401
    assert "X-WC-Webhook-Signature" in r.json()["error"]["message"]
    r = await site.deliver(order(), drop=("x-wc-webhook-signature",))
    assert r.status_code == 401
    assert site.events() == []
    assert await ws.get_order(site.gw.store, DATASET, "woocommerce", ORDER_ID) is None


async def test_secret_with_html_entities_as_wordpress_signs(make_site: SiteFactory) -> None:
    assert signing_keys("a&amp;b&#039;c") == ["a&amp;b&#039;c", "a&b'c"]
    site = await make_site(secret="s3cr&amp;t&quot;")
    assert (await site.deliver(order(), secret='s3cr&t"')).status_code == 200
    assert len(site.events()) == 1


async def test_replays_and_resends_add_nothing(site: Store) -> None:
    paid = order(meta_data=[])
    assert (await site.deliver(paid, delivery_id="d-1")).status_code == 200
    again = await site.deliver(paid, delivery_id="d-1")
    assert again.json()["status"] == "duplicate"
    resent = await site.deliver(paid, delivery_id="d-2")  # same state, new delivery id
    assert resent.json()["status"] == "duplicate"
    [purchase] = site.events()
    assert purchase["event_id"] == f"woocommerce-order-{ORDER_ID}"


async def test_concurrent_deliveries_store_one_purchase(site: Store) -> None:
    answers = await asyncio.gather(
        *[site.deliver(order(), topic="order.created") for _ in range(5)],
        *[site.deliver(order(date_modified_gmt=f"2027-01-15T07:32:0{i}")) for i in range(5)],
    )
    assert [a.status_code for a in answers] == [200] * 10
    assert len(site.events()) == 1


async def test_refund_by_policy(make_site: SiteFactory) -> None:
    site = await make_site(refunds="send")
    await site.deliver(order())
    refunded = order(date_modified_gmt="2027-01-15T07:50:00")
    refunded["refunds"] = [{"id": 4133, "reason": "Tasse zerbrochen", "total": "-15.99"}]
    for _ in range(2):
        await site.deliver(refunded)
    full = order(status="refunded", date_modified_gmt="2027-01-15T07:55:00")
    full["refunds"] = [*refunded["refunds"], {"id": 4134, "reason": "", "total": "-55.40"}]
    await site.deliver(full)
    rows = site.events()
    assert [(e["event_name"], e["event_id"]) for e in rows] == [
        ("Purchase", BROWSER_EID),
        ("Refund", "woocommerce-refund-4133"),
        ("Refund", "woocommerce-refund-4134"),
    ]
    assert rows[1]["payload"]["custom_data"] == {
        "currency": "EUR",
        "value": 15.99,
        "order_id": ORDER_ID,
    }
    assert rows[1]["event_time"] == 1_799_999_400
    state = await ws.get_order(site.gw.store, DATASET, "woocommerce", ORDER_ID)
    assert state is not None and state.refunded_value == pytest.approx(71.39)


async def test_refunds_ignored_by_default(site: Store) -> None:
    await site.deliver(order())
    refunded = order(date_modified_gmt="2027-01-15T07:50:00")
    refunded["refunds"] = [{"id": 4133, "reason": "", "total": "-15.99"}]
    await site.deliver(refunded)
    assert [e["event_name"] for e in site.events()] == ["Purchase"]
    state = await ws.get_order(site.gw.store, DATASET, "woocommerce", ORDER_ID)
    assert state is not None and state.refunded_value == pytest.approx(15.99)


async def test_bad_requests_are_named(site: Store) -> None:
    r = await site.deliver(order(), drop=("x-wc-webhook-topic",))
    assert (r.status_code, r.json()["error"]["message"]) == (400, "X-WC-Webhook-Topic: missing")
    r = await site.deliver(body=b"<html>")
    assert r.status_code == 400
    r = await site.deliver({"id": 4127}, topic="order.deleted")
    assert r.status_code == 200
    assert r.json()["messages"] == ["topic order.deleted is not used: nothing to do"]
    r = await site.gw.client.post(
        "/webhooks/woocommerce/5550001",
        content=b"webhook_id=12",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 404
    assert "signalyard webhooks add 5550001 woocommerce" in r.json()["error"]["message"]
    assert site.events() == []
