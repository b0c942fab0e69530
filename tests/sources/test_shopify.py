"""Shopify order webhooks through the real app (its lifespan, a SQLite file), with Shopify's
documented bodies (tests/sources/fixtures): signatures, replays, Purchase once and only when
paid, refunds and cancellations by policy, no plaintext personal data stored. The store
functions behind them run on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner

from signalyard.cli import main
from signalyard.clock import FrozenClock
from signalyard.errors import Conflict
from signalyard.secret import Secret
from signalyard.sources import webhook_store as ws
from signalyard.sources.ingest import Ingestor
from signalyard.sources.orders import Delivery, OrderFlow, Policy
from signalyard.sources.shopify import parse_order
from signalyard.store.base import Store
from signalyard.store.dual import fetch
from signalyard.store.inspect import event_trail
from signalyard.store.postgres import PostgresStore
from signalyard.store.sqlite import SQLiteStore
from tests.sources.conftest import DATASET, Gateway, GatewayFactory

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "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"
OLD_SECRET = "shpss_previous_0000000000000000000000"
ORDER_ID = "5912345678901"
BROWSER_EID = "3f2c8a9e-6b1d-4f7e-9a3c-2d5e8f1a7b64"
FBP = "fb.1.1799990000000.1122334455"
FBC = "fb.1.1799995000000.IwAR2xYzCartClick"
PAID_AT = "2027-01-15T07:12:30.250Z"
PAID_TS = 1_799_997_150  # PAID_AT in Unix seconds
PATH = f"/webhooks/shopify/{DATASET}"
# Personal data in the fixtures: none of it may reach the database in plaintext.
PLAINTEXT = (
    "Ada.Lovelace@Example.org",
    "ada.lovelace@example.org",
    "Lovelace",
    "lovelace",
    "San Francisco",
    "sanfrancisco",
    "555-0134",
    "4155550134",
    "1 Market St",
    "7001234567890",
)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((FIXTURES / name).read_bytes())
    return data


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class Shop:
    """Shopify, delivering webhooks to the gateway under test."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    async def deliver(
        self,
        topic: str,
        payload: dict[str, Any] | None = None,
        *,
        body: bytes | None = None,
        webhook_id: str | None = None,
        secret: str = SECRET,
        triggered_at: str = PAID_AT,
        drop: tuple[str, ...] = (),
        path: str = PATH,
    ) -> httpx.Response:
        if body is None:
            body = orjson.dumps(payload)
        headers = {
            "content-type": "application/json",
            "x-shopify-topic": topic,
            "x-shopify-hmac-sha256": sign(body, secret),
            "x-shopify-shop-domain": "analytical-goods.myshopify.com",
            "x-shopify-api-version": "2026-01",
            "x-shopify-webhook-id": webhook_id or str(uuid.uuid4()),
            "x-shopify-event-id": str(uuid.uuid4()),
            "x-shopify-triggered-at": triggered_at,
        }
        for name in drop:
            del headers[name]
        return await self.gw.client.post(path, content=body, headers=headers)

    def purchases(self) -> list[dict[str, Any]]:
        return [e for e in self.gw.stored() if e["event_name"] == "Purchase"]

    async def order(self) -> ws.OrderState | None:
        return await ws.get_order(self.gw.store, DATASET, "shopify", ORDER_ID)


ShopFactory = Callable[..., Awaitable[Shop]]


@pytest.fixture
async def make_shop(make_gateway: GatewayFactory) -> ShopFactory:
    async def start(**options: str) -> Shop:
        gateway = await make_gateway()
        await ws.add_source(
            gateway.store, DATASET, "shopify", [Secret(SECRET)], options, now=gateway.clock.now()
        )
        return Shop(gateway)

    return start


@pytest.fixture
async def shop(make_shop: ShopFactory) -> Shop:
    return await make_shop()


# The Purchase ---------------------------------------------------------------------------------


async def test_paid_order_stores_one_purchase_with_the_browser_ids(shop: Shop) -> None:
    r = await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "ok"
    assert answer["order_id"] == ORDER_ID
    assert answer["events"] == [{"event_name": "Purchase", "event_id": BROWSER_EID, "stored": True}]

    [row] = shop.gw.stored()
    assert row["source"] == "shopify"
    assert row["event_name"] == "Purchase"
    assert row["event_id"] == BROWSER_EID
    assert row["event_time"] == PAID_TS
    event = row["payload"]
    assert event["action_source"] == "website"
    assert event["event_source_url"] == (
        "https://analytical-goods.myshopify.com/products/analytical-engine-mug"
        "?utm_source=facebook&utm_medium=paid&fbclid=IwAR2xYzLandingClick"
    )
    user = event["user_data"]
    assert user["fbp"] == FBP
    assert user["fbc"] == FBC  # the cookie wins over the landing page's fbclid
    assert user["client_ip_address"] == "203.0.113.42"
    assert user["client_user_agent"].startswith("Mozilla/5.0 (Macintosh")
    assert user["em"] == [hashlib.sha256(b"ada.lovelace@example.org").hexdigest()]
    assert user["ph"] == [hashlib.sha256(b"14155550134").hexdigest()]
    assert user["external_id"] == [hashlib.sha256(b"7001234567890").hexdigest()]
    assert user["st"] == [hashlib.sha256(b"ca").hexdigest()]
    assert user["country"] == [hashlib.sha256(b"us").hexdigest()]
    assert {"fn", "ln", "ct", "zp"} <= user.keys()
    assert event["custom_data"] == {
        "currency": "USD",
        "value": 129.5,
        "order_id": ORDER_ID,
        "contents": [
            {"id": "45012345678901", "quantity": 2, "item_price": 34.0},
            {"id": "45012345678902", "quantity": 1, "item_price": 50.0},
        ],
        "content_type": "product",
        "num_items": 3,
    }
    order = await shop.order()
    assert order is not None
    assert order.purchase_event_id == BROWSER_EID
    assert order.purchase_sent_at == shop.gw.clock.now()
    assert order.financial_status == "paid"


async def test_pending_order_waits_for_payment(shop: Shop) -> None:
    r = await shop.deliver("orders/create", fixture("shopify_orders_create_pending.json"))
    assert r.status_code == 200, r.text
    assert r.json()["events"] == []
    assert any("financial_status pending" in m for m in r.json()["messages"])
    assert shop.gw.stored() == []
    order = await shop.order()
    assert order is not None
    assert (order.financial_status, order.purchase_sent_at) == ("pending", None)

    authorized = fixture("shopify_orders_create_pending.json")
    authorized["financial_status"] = "authorized"
    authorized["updated_at"] = "2027-01-15T02:11:00-05:00"
    assert (await shop.deliver("orders/updated", authorized)).status_code == 200
    assert shop.gw.stored() == []

    r = await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"))
    assert r.status_code == 200, r.text
    [purchase] = shop.purchases()
    assert purchase["event_id"] == BROWSER_EID
    assert purchase["event_time"] == PAID_TS


async def test_create_paid_and_updates_of_a_paid_order_make_one_purchase(shop: Shop) -> None:
    created_paid = fixture("shopify_orders_paid.json")
    created_paid["updated_at"] = created_paid["created_at"]
    assert (await shop.deliver("orders/create", created_paid)).status_code == 200
    [purchase] = shop.purchases()
    assert purchase["event_time"] == 1_799_997_000  # processed_at: the order was created paid

    r = await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"))
    assert r.json()["events"] == []
    assert "Purchase already sent for this order" in r.json()["messages"]
    fulfilled = fixture("shopify_orders_paid.json")
    fulfilled["fulfillment_status"] = "fulfilled"
    fulfilled["updated_at"] = "2027-01-15T02:50:00-05:00"
    assert (await shop.deliver("orders/updated", fulfilled)).status_code == 200
    # Days later, past the store's 48-hour dedup window: the order's state still says sent.
    shop.gw.clock.advance(3 * 86400)
    fulfilled["updated_at"] = "2027-01-18T02:50:00-05:00"
    assert (await shop.deliver("orders/updated", fulfilled)).status_code == 200
    assert len(shop.purchases()) == 1
    assert len(shop.gw.stored()) == 1


async def test_update_of_an_order_placed_long_ago_makes_no_purchase(shop: Shop) -> None:
    """Connected today, Signalyard sees an update to an order paid ten days ago: its Purchase
    happened then (event_time = processed_at), too old for Meta, so none is sent now."""
    old = fixture("shopify_orders_paid.json")
    old["processed_at"] = old["created_at"] = "2027-01-05T02:10:00-05:00"
    old["fulfillment_status"] = "fulfilled"
    r = await shop.deliver("orders/updated", old)
    assert r.status_code == 200
    assert shop.gw.stored() == []
    assert any("7 days" in m for m in r.json()["messages"])


async def test_concurrent_deliveries_of_one_paid_order_store_one_purchase(shop: Shop) -> None:
    paid = fixture("shopify_orders_paid.json")
    same_id = str(uuid.uuid4())
    answers = await asyncio.gather(
        *[shop.deliver("orders/paid", paid, webhook_id=same_id) for _ in range(4)],
        *[shop.deliver("orders/paid", paid) for _ in range(4)],
        *[shop.deliver("orders/updated", paid) for _ in range(4)],
        *[shop.deliver("orders/create", paid) for _ in range(4)],
    )
    assert [a.status_code for a in answers] == [200] * 16
    assert len(shop.purchases()) == 1
    assert sum(e["stored"] for a in answers for e in a.json()["events"]) == 1


async def test_without_browser_attributes_the_event_id_comes_from_the_order(shop: Shop) -> None:
    paid = fixture("shopify_orders_paid.json")
    paid["note_attributes"] = []
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    [purchase] = shop.purchases()
    assert purchase["event_id"] == f"shopify-order-{ORDER_ID}"
    user = purchase["payload"]["user_data"]
    assert "fbp" not in user
    # fbc made from the fbclid of the landing page (enrich), the click seen by the store
    assert user["fbc"] == f"fb.1.{PAID_TS * 1000}.IwAR2xYzLandingClick"


async def test_fbc_is_made_from_an_fbclid_attribute(shop: Shop) -> None:
    paid = fixture("shopify_orders_paid.json")
    paid["note_attributes"] = [{"name": "_fbclid", "value": "IwAR9Attr"}]
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    [purchase] = shop.purchases()
    assert purchase["payload"]["user_data"]["fbc"] == "fb.1.1799997000000.IwAR9Attr"


async def test_pos_order_is_a_physical_store_purchase(shop: Shop) -> None:
    paid = fixture("shopify_orders_paid.json")
    paid["source_name"] = "pos"
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    [purchase] = shop.purchases()
    assert purchase["payload"]["action_source"] == "physical_store"
    assert "event_source_url" not in purchase["payload"]


async def test_test_orders_are_not_sent_unless_asked(make_shop: ShopFactory) -> None:
    shop = await make_shop()
    paid = fixture("shopify_orders_paid.json")
    paid["test"] = True
    r = await shop.deliver("orders/paid", paid)
    assert r.status_code == 200
    assert shop.gw.stored() == []
    assert any("test order" in m for m in r.json()["messages"])


async def test_test_orders_with_test_event_code(make_shop: ShopFactory) -> None:
    shop = await make_shop(test_orders="send", test_event_code="TEST4242")
    paid = fixture("shopify_orders_paid.json")
    paid["test"] = True
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    [purchase] = shop.purchases()
    assert purchase["test_event_code"] == "TEST4242"


async def test_an_order_meta_refuses_is_acknowledged_not_stored(shop: Shop) -> None:
    old = fixture("shopify_orders_paid.json")
    r = await shop.deliver("orders/paid", old, triggered_at="2027-01-01T00:00:00Z")
    assert r.status_code == 200  # an error would make Shopify retry, then drop the webhook
    assert shop.gw.stored() == []
    assert any(m.startswith("Purchase not sent: event_time") for m in r.json()["messages"])
    order = await shop.order()
    assert order is not None and order.purchase_sent_at is None


async def test_no_plaintext_personal_data_is_stored(shop: Shop) -> None:
    await shop.deliver("orders/create", fixture("shopify_orders_create_pending.json"))
    await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"))
    assert len(shop.purchases()) == 1
    raw = shop.gw.raw_database_bytes()
    for value in PLAINTEXT:
        assert value.encode() not in raw, value


# Signatures, replays, bad requests ------------------------------------------------------------


async def test_invalid_signature_is_401_and_stores_nothing(shop: Shop) -> None:
    paid = fixture("shopify_orders_paid.json")
    r = await shop.deliver("orders/paid", paid, secret="not-the-secret")
    assert r.status_code == 401
    assert "X-Shopify-Hmac-Sha256" in r.json()["error"]["message"]
    r = await shop.deliver("orders/paid", paid, drop=("x-shopify-hmac-sha256",))
    assert r.status_code == 401
    body = orjson.dumps(paid)
    tampered = body.replace(b'"129.50"', b'"1.00"')
    headers = {
        "x-shopify-topic": "orders/paid",
        "x-shopify-hmac-sha256": sign(body),
        "x-shopify-webhook-id": "w-1",
    }
    r = await shop.gw.client.post(PATH, content=tampered, headers=headers)
    assert r.status_code == 401
    assert shop.gw.stored() == []
    assert await shop.order() is None
    source = await ws.get_source(shop.gw.store, DATASET, "shopify")
    assert source is not None
    assert not await ws.delivery_seen(shop.gw.store, source.id, ["webhook:w-1"])


async def test_previous_secret_is_accepted_during_a_rotation(shop: Shop) -> None:
    await ws.add_source(
        shop.gw.store,
        DATASET,
        "shopify",
        [Secret("shpss_new"), Secret(SECRET)],
        {},
        now=0,
        replace=True,
    )
    assert (await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"))).is_success
    assert len(shop.purchases()) == 1


async def test_replayed_delivery_adds_nothing(shop: Shop) -> None:
    paid = fixture("shopify_orders_paid.json")
    paid["note_attributes"] = []
    first = await shop.deliver("orders/paid", paid, webhook_id="b1f6c3d2-delivery")
    assert first.status_code == 200
    # the same delivery, replayed; then a refund replayed under an id already handled
    again = await shop.deliver("orders/paid", paid, webhook_id="b1f6c3d2-delivery")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["events"] == []
    r = await shop.deliver(
        "refunds/create", fixture("shopify_refunds_create.json"), webhook_id="b1f6c3d2-delivery"
    )
    assert r.json()["status"] == "duplicate"
    assert len(shop.gw.stored()) == 1
    order = await shop.order()
    assert order is not None and order.refunded_value == 0


@pytest.mark.parametrize(
    ("drop", "field"),
    [
        (("x-shopify-topic",), "X-Shopify-Topic"),
        (("x-shopify-webhook-id",), "X-Shopify-Webhook-Id"),
    ],
)
async def test_missing_headers_are_named(shop: Shop, drop: tuple[str, ...], field: str) -> None:
    r = await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"), drop=drop)
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith(f"{field}: missing")
    assert shop.gw.stored() == []


async def test_malformed_json_is_400(shop: Shop) -> None:
    r = await shop.deliver("orders/paid", body=b'{"id": 5912345678901,')
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("body: not valid JSON")
    r = await shop.deliver("orders/paid", body=b"[1, 2]")
    assert r.status_code == 400
    r = await shop.deliver("orders/paid", {"id": "not-a-number"})
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("id:")


async def test_unknown_dataset_and_missing_source_are_404(make_gateway: GatewayFactory) -> None:
    shop = Shop(await make_gateway())
    r = await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"))
    assert r.status_code == 404
    assert "signalyard webhooks add 1234567890 shopify" in r.json()["error"]["message"]
    r = await shop.deliver(
        "orders/paid", fixture("shopify_orders_paid.json"), path="/webhooks/shopify/999"
    )
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "dataset 999 does not exist"


async def test_other_topics_are_acknowledged_and_ignored(shop: Shop) -> None:
    r = await shop.deliver("products/update", {"id": 1, "title": "Mug"})
    assert r.status_code == 200
    assert r.json()["messages"] == ["topic products/update is not used: nothing to do"]
    assert shop.gw.stored() == []


# Refunds and cancellations ---------------------------------------------------------------------


def refunded_order() -> dict[str, Any]:
    order = fixture("shopify_orders_paid.json")
    order["financial_status"] = "partially_refunded"
    order["updated_at"] = "2027-01-15T02:40:05-05:00"
    order["refunds"] = [fixture("shopify_refunds_create.json")]
    return order


async def test_refunds_are_recorded_not_sent_by_default(shop: Shop) -> None:
    await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"))
    r = await shop.deliver("refunds/create", fixture("shopify_refunds_create.json"))
    assert r.status_code == 200, r.text
    assert r.json()["messages"] == ["refund recorded on the order"]
    await shop.deliver("orders/updated", refunded_order())
    assert [e["event_name"] for e in shop.gw.stored()] == ["Purchase"]
    order = await shop.order()
    assert order is not None
    assert order.refunded_value == pytest.approx(54.03)
    assert order.financial_status == "partially_refunded"


async def test_refunds_send_a_refund_event_once(make_shop: ShopFactory) -> None:
    shop = await make_shop(refunds="send")
    await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"))
    r = await shop.deliver("refunds/create", fixture("shopify_refunds_create.json"))
    assert "orders/updated" in r.json()["messages"][0]  # it carries the buyer's data
    for _ in range(2):
        await shop.deliver("orders/updated", refunded_order())
    r = await shop.deliver("refunds/create", fixture("shopify_refunds_create.json"))
    assert r.json()["messages"] == ["refund already recorded"]
    rows = shop.gw.stored()
    assert [e["event_name"] for e in rows] == ["Purchase", "Refund"]
    refund = rows[1]
    assert refund["event_id"] == "shopify-refund-9312345678901"
    assert refund["event_time"] == 1_799_998_800
    assert refund["payload"]["custom_data"] == {
        "currency": "USD",
        "value": 54.03,
        "order_id": ORDER_ID,
    }
    assert refund["payload"]["user_data"]["fbp"] == FBP
    order = await shop.order()
    assert order is not None and order.refunded_value == pytest.approx(54.03)


async def test_refund_of_an_order_never_reported_is_not_sent(make_shop: ShopFactory) -> None:
    shop = await make_shop(refunds="send")
    order = refunded_order()
    order["financial_status"] = "refunded"
    assert (await shop.deliver("orders/updated", order)).status_code == 200
    assert shop.gw.stored() == []
    state = await shop.order()
    assert state is not None and state.refunded_value == pytest.approx(54.03)


async def test_cancelled_order_never_gets_a_purchase(shop: Shop) -> None:
    cancelled = fixture("shopify_orders_create_pending.json")
    cancelled["cancelled_at"] = "2027-01-15T02:30:00-05:00"
    cancelled["cancel_reason"] = "customer"
    cancelled["financial_status"] = "voided"
    cancelled["updated_at"] = "2027-01-15T02:30:00-05:00"
    assert (await shop.deliver("orders/cancelled", cancelled)).status_code == 200
    # a late, stale delivery showing the order paid
    r = await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"))
    assert "order cancelled: no Purchase" in r.json()["messages"]
    assert shop.gw.stored() == []
    order = await shop.order()
    assert order is not None
    assert order.status == "cancelled"  # the older state did not overwrite the newer one
    assert order.cancelled_at == 1_799_998_200


async def test_cancellation_after_purchase_is_sent_when_asked(make_shop: ShopFactory) -> None:
    shop = await make_shop(cancellations="send")
    await shop.deliver("orders/paid", fixture("shopify_orders_paid.json"))
    cancelled = fixture("shopify_orders_paid.json")
    cancelled["cancelled_at"] = "2027-01-15T02:45:00-05:00"
    cancelled["updated_at"] = "2027-01-15T02:45:00-05:00"
    for _ in range(2):
        assert (await shop.deliver("orders/cancelled", cancelled)).status_code == 200
    rows = shop.gw.stored()
    assert [e["event_name"] for e in rows] == ["Purchase", "OrderCanceled"]
    assert rows[1]["event_id"] == f"shopify-cancel-{ORDER_ID}"
    assert rows[1]["payload"]["custom_data"] == {"currency": "USD", "order_id": ORDER_ID}


# The CLI ------------------------------------------------------------------------------------


def test_cli_adds_and_lists_sources_without_showing_secrets(sqlite_url: str) -> None:
    runner = CliRunner(env={"SIGNALYARD_DATABASE_URL": sqlite_url})
    r = runner.invoke(main, ["datasets", "add", DATASET])
    assert r.exit_code == 0, r.output
    outputs = []
    r = runner.invoke(
        main,
        ["webhooks", "add", DATASET, "shopify", "--secret-stdin", "--option", "refunds=send"],
        input=f"{SECRET}\n",
    )
    outputs.append(r.output)
    assert r.exit_code == 0, r.output
    assert f"/webhooks/shopify/{DATASET}" in r.output
    r = runner.invoke(main, ["webhooks", "add", DATASET, "shopify", "--secret-stdin"], input="x\n")
    outputs.append(r.output)
    assert r.exit_code == 1 and "--replace" in r.output
    r = runner.invoke(
        main,
        ["webhooks", "add", DATASET, "woocommerce", "--secret-stdin", "--option", "refunds=yes"],
        input="s\n",
    )
    outputs.append(r.output)
    assert r.exit_code == 2 and "refunds must be one of ignore, send" in r.output
    r = runner.invoke(main, ["webhooks", "add", "999", "shopify", "--secret-stdin"], input="s\n")
    outputs.append(r.output)
    assert r.exit_code == 1 and "no dataset 999" in r.output
    r = runner.invoke(main, ["webhooks", "add", DATASET, "woocommerce"])
    outputs.append(r.output)
    assert r.exit_code == 2 and "--secret-stdin" in r.output
    r = runner.invoke(main, ["webhooks", "list"])
    outputs.append(r.output)
    assert r.exit_code == 0
    assert f"{DATASET}\tshopify\t/webhooks/shopify/{DATASET}\t1 secret\trefunds=send" in r.output
    r = runner.invoke(
        main,
        ["webhooks", "add", DATASET, "shopify", "--secret-stdin", "--replace"],
        input=f"shpss_rotated\n{SECRET}\n",
    )
    outputs.append(r.output)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["webhooks", "list", "--dataset", DATASET])
    outputs.append(r.output)
    assert "2 secrets\t-" in r.output
    r = runner.invoke(main, ["webhooks", "remove", DATASET, "shopify"])
    outputs.append(r.output)
    assert r.exit_code == 0
    r = runner.invoke(main, ["webhooks", "remove", DATASET, "shopify"])
    outputs.append(r.output)
    assert r.exit_code == 1
    assert all(SECRET not in o and "shpss_rotated" not in o for o in outputs)


# The store functions, on SQLite and PostgreSQL ------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_store(request: pytest.FixtureRequest, clock: FrozenClock) -> AsyncIterator[Store]:
    store: Store
    if request.param == "sqlite":
        store = SQLiteStore(request.getfixturevalue("sqlite_url"))
    else:
        store = PostgresStore(request.getfixturevalue("pg_url"), max_connections=12)
    await store.open()
    await store.add_dataset(DATASET, name="Shop", default_country="US", now=clock.now())
    yield store
    await store.close()


async def shopify_source(store: Store) -> ws.WebhookSource:
    return await ws.add_source(store, DATASET, "shopify", [Secret(SECRET)], {}, now=1.0)


async def test_store_sources(any_store: Store) -> None:
    source = await shopify_source(any_store)
    assert source.secrets == (Secret(SECRET),)
    assert SECRET not in repr(source)
    with pytest.raises(Conflict):
        await shopify_source(any_store)
    await ws.add_source(
        any_store, DATASET, "woocommerce", [Secret("a"), Secret("b")], {"refunds": "send"}, now=2
    )
    assert await ws.get_source(any_store, DATASET, "shopify") == source
    listed = await ws.list_sources(any_store)
    assert [(s.kind, s.options, len(s.secrets)) for s in listed] == [
        ("shopify", {}, 1),
        ("woocommerce", {"refunds": "send"}, 2),
    ]
    replaced = await ws.add_source(
        any_store, DATASET, "shopify", [Secret("new")], {"refunds": "send"}, now=3, replace=True
    )
    assert (replaced.id, replaced.secrets, replaced.created_at) == (source.id, (Secret("new"),), 1)
    assert await ws.list_sources(any_store, "other") == []
    assert await ws.remove_source(any_store, DATASET, "shopify")
    assert await ws.get_source(any_store, DATASET, "shopify") is None
    assert not await ws.remove_source(any_store, DATASET, "shopify")


async def test_store_delivery_ids_are_recorded_once_even_concurrently(any_store: Store) -> None:
    source = await shopify_source(any_store)
    assert not await ws.delivery_seen(any_store, source.id, ["webhook:a"])
    assert await ws.record_delivery(any_store, source.id, ["webhook:a"], now=10)
    assert await ws.delivery_seen(any_store, source.id, ["webhook:z", "webhook:a"])
    assert not await ws.record_delivery(any_store, source.id, ["webhook:a", "webhook:b"], now=11)
    assert await ws.delivery_seen(any_store, source.id, ["webhook:b"])
    results = await asyncio.gather(
        *[ws.record_delivery(any_store, source.id, ["webhook:c"], now=12) for _ in range(10)]
    )
    assert sorted(results) == [False] * 9 + [True]
    await ws.record_refund(any_store, source.id, DATASET, "shopify", "1", "r1", 5.0, now=10)
    assert await ws.prune_deliveries(any_store, before=11.5) == 2  # a and b, not refund:r1
    assert await ws.refund_seen(any_store, source.id, "r1")


def update(event_id: str, updated_at: float, status: str = "open") -> ws.OrderUpdate:
    return ws.OrderUpdate(DATASET, "shopify", "42", status, "paid", event_id, updated_at)


async def test_store_order_state(any_store: Store) -> None:
    assert await ws.get_order(any_store, DATASET, "shopify", "42") is None
    first = await ws.upsert_order(any_store, update("browser-eid", 100))
    assert (first.purchase_event_id, first.status, first.updated_at) == ("browser-eid", "open", 100)
    later = await ws.upsert_order(any_store, update("shopify-order-42", 200, "closed"))
    assert (later.purchase_event_id, later.status, later.updated_at) == (
        "browser-eid",
        "closed",
        200,
    )
    stale = await ws.upsert_order(any_store, update("x", 150, "open"))
    assert (stale.status, stale.updated_at) == ("closed", 200)
    assert await ws.mark_cancelled(any_store, DATASET, "shopify", "42", at=300)
    assert not await ws.mark_cancelled(any_store, DATASET, "shopify", "42", at=400)
    assert await ws.get_order(any_store, DATASET, "shopify", "42") == ws.OrderState(
        DATASET, "shopify", "42", "closed", "paid", "browser-eid", None, 0.0, 300, 200
    )


async def test_store_purchase_is_marked_once_under_concurrency(any_store: Store) -> None:
    await ws.upsert_order(any_store, update("eid", 1))
    results = await asyncio.gather(
        *[
            ws.mark_purchase_sent(any_store, DATASET, "shopify", "42", now=float(i))
            for i in range(10)
        ]
    )
    assert results.count(True) == 1
    state = await ws.get_order(any_store, DATASET, "shopify", "42")
    assert state is not None and state.purchase_sent_at == float(results.index(True))


async def test_store_refunds_count_once_under_concurrency(any_store: Store) -> None:
    source = await shopify_source(any_store)
    results = await asyncio.gather(
        *[
            ws.record_refund(any_store, source.id, DATASET, "shopify", "42", "r9", 12.5, now=1)
            for _ in range(10)
        ]
    )
    assert results.count(True) == 1
    state = await ws.get_order(any_store, DATASET, "shopify", "42")
    assert state is not None
    assert (state.status, state.refunded_value, state.purchase_event_id) == ("unknown", 12.5, None)
    # the order's first delivery fills in the placeholder the refund made
    filled = await ws.upsert_order(any_store, update("eid", 5))
    assert (filled.status, filled.purchase_event_id, filled.refunded_value) == ("open", "eid", 12.5)


async def test_flow_concurrent_deliveries_store_one_purchase(
    any_store: Store, clock: FrozenClock
) -> None:
    """Many deliveries of one paid order handled at once, by the flow on this backend."""
    source = await shopify_source(any_store)
    dataset = await any_store.get_dataset(DATASET)
    assert dataset is not None
    ingestor = Ingestor(any_store, clock, default_country=None, max_future_seconds=600)
    flow = OrderFlow(any_store, ingestor)
    policy = Policy.parse("shopify", {})
    paid = fixture("shopify_orders_paid.json")

    async def deliver(topic: str) -> Delivery:
        facts = parse_order(
            copy.deepcopy(paid),
            topic=topic,
            triggered_at=PAID_TS,
            shop_domain="analytical-goods.myshopify.com",
            policy=policy,
        )
        d = Delivery(source, dataset, policy, clock.now())
        await flow.handle_order(d, facts)
        return d

    done = await asyncio.gather(*[deliver(t) for t in ("orders/paid", "orders/updated") * 6])
    assert sum(e["stored"] for d in done for e in d.events) == 1
    assert await any_store.event_count(DATASET) == 1
    state = await ws.get_order(any_store, DATASET, "shopify", ORDER_ID)
    assert state is not None and state.purchase_sent_at is not None


# Consent and click ids from the cart ----------------------------------------------------------


async def test_consent_and_click_ids_travel_from_the_cart(shop: Shop) -> None:
    await shop.gw.store.add_destination(
        DATASET,
        name="meta",
        kind="meta",
        options={"pixel_id": DATASET},
        secrets={"access_token": Secret("t")},
        now=shop.gw.clock.now(),
    )
    paid = fixture("shopify_orders_paid.json")
    paid["note_attributes"] = [
        *paid["note_attributes"],
        {"name": "_sy_consent", "value": "pending"},
        {"name": "_ScCid", "value": "snap-1"},
    ]
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    [purchase] = shop.purchases()
    assert purchase["payload"]["_consent"]["state"] == "pending"
    assert purchase["payload"]["_consent"]["source"] == "shopify"
    [trail] = await event_trail(shop.gw.store, purchase["event_id"])
    assert (trail.status, trail.consent_action) == ("held", "hold")
    rows = await fetch(shop.gw.store, "SELECT kind, click_id FROM click_ledger ORDER BY kind")
    assert ("ScCid", "snap-1") in rows
    assert ("gclid", "Cj0KCQiAtestGclid") in rows  # the fixture's own _gclid attribute
    # ... and kept with the event, for the destinations whose platform takes a click id
    assert purchase["payload"]["_click_ids"] == {"ScCid": "snap-1", "gclid": "Cj0KCQiAtestGclid"}


async def test_platform_cookies_travel_from_the_cart_as_browser_ids(shop: Shop) -> None:
    """The tags' cookies the storefront copied to the cart (_ttp, _ga, _scid, _rdt_uuid) are
    kept with the order's event for the platforms that take them (TikTok, GA4, Snapchat,
    Reddit), and the order's cart token (the storefront's cart cookie, attribution's link from
    the browser to the order); other attributes are not."""
    paid = fixture("shopify_orders_paid.json")
    paid["note_attributes"] = [
        *paid["note_attributes"],
        {"name": "_ttp", "value": "ttp-cookie"},
        {"name": "_ga", "value": "GA1.1.1234567890.1700000000"},
        {"name": "_scid", "value": "scid-cookie"},
        {"name": "_rdt_uuid", "value": "1700000000000.rdt"},
        {"name": "_unrelated", "value": "x"},
    ]
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    [purchase] = shop.purchases()
    assert purchase["payload"]["_browser_ids"] == {
        "ttp": "ttp-cookie",
        "ga": "GA1.1.1234567890.1700000000",
        "scid": "scid-cookie",
        "rdt_uuid": "1700000000000.rdt",
        "cart": paid["cart_token"],
        "checkout": paid["checkout_token"],
    }


async def test_the_order_s_own_tokens_win_over_attributes_of_those_names(shop: Shop) -> None:
    """A cart attribute named ``checkout`` (say a checkout mode, the same on many orders) is
    not the checkout's token, nor does a ``cart`` attribute replace the order's own
    cart_token: tokens shared by many orders would join their buyers."""
    paid = fixture("shopify_orders_paid.json")
    paid["note_attributes"] = [
        *paid["note_attributes"],
        {"name": "checkout", "value": "express"},
        {"name": "_cart", "value": "same-for-everyone"},
        {"name": "referral_ad_id", "value": "6045"},
    ]
    assert (await shop.deliver("orders/paid", paid)).status_code == 200
    [purchase] = shop.purchases()
    ids = purchase["payload"]["_browser_ids"]
    assert ids["checkout"] == paid["checkout_token"]
    assert ids["cart"] == paid["cart_token"]
    assert "referral_ad_id" not in purchase["payload"].get("_click_ids", {})
