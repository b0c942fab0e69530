"""WooCommerce order webhooks: ``POST /webhooks/woocommerce/{dataset_id}``.

- ``X-WC-Webhook-Signature`` must be the base64 HMAC-SHA256 of the raw body with the webhook's
  secret. WooCommerce signs with the secret after decoding HTML entities
  (``wp_specialchars_decode``), so both the secret as given and its decoded form are tried.
- The ping WooCommerce sends when a webhook is saved (form body ``webhook_id=<id>``, no
  signature) is answered 200 and does nothing.
- Idempotency: ``X-WC-Webhook-Delivery-ID`` is new on every delivery (a hash of the webhook id
  and the time), so it only stops a replay of the very same request. A second key, the topic
  and a SHA-256 of the body, stops a re-send of the same order state. A fingerprint of the body
  rather than the order's modified time: a refund can leave ``date_modified`` unchanged while
  it changes ``refunds``. Handling is idempotent anyway (see :mod:`orders`).
- Topics ``order.created``, ``order.updated`` (also fired by refunds) and ``order.restored``;
  others (``order.deleted`` carries only the id) are acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import parse_qs

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

PLATFORM = "woocommerce"
ORDER_TOPICS = frozenset(("order.created", "order.updated", "order.restored"))
NEVER_PAID = frozenset(("cancelled", "refunded", "failed", "trash", "checkout-draft", "draft"))
"""Statuses in which a ``date_paid_gmt`` does not make the order count as paid."""
SESSION_ENTRY = "_wc_order_attribution_session_entry"
_HTTP_URL = re.compile(r"https?://[^/?#\s]+\S*", re.IGNORECASE)
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#039;": "'", "&#39;": "'"}
_ENTITY = re.compile("|".join(map(re.escape, _ENTITIES)))


def signing_keys(secret: str) -> list[str]:
    """The secret, and the key WooCommerce signs with if they differ (HTML entities of
    quotes and specials decoded, as ``wp_specialchars_decode(secret, ENT_QUOTES)`` does)."""
    decoded = _ENTITY.sub(lambda m: _ENTITIES[m[0]], secret)
    return [secret] if decoded == secret else [secret, decoded]


def is_ping(request: Request, body: bytes) -> bool:
    """WooCommerce's ping on saving a webhook: a form body ``webhook_id=<digits>``."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return False
    try:
        form = parse_qs(body.decode("ascii"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return False
    return list(form) == ["webhook_id"] and form["webhook_id"][0].isdigit()


# Payloads -------------------------------------------------------------------------------------


def _source_url(meta: list[dict[str, Any]], site: str | None, policy: Policy) -> str | None:
    """The landing page WooCommerce's order attribution recorded (8.5+, when the meta is in
    the payload), else the site's home page (option ``site_url``, else
    ``X-WC-Webhook-Source``)."""
    for m in meta:
        entry = text(m.get("value")) if m.get("key") == SESSION_ENTRY else None
        if entry and _HTTP_URL.fullmatch(entry):
            return entry
    if policy.site_url:
        return policy.site_url + "/"
    if site and _HTTP_URL.fullmatch(site.strip()):
        return site.strip().rstrip("/") + "/"
    return None


def _refunds(body: dict[str, Any], currency: str | None, at: float | None) -> list[RefundFacts]:
    """``refunds[]`` of the order: ``{id, reason, total}``, ``total`` a negative string."""
    out = []
    for r in items(body.get("refunds")):
        refund_id, total = text(r.get("id")), decimal(r.get("total"))
        if refund_id is not None and total is not None:
            out.append(RefundFacts(refund_id, abs(float(total)), currency, at))
    return out


def parse_order(
    body: dict[str, Any], *, site: str | None, policy: Policy, now: float
) -> OrderFacts:
    """The order of an ``order.*`` delivery (the REST v3 order). Paid: a status in the
    policy's paid set (default ``processing``, ``completed``: ``wc_get_is_paid_statuses``), or
    a ``date_paid_gmt`` outside :data:`NEVER_PAID`. Time of payment: ``date_paid_gmt``, else
    ``date_modified_gmt``. Times without ``_gmt`` are the site's local time and not used."""
    oid = order_id(body.get("id"))
    status = (text(body.get("status")) or "unknown").lower()
    paid_at = parse_time(body.get("date_paid_gmt"))
    modified = parse_time(body.get("date_modified_gmt"))
    created = parse_time(body.get("date_created_gmt"))
    meta = items(body.get("meta_data"))
    browser = browser_ids(((m.get("key"), m.get("value")) for m in meta), at=created)
    billing, shipping = obj(body.get("billing")), obj(body.get("shipping"))
    has_address = any(billing.get(k) for k in ("city", "postcode", "country"))
    address = billing if has_address else shipping
    customer = body.get("customer_id")
    currency = text(body.get("currency"))
    return OrderFacts(
        platform=PLATFORM,
        order_id=oid,
        status=status,
        financial_status=None,
        paid=status in policy.paid_statuses or (paid_at is not None and status not in NEVER_PAID),
        not_paid_because=f"status {status}",
        paid_at=paid_at or modified,
        updated_at=modified,
        cancelled_at=(modified or now) if status == "cancelled" else None,
        test=False,
        browser=browser,
        action_source="website",
        event_source_url=_source_url(meta, site, policy),
        user_data=person(
            em=[billing.get("email")],
            ph=[billing.get("phone"), shipping.get("phone")],
            client_ip_address=body.get("customer_ip_address"),
            browser=browser,
            fn=address.get("first_name") or billing.get("first_name"),
            ln=address.get("last_name") or billing.get("last_name"),
            ct=address.get("city"),
            st=address.get("state"),
            zp=address.get("postcode"),
            country=address.get("country"),
            external_id=customer if type(customer) is int and customer > 0 else None,
            client_user_agent=body.get("customer_user_agent"),
        ),
        currency=currency,
        value=decimal(body.get("total")),
        contents=contents(body.get("line_items"), policy.content_id, "variation_id"),
        refunds=tuple(_refunds(body, currency, modified)),
    )


# Endpoint -------------------------------------------------------------------------------------


class WooCommerceWebhook:
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
        signature = headers.get("x-wc-webhook-signature")
        if signature is None and is_ping(request, body):
            return {"status": "ok", "events": [], "messages": ["webhook ping received"]}
        keys = [k for s in source.secrets for k in signing_keys(s.reveal())]
        async with self.bodies.turns.decode(len(body)):
            signed = signature_matches(signature, body, keys)
        if not signed:
            raise WebhookError(
                401,
                "X-WC-Webhook-Signature: missing, or not the signature of this body with the"
                " source's secret (the Secret field of the webhook in WooCommerce > Settings >"
                " Advanced > Webhooks)",
            )
        topic = headers.get("x-wc-webhook-topic")
        if not topic:
            raise WebhookError(400, "X-WC-Webhook-Topic: missing")
        keys = [f"content:{topic}:{hashlib.sha256(body).hexdigest()}"]
        delivery_id = headers.get("x-wc-webhook-delivery-id")
        if delivery_id:
            keys.insert(0, f"delivery:{delivery_id}")
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
            site = headers.get("x-wc-webhook-source")
            facts = parse_order(payload, site=site, policy=policy, now=d.now)
            extra["order_id"] = facts.order_id
            await self.flow.handle_order(d, facts)
        else:
            d.messages.append(f"topic {topic} is not used: nothing to do")
        await ws.record_delivery(self.store, source.id, keys, now=d.now)
        return d.body(status="ok", topic=topic, **extra)
