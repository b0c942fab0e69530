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

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import orjson

from signalyard.event import ServerEvent
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
    event_time = event.get("event_time")
    if isinstance(event_time, int | float) and not isinstance(event_time, bool):
        out["event_time"] = int(event_time)
    event_id = event.get("event_id")
    if event_id is not None and event_id != "":
        out["event_id"] = str(event_id)
    user = _user(event)
    if user:
        out["user"] = user
    properties = _properties(event.get("custom_data"))
    if properties:
        out["properties"] = properties
    page: dict[str, str] = {}
    url = _text(event.get("event_source_url"))
    if url:
        page["url"] = url
    referrer = _text(event.get("referrer_url"))
    if referrer:
        page["referrer"] = referrer
    if page:
        out["page"] = page
    options = event.get("data_processing_options")
    if isinstance(options, list) and "LDU" in options:
        out["limited_data_use"] = True
    return out


def _user(event: ServerEvent) -> dict[str, Any]:
    user_data = event.get("user_data")
    if not isinstance(user_data, Mapping):
        user_data = {}
    user: dict[str, Any] = {}
    email = _hashes(user_data.get("em"))
    if email:
        user["email"] = _one_or_many(email)
    phones, _missing = variant_hashes(event, PHONE_VARIANT)
    if phones:
        user["phone"] = _one_or_many(phones)
    external = _hashes(user_data.get("external_id"))
    if external:
        user["external_id"] = _one_or_many(external)
    ip = _text(user_data.get("client_ip_address"))
    if ip:
        user["ip"] = ip
    agent = _text(user_data.get("client_user_agent"))
    if agent:
        user["user_agent"] = agent
    ttclid = _ttclid(event)
    if ttclid:
        user["ttclid"] = ttclid
    browser = event.get("_browser_ids")
    ttp = _text(browser.get("ttp")) if isinstance(browser, Mapping) else None
    if ttp:
        user["ttp"] = ttp
    return user


def _ttclid(event: ServerEvent) -> str | None:
    clicks = event.get("_click_ids")
    if isinstance(clicks, Mapping):
        own = _text(clicks.get("ttclid"))
        if own:
            return own
    url = event.get("event_source_url")
    if isinstance(url, str) and "ttclid=" in url:
        try:
            found = parse_qs(urlsplit(url).query).get("ttclid")
        except ValueError:
            return None
        if found and found[0].strip():
            return found[0].strip()
    return None


def _properties(custom_data: object) -> dict[str, Any]:
    if not isinstance(custom_data, Mapping):
        return {}
    out: dict[str, Any] = {}
    currency = _text(custom_data.get("currency"))
    if currency:
        out["currency"] = currency.upper()
    value = _number(custom_data.get("value"))
    if value is not None:
        out["value"] = value
    content_type = custom_data.get("content_type")
    kind = content_type if content_type in _CONTENT_TYPES else None
    contents = custom_data.get("contents")
    if isinstance(contents, list):
        items = [c for c in (_content(item, kind) for item in contents) if c]
        if items:
            out["contents"] = items
    if kind is not None:
        out["content_type"] = kind
    ids = custom_data.get("content_ids")
    if isinstance(ids, list):
        texts = [t for t in (_id(i) for i in ids) if t]
        if texts:
            out["content_ids"] = texts
    num_items = _integer(custom_data.get("num_items"))
    if num_items is not None:
        out["num_items"] = num_items
    order_id = _id(custom_data.get("order_id"))
    if order_id:
        out["order_id"] = order_id
    query = _text(custom_data.get("search_string"))
    if query:
        out["query"] = query
    return out


def _content(item: object, kind: str | None) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        return {}
    out: dict[str, Any] = {}
    content_id = _id(item.get("id"))
    if content_id:
        out["content_id"] = content_id
    for ours, theirs in (("title", "content_name"), ("category", "content_category")):
        text = _text(item.get(ours))
        if text:
            out[theirs] = text
    brand = _text(item.get("brand"))
    if brand:
        out["brand"] = brand
    price = _number(item.get("item_price"))
    if price is not None:
        out["price"] = price
    quantity = _integer(item.get("quantity"))
    if quantity is not None:
        out["quantity"] = quantity
    if out and kind is not None:
        out["content_type"] = kind
    return out


def _hashes(value: object) -> list[str]:
    """A hashed key's values (a string or a list of strings), without blanks or repeats."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, str) and item and item not in out:
            out.append(item)
    return out


def _one_or_many(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _id(value: object) -> str | None:
    """An id TikTok wants as a string: SKUs and order ids sent as numbers are written out."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return _text(value)


def _number(value: object) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _integer(value: object) -> int | None:
    number = _number(value)
    if number is None or (isinstance(number, float) and not number.is_integer()):
        return None
    return int(number)
