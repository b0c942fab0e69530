"""Canonical events -> the body of ``POST {api_url}/v5/ad_accounts/{id}/events``. Pure;
snapshot-tested.

Stored events are in Meta's shape, normalized and hashed by Meta's rules; this module maps
them to Pinterest's Conversions API body (``{"data": [event, ...]}``)::

    {"event_name", "action_source", "event_time", "event_id", "event_source_url"?,
     "opt_out"?, "user_data": {...}, "custom_data": {...}?}

Event names (:data:`EVENT_NAMES`): Meta's standard names map to Pinterest's; any other name (a
custom event, and Meta's ``Donate``) is sent as ``custom``: Pinterest takes no other name, and
the event's own name is lost there. ``ViewContent`` goes as ``page_visit`` (the event the
Pinterest tag sends for a product page, so that deduplication with the tag works), like
``PageView``.

``action_source``: Meta's ``website`` is ``web``; ``app`` is ``app_ios`` or ``app_android``
when ``app_data.extinfo`` names the platform (``i2``, ``a2``), else ``offline``; every other
source (``physical_store``, ``phone_call``, ``email``, ``chat``, ``system_generated``,
``other``...) is ``offline``.

``user_data`` (arrays of SHA-256 hex, checked against Pinterest's documented rules):

- ``em`` (trimmed, lowercased), ``ph`` (digits with the country code), ``fn``, ``ln``
  (lowercased), ``ct`` (lowercased, no spaces or punctuation), ``zp``, ``db`` (YYYYMMDD),
  ``external_id``: Meta's hashes, whose rules give the value Pinterest documents;
- ``st`` and ``country``: only hashes of a two-letter lowercase code (Pinterest's rule).
  Meta's rule keeps a region outside the US and Canada as its name (``îledefrance``): its
  hash is not of a two-letter code and is left out;
- ``ge``: only the hashes of ``f``, ``m`` or ``n``;
- a value that is not a SHA-256 hex digest (it arrived hashed another way) is left out;
- plain: ``client_ip_address``, ``client_user_agent``, ``click_id`` (the ``_epik`` cookie or
  the ``epik`` URL parameter: ``_click_ids["epik"]``, else ``epik`` in ``event_source_url``);
- not sent: ``hashed_maids`` (Signalyard keeps no mobile advertising ids), ``partner_id``
  (a third-party partner's own visitor id: Signalyard has none), Meta's ``fbp``/``fbc``.

``custom_data``: ``currency`` (upper case), ``value`` (a **string**, as Pinterest wants it),
``content_ids``, ``contents`` (``id``, ``item_price`` as a string, ``quantity``),
``content_name``, ``content_category``, ``num_items``, ``order_id``, ``search_string``, and
``opt_out_type: "LDP"`` (Pinterest's Limited Data Processing flag) when the event carries
Meta's ``data_processing_options: ["LDU"]``. ``opt_out: true`` when the event says
``opt_out`` (Meta's field; the ``no_pii`` consent action sets it too).

Values of the wrong type are left out rather than sent: one bad optional field must not
lose the event.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from string import ascii_lowercase
from typing import Any, Final

import orjson

from signalyard.event import ServerEvent
from signalyard.sinks import values
from signalyard.sinks.pinterest.config import PinterestConfig, events_path

__all__ = [
    "EVENT_NAMES",
    "HASHED_KEYS",
    "action_source",
    "build_event",
    "encode",
    "event_name",
    "events_url",
]

EVENT_NAMES: Final[dict[str, str]] = {
    "AddPaymentInfo": "add_payment_info",
    "AddToCart": "add_to_cart",
    "AddToWishlist": "add_to_wishlist",
    "CompleteRegistration": "signup",
    "Contact": "contact",
    "CustomizeProduct": "customize_product",
    "FindLocation": "find_location",
    "InitiateCheckout": "initiate_checkout",
    "Lead": "lead",
    "PageView": "page_visit",
    "Purchase": "checkout",
    "Schedule": "schedule",
    "Search": "search",
    "StartTrial": "start_trial",
    "SubmitApplication": "submit_application",
    "Subscribe": "subscribe",
    "ViewContent": "page_visit",
}
"""Meta's standard event names -> Pinterest's. Any other name is sent as ``custom``."""
CUSTOM: Final = "custom"

HASHED_KEYS: Final = ("em", "ph", "ge", "db", "ln", "fn", "ct", "st", "zp", "country")
"""The hashed ``user_data`` keys sent (with ``external_id``), in Pinterest's order."""

_OFFLINE: Final = "offline"
_APP_PLATFORMS: Final = {"i2": "app_ios", "a2": "app_android"}
_SHA256: Final = re.compile(r"[0-9a-f]{64}")


def _digests(values: Sequence[str]) -> frozenset[str]:
    return frozenset(hashlib.sha256(v.encode()).hexdigest() for v in values)


TWO_LETTER_HASHES: Final = _digests([a + b for a in ascii_lowercase for b in ascii_lowercase])
"""The SHA-256 of every two-letter lowercase code: what Pinterest's ``st`` and ``country``
must be the hash of."""
GENDER_HASHES: Final = _digests(["f", "m", "n"])
_ONLY: Final[dict[str, frozenset[str]]] = {
    "st": TWO_LETTER_HASHES,
    "country": TWO_LETTER_HASHES,
    "ge": GENDER_HASHES,
}


def events_url(config: PinterestConfig, *, test: bool) -> str:
    """``{api_url}/v5/ad_accounts/{ad_account_id}/events``, with ``?test=true`` in test
    mode."""
    url = config.api_url.rstrip("/") + events_path(config.ad_account_id)
    return url + "?test=true" if test else url


def event_name(name: str) -> str:
    """Pinterest's name for Meta's event ``name`` (``custom`` for any other)."""
    return EVENT_NAMES.get(name, CUSTOM)


def action_source(event: ServerEvent) -> str:
    """Pinterest's ``action_source`` for the event's (Meta's) one."""
    source = event.get("action_source")
    if source is None or source == "website":
        return "web"
    if source == "app":
        app_data = event.get("app_data")
        extinfo = app_data.get("extinfo") if isinstance(app_data, Mapping) else None
        if isinstance(extinfo, list) and extinfo and isinstance(extinfo[0], str):
            return _APP_PLATFORMS.get(extinfo[0], _OFFLINE)
    return _OFFLINE


def encode(data: list[dict[str, Any]]) -> bytes:
    """The request body around events built with :func:`build_event`. Raises
    ``orjson.JSONEncodeError`` on a value JSON lacks."""
    return orjson.dumps({"data": data})


def build_event(event: ServerEvent) -> dict[str, Any]:
    """One canonical (stored, consent-applied) event as an element of Pinterest's ``data``."""
    out: dict[str, Any] = {
        "event_name": event_name(str(event.get("event_name") or "")),
        "action_source": action_source(event),
    }
    event_time = values.event_seconds(event)
    if event_time is not None:
        out["event_time"] = event_time
    event_id = values.event_id(event)
    if event_id is not None:
        out["event_id"] = event_id
    values.put(out, "event_source_url", values.text(event.get("event_source_url")))
    if event.get("opt_out") is True:
        out["opt_out"] = True
    out["user_data"] = _user_data(event)
    custom = _custom_data(event.get("custom_data"))
    if values.limited_data_use(event):
        custom["opt_out_type"] = "LDP"
    if custom:
        out["custom_data"] = custom
    return out


def _user_data(event: ServerEvent) -> dict[str, Any]:
    user_data = values.mapping(event.get("user_data"))
    out: dict[str, Any] = {}
    for key in (*HASHED_KEYS, "external_id"):
        digests = _hashes(user_data.get(key), _ONLY.get(key))
        if digests:
            out[key] = digests
    for key in ("client_ip_address", "client_user_agent"):
        values.put(out, key, values.text(user_data.get(key)))
    values.put(out, "click_id", values.click_id(event, "epik"))
    return out


def _hashes(value: object, only: frozenset[str] | None) -> list[str]:
    """A hashed key's SHA-256 values (a string or a list), without repeats; with ``only``,
    just those in it."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            continue
        digest = item.lower()
        if not _SHA256.fullmatch(digest) or digest in out:
            continue
        if only is None or digest in only:
            out.append(digest)
    return out


def _custom_data(custom_data: object) -> dict[str, Any]:
    if not isinstance(custom_data, Mapping):
        return {}
    out: dict[str, Any] = {}
    values.put(out, "currency", values.currency(custom_data.get("currency")))
    values.put(out, "value", _decimal(custom_data.get("value")))
    values.put(out, "content_ids", values.id_list(custom_data.get("content_ids")))
    for key in ("content_name", "content_category"):
        text = values.text(custom_data.get(key))
        if text:
            out[key] = text
    values.put(out, "contents", values.each(custom_data.get("contents"), _content))
    values.put(out, "num_items", values.integer(custom_data.get("num_items")))
    values.put(out, "order_id", values.id_text(custom_data.get("order_id")))
    values.put(out, "search_string", values.text(custom_data.get("search_string")))
    return out


def _content(item: object) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        return {}
    out: dict[str, Any] = {}
    values.put(out, "id", values.id_text(item.get("id")))
    values.put(out, "item_price", _decimal(item.get("item_price")))
    values.put(out, "quantity", values.integer(item.get("quantity")))
    return out


def _decimal(value: object) -> str | None:
    """A number as the decimal string Pinterest wants (``"42.5"``; never an exponent)."""
    number = values.number(value)
    if number is None:
        return None
    if isinstance(number, int):
        return str(number)
    text = format(Decimal(repr(number)), "f")
    return text[:-2] if text.endswith(".0") else text
