"""Canonical events -> the body of ``POST {api_url}/mp/collect?measurement_id=…&api_secret=…``.
Pure; snapshot-tested.

Stored events are in Meta's shape, normalized and hashed by Meta's rules; this module maps one
to GA4's Measurement Protocol body (one event per request: see
:data:`~signalyard.sinks.ga4.config.MAX_BATCH`)::

    {"client_id", "timestamp_micros", "user_data"?, "consent"?, "ip_override"?,
     "events": [{"name", "params": {...}}]}

``client_id``
    From the ``_ga`` cookie passed on as ``_browser_ids["ga"]`` (``GA1.1.1234567890.1700000000``
    or the bare ``1234567890.1700000000``): the last two dot-separated numbers
    (:func:`client_id_of`). An event without one gets the sink's choice
    (``missing_client_id``).
``timestamp_micros``
    ``event_time`` in microseconds.
``user_data``
    ``sha256_email_address``: the ``em.gmail`` identity variant (Google's rule: trimmed,
    lowercased, and for gmail.com/googlemail.com the dots and ``+suffix`` of the local part
    removed), read with :func:`~signalyard.transforms.identity.variant_hashes`;
    ``sha256_phone_number``: the ``ph.e164`` variant (``+`` and the E.164 digits). Meta's own
    hashes of these keys are never sent: a value without its variant (it arrived hashed) is
    left out. Not sent: names, address, ``external_id`` (Meta's rules differ from Google's,
    or GA4 has no field for them), ``fbp``/``fbc``.
``consent``
    ``ad_user_data`` and ``ad_personalization``: ``GRANTED`` or ``DENIED`` from
    ``_consent.state`` granted/denied; left out for pending/unknown.
``ip_override``
    ``client_ip_address``, for geolocation. The user agent is not sent: Google's reference names
    no Measurement Protocol field for it that we could confirm.

Event names (:data:`EVENT_NAMES`): Meta's standard names map to GA4's recommended events,
the rest to snake_case; any other (custom) name is cleaned to GA4's name rule
(:func:`event_name`: characters outside ``[A-Za-z0-9_]`` become ``_``, leading non-letters
go, at most 40 characters). A name still refused (reserved) is dead-lettered by the sink.

``params``: ``transaction_id`` (``purchase`` and ``refund``: ``custom_data.order_id``, else
the event id), ``value`` and ``currency`` (together: GA4 ignores a value without currency),
``items`` (``item_id``, ``item_name``, ``item_category``, ``item_brand``, ``price``,
``quantity``), ``search_term`` (``search``), ``page_location`` (``event_source_url``),
``page_referrer`` (``referrer_url``) and ``event_id`` (the gateway's event id, a custom
param: GA4 does not deduplicate on it; it lets one find the event in a BigQuery export).
Optional text longer than GA4 keeps is left out rather than cut.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from signalyard.event import ServerEvent
from signalyard.sinks import values
from signalyard.sinks.ga4.rules import MAX_VALUE, VALUE_LIMITS
from signalyard.transforms.identity import variant_hashes

__all__ = [
    "CONSENT",
    "EMAIL_VARIANT",
    "EVENT_NAMES",
    "PHONE_VARIANT",
    "build_event",
    "build_request",
    "client_id_of",
    "encode",
    "event_name",
]

EMAIL_VARIANT: Final = "em.gmail"
PHONE_VARIANT: Final = "ph.e164"

EVENT_NAMES: Final[dict[str, str]] = {
    "AddPaymentInfo": "add_payment_info",
    "AddToCart": "add_to_cart",
    "AddToWishlist": "add_to_wishlist",
    "CompleteRegistration": "sign_up",
    "Contact": "contact",  # no GA4 recommended event: a custom one
    "CustomizeProduct": "customize_product",  # custom
    "Donate": "donate",  # custom
    "FindLocation": "find_location",  # custom
    "InitiateCheckout": "begin_checkout",
    "Lead": "generate_lead",
    "PageView": "page_view",
    "Purchase": "purchase",
    "Schedule": "schedule",  # custom
    "Search": "search",
    "StartTrial": "start_trial",  # custom
    "SubmitApplication": "submit_application",  # custom
    "Subscribe": "subscribe",  # custom
    "ViewContent": "view_item",
}
"""Meta's standard event names -> GA4's recommended events (or a snake_case custom name
where GA4 recommends none). Any other name is cleaned by :func:`event_name`."""

CONSENT: Final = {"granted": "GRANTED", "denied": "DENIED"}
_TRANSACTION_EVENTS: Final = frozenset(("purchase", "refund"))
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")
_LEADING = re.compile(r"^[^A-Za-z]+")
_GA_COOKIE = re.compile(r"(?:GA[0-9]+\.[0-9]+\.)?([0-9]{1,20}\.[0-9]{1,20})")


def event_name(name: str) -> str:
    """GA4's name for Meta's event ``name``: the table's, else ``name`` cleaned to GA4's rule
    (may still be reserved, or empty: the sink's check refuses those)."""
    mapped = EVENT_NAMES.get(name)
    if mapped is not None:
        return mapped
    text = _LEADING.sub("", _NOT_NAME.sub("_", name.strip()))
    return text[:40].rstrip("_")


def client_id_of(event: ServerEvent) -> str | None:
    """The GA client id of the ``_ga`` cookie passed on with the event, or None (absent, or
    not a GA cookie)."""
    browser = event.get("_browser_ids")
    value = browser.get("ga") if isinstance(browser, Mapping) else None
    if not isinstance(value, str):
        return None
    found = _GA_COOKIE.fullmatch(value.strip())
    return found.group(1) if found else None


def build_request(events: Sequence[ServerEvent], *, client_id: str) -> dict[str, Any]:
    """The body for ``events`` of one user (the request-level fields are the first event's)."""
    first = events[0]
    out: dict[str, Any] = {"client_id": client_id}
    event_time = first.get("event_time")
    if isinstance(event_time, int | float) and not isinstance(event_time, bool):
        out["timestamp_micros"] = int(event_time) * 1_000_000
    user_data = _user_data(first)
    if user_data:
        out["user_data"] = user_data
    consent = _consent(first)
    if consent:
        out["consent"] = consent
    raw = first.get("user_data")
    ip = values.text(raw.get("client_ip_address")) if isinstance(raw, Mapping) else None
    if ip:
        out["ip_override"] = ip
    out["events"] = [build_event(e) for e in events]
    return out


def encode(request: Mapping[str, Any]) -> bytes:
    """The JSON body. Raises ``orjson.JSONEncodeError`` on a value JSON lacks."""
    return orjson.dumps(request)


def build_event(event: ServerEvent) -> dict[str, Any]:
    """One canonical event as an element of ``events``."""
    name = event_name(str(event.get("event_name") or ""))
    params: dict[str, Any] = {}
    custom = event.get("custom_data")
    custom_data: Mapping[str, Any] = custom if isinstance(custom, Mapping) else {}
    event_id = values.id_text(event.get("event_id"))
    if name in _TRANSACTION_EVENTS:
        transaction = values.id_text(custom_data.get("order_id")) or event_id
        if transaction:
            params["transaction_id"] = transaction
    currency = values.text(custom_data.get("currency"))
    value = values.number(custom_data.get("value"))
    if currency and value is not None:
        params["currency"] = currency.upper()
        params["value"] = value
    items = _items(custom_data.get("contents"))
    if items:
        params["items"] = items
    if name == "search":
        _put(params, "search_term", values.text(custom_data.get("search_string")))
    _put(params, "page_location", values.text(event.get("event_source_url")))
    _put(params, "page_referrer", values.text(event.get("referrer_url")))
    _put(params, "event_id", event_id)
    return {"name": name, "params": params}


def _put(params: dict[str, Any], key: str, text: str | None) -> None:
    """Set an optional text param when GA4 keeps it whole."""
    if text and len(text) <= VALUE_LIMITS.get(key, MAX_VALUE):
        params[key] = text


def _user_data(event: ServerEvent) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    emails, _ = variant_hashes(event, EMAIL_VARIANT)
    if emails:
        out["sha256_email_address"] = emails
    phones, _ = variant_hashes(event, PHONE_VARIANT)
    if phones:
        out["sha256_phone_number"] = phones
    return out


def _consent(event: ServerEvent) -> dict[str, str]:
    stored = event.get("_consent")
    state = stored.get("state") if isinstance(stored, Mapping) else None
    status = CONSENT.get(state) if isinstance(state, str) else None
    if status is None:
        return {}
    return {"ad_user_data": status, "ad_personalization": status}


def _items(contents: object) -> list[dict[str, Any]]:
    if not isinstance(contents, list):
        return []
    items: list[dict[str, Any]] = []
    for content in contents:
        if not isinstance(content, Mapping):
            continue
        item: dict[str, Any] = {}
        _put(item, "item_id", values.id_text(content.get("id")))
        _put(item, "item_name", values.text(content.get("title")))
        if not item:
            continue  # GA4 needs item_id or item_name
        _put(item, "item_category", values.text(content.get("category")))
        _put(item, "item_brand", values.text(content.get("brand")))
        values.put(item, "price", values.number(content.get("item_price")))
        quantity = values.number(content.get("quantity"))
        if quantity is not None and float(quantity).is_integer():
            item["quantity"] = int(quantity)
        items.append(item)
    return items
