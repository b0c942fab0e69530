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

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from signalyard.event import ServerEvent
from signalyard.sinks import values
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
    event_time = values.event_seconds(event)
    if event_time is not None:
        out["event_time"] = event_time
    event_id = values.event_id(event)
    if event_id is not None:
        out["event_id"] = event_id
    source = event.get("action_source")
    out["action_source"] = (
        ACTION_SOURCES.get(source, "OFFLINE") if isinstance(source, str) and source else "WEB"
    )
    values.put(out, "event_source_url", values.text(event.get("event_source_url")))
    out["user_data"] = _user(event)
    values.put(out, "custom_data", _custom(event.get("custom_data")))
    values.put(out, "app_data", _app(event.get("app_data")))
    options = event.get("data_processing_options")
    if isinstance(options, list) and (LIMITED_USE in options or "LDU" in options):
        out["data_processing_options"] = [LIMITED_USE]
    if event.get("opt_out") is True:
        out["opt_out"] = True
    if integration:
        out["integration"] = integration
    return out


def _user(event: ServerEvent) -> dict[str, Any]:
    user_data = values.mapping(event.get("user_data"))
    user: dict[str, Any] = {}
    for key in HASHED_KEYS:
        hashes = values.hashes(user_data.get(key))
        if hashes:
            user[key] = hashes
    for key in _PLAIN_KEYS:
        text = values.text(user_data.get(key))
        if text:
            user[key] = text
    values.put(user, "sc_click_id", values.click_id(event, "ScCid"))
    values.put(
        user, "sc_cookie1", values.text(values.mapping(event.get("_browser_ids")).get("scid"))
    )
    return user


def _custom(custom_data: object) -> dict[str, Any]:
    if not isinstance(custom_data, Mapping):
        return {}
    out: dict[str, Any] = {}
    values.put(out, "currency", values.currency(custom_data.get("currency")))
    values.put(out, "value", values.number(custom_data.get("value")))
    values.put(out, "content_ids", values.id_list(custom_data.get("content_ids")))
    contents = custom_data.get("contents")
    brands: list[str] = []
    if isinstance(contents, list):
        items = [c for c in (_content(item, brands) for item in contents) if c]
        if items:
            out["contents"] = items
    values.put(out, "content_type", values.text(custom_data.get("content_type")))
    for key in _TEXT_FIELDS:
        values.put(out, key, values.text(custom_data.get(key)))
    values.put(out, "num_items", values.integer(custom_data.get("num_items")))
    values.put(out, "order_id", values.id_text(custom_data.get("order_id")))
    if brands:
        out["brands"] = ",".join(brands)
    return out


def _content(item: object, brands: list[str]) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        return {}
    out: dict[str, Any] = {}
    values.put(out, "id", values.id_text(item.get("id")))
    values.put(out, "quantity", values.integer(item.get("quantity")))
    values.put(out, "item_price", values.number(item.get("item_price")))
    values.put(out, "delivery_category", values.text(item.get("delivery_category")))
    brand = values.text(item.get("brand"))
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
