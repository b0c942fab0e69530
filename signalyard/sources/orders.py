"""What Shopify and WooCommerce order webhooks share: the per-source policy, the
platform-neutral view of an order (:class:`OrderFacts`; the fields it is read from are parsed by
:mod:`signalyard.sources.order_fields`), the events built from it, and :class:`OrderFlow`,
which applies the rules of docs/webhooks.md: one Purchase per order, when it is paid; refunds
and cancellations recorded, and sent only by option, only for an order whose Purchase was
sent.

Order of work, so that nothing is lost and nothing doubles: read the state, store the event
(its ``event_id`` is fixed per order, so a concurrent or repeated delivery is a duplicate for
the store's dedup key), then mark the state with a conditional update. A crash between the two
is repaired by the platform's retry; two racing deliveries store one event.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from signalyard.errors import InputError
from signalyard.sources import webhook_store as ws
from signalyard.sources.body import BodyReader, error_headers
from signalyard.sources.graph_api import json_response
from signalyard.sources.ingest import Ingestor
from signalyard.sources.order_fields import BrowserIds, WebhookError
from signalyard.store.base import Dataset, Store

log = logging.getLogger("signalyard.webhooks")

REFUND_EVENT = "Refund"
CANCEL_EVENT = "OrderCanceled"


# Policy ---------------------------------------------------------------------------------------

_DEFAULT_PAID = {
    "shopify": frozenset(("paid", "partially_refunded")),
    "woocommerce": frozenset(("processing", "completed")),
}
_CHOICES = {
    "refunds": ("ignore", "send"),
    "cancellations": ("ignore", "send"),
    "test_orders": ("skip", "send"),
    "content_id": ("variant_id", "product_id", "sku"),
}
OPTION_NAMES = (*_CHOICES, "paid_statuses", "site_url", "test_event_code")


@dataclass(frozen=True, slots=True)
class Policy:
    """A source's options, parsed. See docs/webhooks.md for each."""

    platform: str
    send_refunds: bool = False
    send_cancellations: bool = False
    send_test_orders: bool = False
    paid_statuses: frozenset[str] = frozenset()
    content_id: str = "variant_id"
    site_url: str | None = None
    test_event_code: str | None = None

    @classmethod
    def parse(cls, platform: str, options: Mapping[str, str]) -> Policy:
        """Raises ``ValueError`` naming the option and what it accepts."""
        for key, value in options.items():
            if key not in OPTION_NAMES:
                raise ValueError(f"unknown option {key}; known: {', '.join(OPTION_NAMES)}")
            if key in _CHOICES and value not in _CHOICES[key]:
                raise ValueError(f"option {key} must be one of {', '.join(_CHOICES[key])}")
        site_url = options.get("site_url") or None
        if site_url is not None and not re.match(r"https?://[^/?#\s]+/?$", site_url):
            raise ValueError("option site_url must be a site root such as https://shop.example.com")
        listed = {s.strip().lower() for s in options.get("paid_statuses", "").split(",")} - {""}
        return cls(
            platform=platform,
            send_refunds=options.get("refunds") == "send",
            send_cancellations=options.get("cancellations") == "send",
            send_test_orders=options.get("test_orders") == "send",
            paid_statuses=frozenset(listed) or _DEFAULT_PAID[platform],
            content_id=options.get("content_id", "variant_id"),
            site_url=site_url.rstrip("/") if site_url else None,
            test_event_code=options.get("test_event_code") or None,
        )


# Facts ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundFacts:
    refund_id: str
    amount: float
    """Money returned (positive)."""
    currency: str | None
    at: float | None


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """One delivery's view of an order, whatever the platform."""

    platform: str
    order_id: str
    status: str
    financial_status: str | None
    paid: bool
    not_paid_because: str
    """Why the order does not count as paid (for the answer), when ``paid`` is false."""
    paid_at: float | None
    updated_at: float | None
    cancelled_at: float | None
    test: bool
    browser: BrowserIds
    action_source: str
    event_source_url: str | None
    user_data: dict[str, Any]
    """Plaintext, as the platform sent it: the ingest pipeline normalizes and hashes it."""
    currency: str | None
    value: str | None
    contents: list[dict[str, Any]]
    refunds: tuple[RefundFacts, ...] = ()


Process = Callable[[Request, bytes, ws.WebhookSource, Dataset, Policy], Awaitable[dict[str, Any]]]


async def run_webhook(
    request: Request,
    store: Store,
    platform: str,
    bodies: BodyReader,
    max_body_bytes: int,
    process: Process,
) -> Response:
    """What every order webhook does around its own ``process``: find the dataset and its
    source, read the body (bounded in size, time and memory: its signature is over the whole
    body), turn failures into an answer naming the problem (4xx for bad requests; 503 and 500,
    which the platform retries, when the server is full or at fault)."""
    dataset_id = request.path_params["dataset_id"]
    try:
        dataset = await store.get_dataset(dataset_id)
        if dataset is None:
            raise WebhookError(404, f"dataset {dataset_id} does not exist")
        source = await ws.get_source(store, dataset_id, platform)
        if source is None:
            raise WebhookError(
                404,
                f"dataset {dataset_id} has no {platform} webhook source: add one with"
                f" `signalyard webhooks add {dataset_id} {platform} --secret-stdin`",
            )
        try:
            policy = Policy.parse(platform, source.options)
        except ValueError as error:
            raise WebhookError(500, f"the {platform} source's options: {error}") from None
        async with bodies.read(request, max_body_bytes) as body:
            return json_response(await process(request, body, source, dataset, policy))
    except (WebhookError, InputError) as error:  # InputError: reading the body
        return json_response(
            {"error": {"code": error.status, "message": error.message}},
            error.status,
            error_headers(error) if isinstance(error, InputError) else None,
        )
    except Exception:
        log.exception("Webhook failed. platform=%s dataset=%s", platform, dataset_id)
        return json_response(
            {"error": {"code": 500, "message": "internal error; the delivery can be retried"}},
            500,
        )


# The flow -------------------------------------------------------------------------------------


def build_event(
    facts: OrderFacts,
    name: str,
    event_id: str,
    at: float | None,
    custom: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": name,
        "event_time": int(min(at if at is not None else now, now)),
        "event_id": event_id,
        "action_source": facts.action_source,
        "user_data": dict(facts.user_data),
        "custom_data": {k: v for k, v in custom.items() if v not in (None, [], "")},
    }
    if facts.event_source_url:
        event["event_source_url"] = facts.event_source_url
    if facts.browser.consent is not None:
        event["consent"] = {"state": facts.browser.consent, "source": facts.platform}
    if facts.browser.click_ids:
        # The click time is not in the order: the ledger takes the event's time.
        event["click_ids"] = {k: v[:512] for k, v in facts.browser.click_ids.items()}
    if facts.browser.browser_ids:
        event["browser_ids"] = dict(facts.browser.browser_ids)
    return event


def purchase_data(facts: OrderFacts) -> dict[str, Any]:
    return {
        "currency": facts.currency,
        "value": facts.value,
        "order_id": facts.order_id,
        "contents": facts.contents,
        "content_type": "product" if facts.contents else None,
        "num_items": sum(int(c.get("quantity") or 0) for c in facts.contents) or None,
    }


@dataclass(slots=True)
class Delivery:
    """One delivery being handled: where it goes, and what it did (events stored or found
    stored, notes for the answer; never personal data)."""

    source: ws.WebhookSource
    dataset: Dataset
    policy: Policy
    now: float
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def body(self, **extra: Any) -> dict[str, Any]:
        return {**extra, "events": self.events, "messages": self.messages}


class OrderFlow:
    """Turns one delivery's :class:`OrderFacts` into stored events and order state."""

    def __init__(self, store: Store, ingestor: Ingestor) -> None:
        self.store = store
        self.ingestor = ingestor

    async def _send(self, d: Delivery, event: dict[str, Any]) -> bool:
        """Store one event; False (and a note naming the rule) if it breaks one. A valid,
        signed delivery is acknowledged even when its order cannot make a Meta event (too old,
        no customer data...): answered with an error, the platform would retry it for hours,
        then disable the webhook."""
        name = event["event_name"]
        try:
            result = await self.ingestor.ingest(
                [event],
                d.dataset,
                source=d.policy.platform,
                test_event_code=d.policy.test_event_code,
            )
        except InputError as error:
            rule = error.message.removeprefix("data[0].")
            d.messages.append(f"{name} not sent: {rule}")
            log.warning(
                "Order event refused. platform=%s dataset=%s event=%s reason=%s",
                d.policy.platform,
                d.dataset.id,
                name,
                rule,
            )
            return False
        d.events.append(
            {"event_name": name, "event_id": event["event_id"], "stored": bool(result.stored)}
        )
        d.messages.extend(m.removeprefix("data[0].") for m in result.messages)
        return True

    async def handle_order(self, d: Delivery, facts: OrderFacts) -> None:
        platform, oid = facts.platform, facts.order_id
        state = await ws.upsert_order(
            self.store,
            ws.OrderUpdate(
                dataset_id=d.dataset.id,
                platform=platform,
                order_id=oid,
                status=facts.status,
                financial_status=facts.financial_status,
                purchase_event_id=facts.browser.event_id or f"{platform}-order-{oid}",
                updated_at=facts.updated_at if facts.updated_at is not None else d.now,
            ),
        )
        sent = state.purchase_sent_at is not None
        if sent:
            d.messages.append("Purchase already sent for this order")
        elif facts.cancelled_at is not None or state.cancelled_at is not None:
            d.messages.append("order cancelled: no Purchase")
        elif facts.test and not d.policy.send_test_orders:
            d.messages.append("test order: not sent (option test_orders=send sends it)")
        elif not facts.paid:
            d.messages.append(f"not paid yet ({facts.not_paid_because}): no Purchase yet")
        else:
            event_id = state.purchase_event_id or f"{platform}-order-{oid}"
            purchase = build_event(
                facts, "Purchase", event_id, facts.paid_at, purchase_data(facts), d.now
            )
            if await self._send(d, purchase):
                await ws.mark_purchase_sent(self.store, d.dataset.id, platform, oid, now=d.now)
                sent = True
        if facts.cancelled_at is not None and state.cancelled_at is None:
            cancel_id = f"{platform}-cancel-{oid}"
            custom = {"currency": facts.currency, "order_id": oid}
            cancel = build_event(facts, CANCEL_EVENT, cancel_id, facts.cancelled_at, custom, d.now)
            if not (d.policy.send_cancellations and sent) or await self._send(d, cancel):
                await ws.mark_cancelled(
                    self.store, d.dataset.id, platform, oid, at=facts.cancelled_at
                )
        for refund in facts.refunds:
            await self._refund(d, facts, refund, sent)

    async def _refund(
        self, d: Delivery, facts: OrderFacts, refund: RefundFacts, sent: bool
    ) -> None:
        """A refund is counted once (``refunded_value``); with ``refunds=send`` and the
        Purchase sent, a ``Refund`` event carrying the amount returned is stored first."""
        if refund.amount <= 0 or await ws.refund_seen(self.store, d.source.id, refund.refund_id):
            return
        if d.policy.send_refunds and sent:
            custom = {
                "currency": refund.currency or facts.currency,
                "value": refund.amount,
                "order_id": facts.order_id,
            }
            event_id = f"{facts.platform}-refund-{refund.refund_id}"
            event = build_event(facts, REFUND_EVENT, event_id, refund.at, custom, d.now)
            if not await self._send(d, event):
                return
        await ws.record_refund(
            self.store,
            d.source.id,
            d.dataset.id,
            facts.platform,
            facts.order_id,
            refund.refund_id,
            refund.amount,
            now=d.now,
        )
