"""Shopify order webhooks: ``POST /webhooks/shopify/{dataset_id}``.

A delivery is checked before anything is read from it: ``X-Shopify-Hmac-Sha256`` must be the
base64 HMAC-SHA256 of the raw body with the source's secret (constant-time compare; during a
rotation the previous secret is accepted too). A delivery id (``X-Shopify-Webhook-Id``) already
handled is answered 200 and adds nothing.

Topics: ``orders/create``, ``orders/paid``, ``orders/updated``, ``orders/cancelled`` (and the
other order topics, read as updates) carry the whole order; ``refunds/create`` one refund.
Any other topic is acknowledged and ignored, so that Shopify does not retry it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from signalyard.clock import Clock
from signalyard.sources import webhook_store as ws
from signalyard.sources.body import BodyReader
from signalyard.sources.order_fields import (
    WebhookError,
    browser_ids,
    contents,
    decimal,
    items,
    obj,
    order_id,
    parse_json,
    parse_time,
    person,
    signature_matches,
    text,
)
from signalyard.sources.orders import (
    Delivery,
    OrderFacts,
    OrderFlow,
    Policy,
    RefundFacts,
    run_webhook,
)
from signalyard.store.base import Dataset, Store

PLATFORM = "shopify"
ORDER_TOPICS = frozenset(
    (
        "orders/create",
        "orders/paid",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    )
)
REFUND_TOPIC = "refunds/create"
_SHOP_DOMAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")


# Payloads -------------------------------------------------------------------------------------


def parse_refund(body: dict[str, Any], currency: str | None) -> RefundFacts | None:
    """A refund (the ``refunds/create`` body, or one of an order's ``refunds``). The money
    returned is the sum of its successful refund transactions: a refund can move none."""
    refund_id = text(body.get("id"))
    if refund_id is None or isinstance(body.get("id"), float):
        return None
    amount = 0.0
    for tx in items(body.get("transactions")):
        value = decimal(tx.get("amount"))
        if tx.get("kind") == "refund" and tx.get("status") == "success" and value is not None:
            amount += float(value)
            currency = text(tx.get("currency")) or currency
    at = parse_time(body.get("processed_at")) or parse_time(body.get("created_at"))
    return RefundFacts(refund_id, round(amount, 4), currency, at)


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else None


def _source_url(body: dict[str, Any], shop_domain: str | None, policy: Policy) -> str | None:
    """The landing page (``landing_site``, a path on the shop or a URL), on the shop's site
    (option ``site_url``, else the shop's myshopify domain, else the order status page's
    host). Never the order status URL itself: it carries the order's access key."""
    landing = text(body.get("landing_site"))
    if landing and landing.lower().startswith(("https://", "http://")):
        return landing
    base = policy.site_url
    if base is None and shop_domain and _SHOP_DOMAIN.fullmatch(shop_domain):
        base = f"https://{shop_domain}"
    base = base or _origin(text(body.get("order_status_url")))
    if base is None:
        return None
    return base + (landing if landing and landing.startswith("/") else "/")


def parse_order(
    body: dict[str, Any],
    *,
    topic: str,
    triggered_at: float | None,
    shop_domain: str | None,
    policy: Policy,
) -> OrderFacts:
    """The order of an ``orders/*`` delivery. Paid: ``orders/paid``, or a ``financial_status``
    in the policy's paid set (default ``paid``, ``partially_refunded``). Time of payment:
    ``X-Shopify-Triggered-At`` of ``orders/paid``; for the other topics, which show an order
    already paid, ``processed_at`` (an update to an order placed over 7 days ago, such as a
    fulfilment after Signalyard was connected, so makes no Purchase: Meta refuses it)."""
    oid = order_id(body.get("id"))
    financial = (text(body.get("financial_status")) or "").lower() or None
    cancelled_at = parse_time(body.get("cancelled_at"))
    created = parse_time(body.get("processed_at")) or parse_time(body.get("created_at"))
    updated = parse_time(body.get("updated_at"))
    paid_at = (triggered_at or updated) if topic == "orders/paid" else (created or updated)
    customer = obj(body.get("customer"))
    shipping = obj(body.get("shipping_address"))
    address = obj(body.get("billing_address")) or shipping or obj(customer.get("default_address"))
    client = obj(body.get("client_details"))
    attributes = ((a.get("name"), a.get("value")) for a in items(body.get("note_attributes")))
    browser = browser_ids(attributes, at=created)
    tokens = {}
    for kind, field in (("cart", "cart_token"), ("checkout", "checkout_token")):
        # The storefront's cart cookie, the checkout's token: attribution's links from the
        # browser that sent them to this order.
        token = text(body.get(field))
        if token and len(token) <= 256:  # the order's own token wins over an attribute
            tokens[kind] = token
    if tokens:
        browser = dataclasses.replace(browser, browser_ids={**browser.browser_ids, **tokens})
    pos = text(body.get("source_name")) == "pos"
    currency = text(body.get("currency"))
    status = "cancelled" if cancelled_at else "closed" if body.get("closed_at") else "open"
    refunds = (parse_refund(r, currency) for r in items(body.get("refunds")))
    return OrderFacts(
        platform=PLATFORM,
        order_id=oid,
        status=status,
        financial_status=financial,
        paid=topic == "orders/paid" or financial in policy.paid_statuses,
        not_paid_because=f"financial_status {financial or 'missing'}",
        paid_at=paid_at,
        updated_at=updated,
        cancelled_at=cancelled_at,
        test=body.get("test") is True,
        browser=browser,
        action_source="physical_store" if pos else "website",
        event_source_url=None if pos else _source_url(body, shop_domain, policy),
        user_data=person(
            em=[body.get("email"), body.get("contact_email"), customer.get("email")],
            ph=[body.get("phone"), customer.get("phone"), address.get("phone")],
            client_ip_address=client.get("browser_ip") or body.get("browser_ip"),
            browser=browser,
            fn=address.get("first_name") or customer.get("first_name"),
            ln=address.get("last_name") or customer.get("last_name"),
            ct=address.get("city"),
            st=address.get("province_code"),
            zp=address.get("zip"),
            country=address.get("country_code"),
            external_id=customer.get("id"),
            client_user_agent=client.get("user_agent"),
        ),
        currency=currency,
        value=decimal(body.get("total_price")),
        contents=contents(body.get("line_items"), policy.content_id, "variant_id"),
        refunds=tuple(r for r in refunds if r is not None),
    )


# Endpoint -------------------------------------------------------------------------------------


class ShopifyWebhook:
    def __init__(
        self,
        store: Store,
        flow: OrderFlow,
        clock: Clock,
        *,
        max_body_bytes: int,
        bodies: BodyReader,
    ):
        self.store = store
        self.flow = flow
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.bodies = bodies

    async def handle(self, request: Request) -> Response:
        return await run_webhook(
            request, self.store, PLATFORM, self.bodies, self.max_body_bytes, self._process
        )

    async def _process(
        self,
        request: Request,
        body: bytes,
        source: ws.WebhookSource,
        dataset: Dataset,
        policy: Policy,
    ) -> dict[str, Any]:
        headers = request.headers
        secrets = [s.reveal() for s in source.secrets]
        async with self.bodies.turns.decode(len(body)):
            signed = signature_matches(headers.get("x-shopify-hmac-sha256"), body, secrets)
        if not signed:
            raise WebhookError(
                401,
                "X-Shopify-Hmac-Sha256: missing, or not the signature of this body with the"
                " source's secret (the app's client secret, or the key shown under"
                " Settings > Notifications > Webhooks for webhooks made in the admin)",
            )
        topic = headers.get("x-shopify-topic")
        if not topic:
            raise WebhookError(400, "X-Shopify-Topic: missing")
        webhook_id = headers.get("x-shopify-webhook-id")
        if not webhook_id:
            raise WebhookError(400, "X-Shopify-Webhook-Id: missing")
        keys = [f"webhook:{webhook_id}"]
        if await ws.delivery_seen(self.store, source.id, keys):
            return {
                "status": "duplicate",
                "topic": topic,
                "events": [],
                "messages": ["this delivery was handled already: nothing added"],
            }
        async with self.bodies.turns.decode(len(body)):
            payload = parse_json(body)
        d = Delivery(source, dataset, policy, self.clock.now())
        extra: dict[str, Any] = {}
        if topic in ORDER_TOPICS:
            facts = parse_order(
                payload,
                topic=topic,
                triggered_at=parse_time(headers.get("x-shopify-triggered-at")),
                shop_domain=headers.get("x-shopify-shop-domain"),
                policy=policy,
            )
            extra["order_id"] = facts.order_id
            await self.flow.handle_order(d, facts)
        elif topic == REFUND_TOPIC:
            extra["order_id"] = await self._refund(d, payload)
        else:
            d.messages.append(f"topic {topic} is not used: nothing to do")
        await ws.record_delivery(self.store, source.id, keys, now=d.now)
        return d.body(status="ok", topic=topic, **extra)

    async def _refund(self, d: Delivery, payload: dict[str, Any]) -> str:
        """``refunds/create`` carries no customer data, so no matchable event can be made
        from it: it counts the refund on the order. With ``refunds=send`` and the Purchase
        sent, the Refund event is left to the order's ``orders/updated`` delivery (Shopify
        sends one when a refund changes the order), which carries the buyer's data."""
        oid = order_id(payload.get("order_id"), "order_id")
        refund = parse_refund(payload, None)
        if refund is None:
            raise WebhookError(400, "id: the refund id is missing")
        if refund.amount <= 0:
            d.messages.append("the refund returned no money: nothing to record")
        elif await ws.refund_seen(self.store, d.source.id, refund.refund_id):
            d.messages.append("refund already recorded")
        else:
            state = await ws.get_order(self.store, d.dataset.id, PLATFORM, oid)
            if d.policy.send_refunds and state and state.purchase_sent_at is not None:
                d.messages.append(
                    "the Refund event is sent with the order's next orders/updated delivery,"
                    " which carries the buyer's matching data"
                )
            else:
                await ws.record_refund(
                    self.store,
                    d.source.id,
                    d.dataset.id,
                    PLATFORM,
                    oid,
                    refund.refund_id,
                    refund.amount,
                    now=d.now,
                )
                d.messages.append("refund recorded on the order")
        return oid
