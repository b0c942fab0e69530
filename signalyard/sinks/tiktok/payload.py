"""Canonical events -> the body of ``POST {api_url}/open_api/v1.3/event/track/``. Pure;
snapshot-tested.

Stored events are in Meta's shape, normalized and hashed by Meta's rules; this module maps
them to TikTok's Events API 2.0 body (reference §3)::

    {"event_source": "web", "event_source_id": <pixel code>, "test_event_code"?,
     "partner_name"?, "data": [{"event", "event_time", "event_id", "user", "properties",
                                "page", "limited_data_use"?}, ...]}

Event names (:data:`EVENT_NAMES`): Meta's standard names map to TikTok's; any other name
(a custom event) is sent as it is. TikTok's own list (ads.tiktok.com help, "About supported
standard events", September 2025) names ``Purchase``; ``CompletePayment`` (the reference's
older list has both) is now a *reserved* name that TikTok maps to ``Purchase`` ("About
reserved events"), so Meta's ``Purchase`` goes as ``Purchase``. ``PageView`` and ``Donate``
have no TikTok standard event and go as they are (custom events at TikTok).

``user``:

- ``email``: Meta's ``em`` hashes (SHA-256 of the trimmed, lowercased address: the same rule
  as TikTok's);
- ``phone``: the ``ph.e164`` identity variant only (SHA-256 of ``+`` and the E.164 digits,
  TikTok's rule), read with :func:`~signalyard.transforms.identity.variant_hashes`. Meta's
  digits-only hash is never sent: a phone without the variant (it arrived hashed, or the
  variant was not made for the event) is left out;
- ``external_id``: Meta's ``external_id`` hashes (trimmed, then hashed; TikTok's own rule is
  unconfirmed, see docs/destinations/tiktok.md);
- ``ip``, ``user_agent``: as stored (plain);
- ``ttclid``: the event's own click id (``_click_ids["ttclid"]``), else the ``ttclid`` query
  parameter of ``event_source_url``;
- ``ttp``: the browser's ``_ttp`` cookie (``_browser_ids["ttp"]``: sent by the browser
  script, or by a server as ``browser_ids``);
- not sent: the hashed names, zip code,
  city, state and country: Meta's hashes of them follow Meta's rules, which TikTok does not
  document as its own, and the plaintext of city/state/country is not stored.

``properties``: ``currency`` (upper case), ``value``, ``contents`` (``content_id``,
``content_name``, ``content_category``, ``brand``, ``price``, ``quantity``, ``content_type``),
``content_type``, ``content_ids``, ``num_items``, ``order_id``, ``query`` (Meta's
``search_string``). ``page``: ``url`` (``event_source_url``), ``referrer`` (``referrer_url``).
``limited_data_use``: ``true`` when the destination's consent action applied Limited Data
Use (Meta's ``data_processing_options`` holds ``"LDU"``).

Values of the wrong type are left out rather than sent: TikTok refuses an event whose field
has the wrong type (``Not a valid string``), so one bad optional field would lose the event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from signalyard.event import ServerEvent
from signalyard.sinks import values
from signalyard.sinks.tiktok.config import TRACK_PATH, TikTokConfig
from signalyard.transforms.identity import variant_hashes

__all__ = [
    "EVENT_NAMES",
    "PHONE_VARIANT",
    "build_body",
    "build_event",
    "encode",
    "event_name",
    "track_url",
]

PHONE_VARIANT: Final = "ph.e164"
"""The identity variant TikTok's phone rule needs (``+`` and the E.164 digits, hashed)."""

EVENT_NAMES: Final[dict[str, str]] = {
    "AddPaymentInfo": "AddPaymentInfo",
    "AddToCart": "AddToCart",
    "AddToWishlist": "AddToWishlist",
    "CompleteRegistration": "CompleteRegistration",
    "Contact": "Contact",
    "CustomizeProduct": "CustomizeProduct",
    "Donate": "Donate",  # no TikTok standard event: a custom event there
    "FindLocation": "FindLocation",
    "InitiateCheckout": "InitiateCheckout",
    "Lead": "Lead",
    "PageView": "PageView",  # no TikTok standard event: a custom event there
    "Purchase": "Purchase",  # TikTok's CompletePayment is a reserved name for Purchase
    "Schedule": "Schedule",
    "Search": "Search",
    "StartTrial": "StartTrial",
    "SubmitApplication": "SubmitApplication",
    "Subscribe": "Subscribe",
    "ViewContent": "ViewContent",
}
"""Meta's standard event names -> TikTok's. Any other name is sent as it is."""

_CONTENT_TYPES: Final = frozenset(("product", "product_group"))


def track_url(config: TikTokConfig) -> str:
    """``{api_url}/open_api/v1.3/event/track/``."""
    return config.api_url.rstrip("/") + TRACK_PATH


def event_name(name: str) -> str:
    """TikTok's name for Meta's event ``name`` (custom names unchanged)."""
    return EVENT_NAMES.get(name, name)


def build_body(
    events: Sequence[ServerEvent],
    *,
    event_source: str,
    event_source_id: str,
    test_event_code: str | None,
    partner_name: str | None,
) -> bytes:
    """The request body for one batch. Raises ``orjson.JSONEncodeError`` on a value JSON
    lacks."""
    return encode(
        [build_event(e) for e in events],
        event_source=event_source,
        event_source_id=event_source_id,
        test_event_code=test_event_code,
        partner_name=partner_name,
    )


def encode(
    data: list[dict[str, Any]],
    *,
    event_source: str,
    event_source_id: str,
    test_event_code: str | None,
    partner_name: str | None,
) -> bytes:
    """The body around events already built with :func:`build_event`."""
    body: dict[str, Any] = {"event_source": event_source, "event_source_id": event_source_id}
    if partner_name:
        body["partner_name"] = partner_name
    if test_event_code:
        body["test_event_code"] = test_event_code
    body["data"] = data
    return orjson.dumps(body)


def build_event(event: ServerEvent) -> dict[str, Any]:
    """One canonical (stored, consent-applied) event as an element of TikTok's ``data``."""
    out: dict[str, Any] = {"event": event_name(str(event.get("event_name") or ""))}
    event_time = values.event_seconds(event)
    if event_time is not None:
        out["event_time"] = event_time
    event_id = values.event_id(event)
    if event_id is not None:
        out["event_id"] = event_id
    values.put(out, "user", _user(event))
    values.put(out, "properties", _properties(event.get("custom_data")))
    page: dict[str, str] = {}
    values.put(page, "url", values.text(event.get("event_source_url")))
    values.put(page, "referrer", values.text(event.get("referrer_url")))
    if page:
        out["page"] = page
    if values.limited_data_use(event):
        out["limited_data_use"] = True
    return out


def _user(event: ServerEvent) -> dict[str, Any]:
    user_data = values.mapping(event.get("user_data"))
    user: dict[str, Any] = {}
    email = values.hashes(user_data.get("em"))
    if email:
        user["email"] = values.one_or_many(email)
    phones, _missing = variant_hashes(event, PHONE_VARIANT)
    if phones:
        user["phone"] = values.one_or_many(phones)
    external = values.hashes(user_data.get("external_id"))
    if external:
        user["external_id"] = values.one_or_many(external)
    values.put(user, "ip", values.text(user_data.get("client_ip_address")))
    values.put(user, "user_agent", values.text(user_data.get("client_user_agent")))
    values.put(user, "ttclid", values.click_id(event, "ttclid"))
    values.put(user, "ttp", values.text(values.mapping(event.get("_browser_ids")).get("ttp")))
    return user


def _properties(custom_data: object) -> dict[str, Any]:
    if not isinstance(custom_data, Mapping):
        return {}
    out: dict[str, Any] = {}
    values.put(out, "currency", values.currency(custom_data.get("currency")))
    values.put(out, "value", values.number(custom_data.get("value")))
    content_type = custom_data.get("content_type")
    kind = content_type if content_type in _CONTENT_TYPES else None
    values.put(
        out, "contents", values.each(custom_data.get("contents"), lambda item: _content(item, kind))
    )
    if kind is not None:
        out["content_type"] = kind
    values.put(out, "content_ids", values.id_list(custom_data.get("content_ids")))
    values.put(out, "num_items", values.integer(custom_data.get("num_items")))
    values.put(out, "order_id", values.id_text(custom_data.get("order_id")))
    values.put(out, "query", values.text(custom_data.get("search_string")))
    return out


def _content(item: object, kind: str | None) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        return {}
    out: dict[str, Any] = {}
    values.put(out, "content_id", values.id_text(item.get("id")))
    for ours, theirs in (("title", "content_name"), ("category", "content_category")):
        text = values.text(item.get(ours))
        if text:
            out[theirs] = text
    values.put(out, "brand", values.text(item.get("brand")))
    values.put(out, "price", values.number(item.get("item_price")))
    values.put(out, "quantity", values.integer(item.get("quantity")))
    if out and kind is not None:
        out["content_type"] = kind
    return out
