"""Canonical events -> the body of ``POST {api_url}/v3/{pixel_id}/events``. Pure;
snapshot-tested.

Stored events are in Meta's shape, normalized and hashed by Meta's rules; this module maps
them to Snap's Conversions API v3 body (Snap's OpenAPI ``sendEvent_request``)::

    {"data": [{"event_name", "event_time", "event_id", "action_source", "event_source_url",
               "user_data", "custom_data", "app_data"?, "data_processing_options"?,
               "integration"?}, ...]}

Event names (:data:`EVENT_NAMES`): Meta's standard names map to Snap's upper-case ones; a
name with no Snap counterpart and any custom name is sent as it is (Snap's own request
example sends ``"Purchase"``; whether Snap counts such a name as a standard event is not
documented, see docs/destinations/snapchat.md).

``user_data`` (hashed keys are arrays of SHA-256 hex, Snap's form):

- ``em``: Meta's hashes; Snap's rule is Meta's (trimmed, lowercased);
- ``ph``: Meta's hashes; Snap's rule is Meta's: the digits with the country code, no ``+``,
  no ``00`` before the country code, no national leading ``0`` (``+44 844 412 4653`` ->
  ``448444124653``). Not the ``ph.e164`` variant: that one has the ``+`` Snap strips;
- ``fn``, ``ln``: Meta's hashes (lower case, no punctuation, UTF-8: the same rule);
- ``ge``, ``ct``, ``st``, ``zp``, ``country``: Meta's hashes. Snap's OpenAPI lists them as
  hashed arrays; the rules (``m``/``f``, city lower case without spaces, 2-letter state and
  country codes, zip without spaces) are the ones Meta's normalizer applies;
- ``external_id``: Meta's hashes (Snap's rule for it is not published: trimmed, hashed);
- ``client_ip_address``, ``client_user_agent``: as stored (plain);
- ``sc_click_id``: the event's own ``ScCid`` click id (``_click_ids["ScCid"]``), else the
  ``ScCid`` query parameter of ``event_source_url``;
- ``sc_cookie1``: the browser's ``_scid`` cookie (``_browser_ids["scid"]``);
- not sent: ``db`` (not a field of Snap's v3 ``UserData``), ``fbc``/``fbp`` (Meta's).

``custom_data``: ``currency`` (upper case), ``value``, ``content_ids``, ``contents``
(``id``, ``quantity``, ``item_price``, ``delivery_category``), ``content_category``,
``content_type``, ``num_items``, ``order_id``, ``search_string``, ``sign_up_method``,
``brands`` (Snap wants one string: the contents' brands joined by commas), ``status``.
``action_source``: Meta's ``website`` -> ``WEB``, ``app`` -> ``MOBILE_APP``, any other
(store, phone, email, chat, system) -> ``OFFLINE``. ``app_data``: Meta's ``extinfo`` and
``advertiser_tracking_enabled``, for app events. ``data_processing_options``: ``["LMU"]``
when the destination's consent action applied limited use (see :mod:`.consent`), or the event
arrived with Meta's ``data_processing_options: ["LDU"]``.

Values of the wrong type are left out rather than sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import orjson

from signalyard.event import ServerEvent
from signalyard.sinks.snapchat.config import SnapchatConfig, events_path

__all__ = [
    "ACTION_SOURCES",
    "EVENT_NAMES",
    "HASHED_KEYS",
    "LIMITED_USE",
    "build_body",
    "build_event",
    "encode",
    "event_name",
    "events_url",
]

EVENT_NAMES: Final[dict[str, str]] = {
    "AddPaymentInfo": "ADD_BILLING",
    "AddToCart": "ADD_CART",
    "AddToWishlist": "ADD_TO_WISHLIST",
    "CompleteRegistration": "SIGN_UP",
    "InitiateCheckout": "START_CHECKOUT",
    "Lead": "SIGN_UP",  # Snap has no lead event; a lead is a sign-up there
    "PageView": "PAGE_VIEW",
    "Purchase": "PURCHASE",
    "Schedule": "RESERVE",
    "Search": "SEARCH",
    "StartTrial": "START_TRIAL",
    "Subscribe": "SUBSCRIBE",
    "ViewContent": "VIEW_CONTENT",
}
"""Meta's standard event names -> Snap's. Any other name is sent as it is."""

ACTION_SOURCES: Final[dict[str, str]] = {"website": "WEB", "app": "MOBILE_APP"}
"""Meta's ``action_source`` -> Snap's; any other Meta source is ``OFFLINE``."""

HASHED_KEYS: Final = ("em", "ph", "fn", "ln", "ge", "ct", "st", "zp", "country", "external_id")
"""The ``user_data`` keys sent as arrays of Meta's hashes (the same rules as Snap's)."""

LIMITED_USE: Final = "LMU"
"""Snap's ``data_processing_options`` value for limited use (Snap's request example)."""

_PLAIN_KEYS: Final = ("client_ip_address", "client_user_agent")
_TEXT_FIELDS: Final = (
    "content_category",
    "search_string",
    "sign_up_method",
    "status",
    "delivery_category",
)


def events_url(config: SnapchatConfig, *, validate: bool) -> str:
    """``{api_url}/v3/{pixel_id}/events`` (or ``.../events/validate``); the token goes in
    the query, added by the sink."""
    return config.api_url.rstrip("/") + events_path(config.pixel_id, validate=validate)


def event_name(name: str) -> str:
    """Snap's name for Meta's event ``name`` (custom names unchanged)."""
    return EVENT_NAMES.get(name, name)


def build_body(events: Sequence[ServerEvent], *, integration: str | None) -> bytes:
    """The request body for one batch. Raises ``orjson.JSONEncodeError`` on a value JSON
    lacks."""
    return encode([build_event(e, integration=integration) for e in events])


def encode(data: list[dict[str, Any]]) -> bytes:
    """The body around events already built with :func:`build_event`."""
    return orjson.dumps({"data": data})


def build_event(event: ServerEvent, *, integration: str | None = None) -> dict[str, Any]:
    """One canonical (stored, consent-applied) event as an element of Snap's ``data``."""
    out: dict[str, Any] = {"event_name": event_name(str(event.get("event_name") or ""))}
    event_time = event.get("event_time")
    if isinstance(event_time, int | float) and not isinstance(event_time, bool):
        out["event_time"] = int(event_time)
    event_id = event.get("event_id")
    if event_id is not None and event_id != "":
        out["event_id"] = str(event_id)
    source = event.get("action_source")
    out["action_source"] = (
        ACTION_SOURCES.get(source, "OFFLINE") if isinstance(source, str) and source else "WEB"
    )
    url = _text(event.get("event_source_url"))
    if url:
        out["event_source_url"] = url
    out["user_data"] = _user(event)
    custom = _custom(event.get("custom_data"))
    if custom:
        out["custom_data"] = custom
    app = _app(event.get("app_data"))
    if app:
        out["app_data"] = app
    options = event.get("data_processing_options")
    if isinstance(options, list) and (LIMITED_USE in options or "LDU" in options):
        out["data_processing_options"] = [LIMITED_USE]
    if event.get("opt_out") is True:
        out["opt_out"] = True
    if integration:
        out["integration"] = integration
    return out


def _user(event: ServerEvent) -> dict[str, Any]:
    user_data = event.get("user_data")
    if not isinstance(user_data, Mapping):
        user_data = {}
    user: dict[str, Any] = {}
    for key in HASHED_KEYS:
        hashes = _hashes(user_data.get(key))
        if hashes:
            user[key] = hashes
    for key in _PLAIN_KEYS:
        text = _text(user_data.get(key))
        if text:
            user[key] = text
    click = _click_id(event)
    if click:
        user["sc_click_id"] = click
    browser = event.get("_browser_ids")
    cookie = _text(browser.get("scid")) if isinstance(browser, Mapping) else None
    if cookie:
        user["sc_cookie1"] = cookie
    return user


def _click_id(event: ServerEvent) -> str | None:
    clicks = event.get("_click_ids")
    if isinstance(clicks, Mapping):
        own = _text(clicks.get("ScCid"))
        if own:
            return own
    url = event.get("event_source_url")
    if isinstance(url, str) and "ScCid=" in url:
        try:
            found = parse_qs(urlsplit(url).query).get("ScCid")
        except ValueError:
            return None
        if found and found[0].strip():
            return found[0].strip()
    return None


def _custom(custom_data: object) -> dict[str, Any]:
    if not isinstance(custom_data, Mapping):
        return {}
    out: dict[str, Any] = {}
    currency = _text(custom_data.get("currency"))
    if currency:
        out["currency"] = currency.upper()
    value = _number(custom_data.get("value"))
    if value is not None:
        out["value"] = value
    ids = custom_data.get("content_ids")
    if isinstance(ids, list):
        texts = [t for t in (_id(i) for i in ids) if t]
        if texts:
            out["content_ids"] = texts
    contents = custom_data.get("contents")
    brands: list[str] = []
    if isinstance(contents, list):
        items = [c for c in (_content(item, brands) for item in contents) if c]
        if items:
            out["contents"] = items
    content_type = _text(custom_data.get("content_type"))
    if content_type:
        out["content_type"] = content_type
    for key in _TEXT_FIELDS:
        text = _text(custom_data.get(key))
        if text:
            out[key] = text
    num_items = _integer(custom_data.get("num_items"))
    if num_items is not None:
        out["num_items"] = num_items
    order_id = _id(custom_data.get("order_id"))
    if order_id:
        out["order_id"] = order_id
    if brands:
        out["brands"] = ",".join(brands)
    return out


def _content(item: object, brands: list[str]) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        return {}
    out: dict[str, Any] = {}
    content_id = _id(item.get("id"))
    if content_id:
        out["id"] = content_id
    quantity = _integer(item.get("quantity"))
    if quantity is not None:
        out["quantity"] = quantity
    price = _number(item.get("item_price"))
    if price is not None:
        out["item_price"] = price
    category = _text(item.get("delivery_category"))
    if category:
        out["delivery_category"] = category
    brand = _text(item.get("brand"))
    if brand and brand not in brands:
        brands.append(brand)
    return out


def _app(app_data: object) -> dict[str, Any]:
    if not isinstance(app_data, Mapping):
        return {}
    out: dict[str, Any] = {}
    extinfo = app_data.get("extinfo")
    if isinstance(extinfo, list) and extinfo:
        out["extinfo"] = ["" if v is None else str(v) for v in extinfo]
    tracking = app_data.get("advertiser_tracking_enabled")
    if isinstance(tracking, bool) or tracking in (0, 1):
        out["advertiser_tracking_enabled"] = bool(tracking)
    return out


def _hashes(value: object) -> list[str]:
    """A hashed key's values (a string or a list of strings), without blanks or repeats."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, str) and item and item not in out:
            out.append(item)
    return out


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _id(value: object) -> str | None:
    """An id Snap wants as a string: SKUs and order ids sent as numbers are written out."""
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
