"""Canonical events -> the body of ``POST {api_url}/api/v2.0/conversions/events/{account}``.
Pure; snapshot-tested.

Stored events are in Meta's shape, normalized and hashed by Meta's rules; this module maps
them to the Reddit Conversions API v2.0 body::

    {"events": [{"event_at", "event_type": {"tracking_type", "custom_event_name"?},
                 "click_id"?, "event_metadata"?, "user"?}, ...],
     "test_mode": false}

Event names (:data:`TRACKING_TYPES`): Meta's standard names that have a Reddit tracking
type map to it; any other name goes as ``tracking_type: "Custom"`` with the name as
``custom_event_name`` (cut to Reddit's 64 characters).

``user`` (Reddit takes one value per key; the first is sent):

- ``phone_number``: the ``ph.e164`` identity variant only (SHA-256 of ``+`` and the E.164
  digits, Reddit's rule), read with :func:`~signalyard.transforms.identity.variant_hashes`;
  Meta's digits-only hash is never sent;
- ``external_id``: Meta's ``external_id`` hash (trimmed, then hashed: Reddit's rule too);
- ``ip_address``: SHA-256 hex of the stored plaintext ``client_ip_address``, trimmed
  (Reddit hashes the IP address; it is hashed here, at send time, and never stored hashed);
- ``user_agent``: as stored (plain); ``uuid``: the Reddit pixel's ``_rdt_uuid`` cookie
  (``_browser_ids["rdt_uuid"]``, plain);
- ``data_processing_options``: ``{"modes": ["LDU"], "country"?, "region"?}`` when the
  destination's consent action applied Limited Data Use, or the event arrived with Meta's
  ``data_processing_options: ["LDU"]``;
- ``email``: the ``em.reddit`` identity variant (Reddit's rule, for every domain: lowercased,
  the local part cut at its first ``+`` and without any character that is not a letter or a
  digit: ``Al.ice$+Apple@Example.Com`` -> ``alice@example.com``), made from the plaintext at
  ingest; an address that arrived hashed is not sent (Meta's hash keeps the dots, dashes and
  ``+tag``, and a hash does not tell which).
  Names, city, state, zip code, country, date of birth and gender: Reddit has no such keys.

``click_id``: the event's own Reddit click id (``_click_ids["rdt_cid"]``: from the landing
URL's ``rdt_cid``, the browser script or the API's ``click_ids``).

``event_metadata``: ``conversion_id`` (the event's ``event_id``, as it is: the Reddit pixel's
``conversionId`` for deduplication), ``currency`` (upper case), ``value_decimal``,
``item_count`` (``num_items``, else the sum of the contents' quantities), ``products``
(``id``, ``name`` from ``title``, ``category``).

Values of the wrong type are left out rather than sent: Reddit refuses a request whose
field has the wrong type, so one bad optional field would lose the whole batch.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from signalyard.event import ServerEvent
from signalyard.sinks import values
from signalyard.transforms.identity import variant_hashes

__all__ = [
    "CUSTOM",
    "EMAIL_VARIANT",
    "LDU_MODE",
    "MAX_CUSTOM_NAME",
    "PHONE_VARIANT",
    "TRACKING_TYPES",
    "build_body",
    "build_event",
    "conversion_id_of",
    "encode",
    "event_at",
    "event_type",
]

PHONE_VARIANT: Final = "ph.e164"
"""The identity variant Reddit's phone rule needs (``+`` and the E.164 digits, hashed)."""
EMAIL_VARIANT: Final = "em.reddit"
"""The identity variant Reddit's email rule needs."""

CUSTOM: Final = "Custom"
MAX_CUSTOM_NAME: Final = 64
"""Reddit's longest ``custom_event_name``, in characters."""
LDU_MODE: Final = "LDU"

TRACKING_TYPES: Final[dict[str, str]] = {
    "PageView": "PageVisit",
    "ViewContent": "ViewContent",
    "Search": "Search",
    "AddToCart": "AddToCart",
    "AddToWishlist": "AddToWishlist",
    "Purchase": "Purchase",
    "Lead": "Lead",
    "CompleteRegistration": "SignUp",
}
"""Meta's standard event names -> Reddit's ``tracking_type``. Any other name (Meta's
``InitiateCheckout``, ``AddPaymentInfo``, ``Subscribe``, ``Contact``, ``StartTrial``... and
custom names) is sent as ``Custom`` with ``custom_event_name``."""

_META_US_STATES: Final = {
    1000: "CA",
    1001: "CO",
    1002: "CT",
    1003: "FL",
    1004: "OR",
    1005: "TX",
    1006: "MT",
    1007: "DE",
    1008: "NE",
    1009: "NH",
    1010: "NJ",
    1011: "MN",
    1012: "MD",
    1013: "RI",
}
"""Meta's Limited Data Use state codes (an event that arrived with them), as US states."""


def event_type(name: str) -> dict[str, str]:
    """Reddit's ``event_type`` for Meta's event ``name``."""
    tracking = TRACKING_TYPES.get(name)
    if tracking is not None:
        return {"tracking_type": tracking}
    custom = name.strip()[:MAX_CUSTOM_NAME] or "(unnamed)"
    return {"tracking_type": CUSTOM, "custom_event_name": custom}


def event_at(event_time: object) -> str | None:
    """``event_time`` (Unix seconds) as Reddit's RFC 3339 UTC timestamp, or None."""
    if isinstance(event_time, bool) or not isinstance(event_time, int | float):
        return None
    if not math.isfinite(event_time) or event_time < 0:
        return None
    when = datetime.fromtimestamp(float(event_time), UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def conversion_id_of(event: Mapping[str, Any]) -> str | None:
    """The ``conversion_id`` an event is sent with (its ``event_id``), or None."""
    event_id = event.get("event_id")
    if event_id is None or isinstance(event_id, bool) or event_id == "":
        return None
    if isinstance(event_id, int | str):
        return str(event_id).strip() or None
    return None


def build_body(events: Sequence[ServerEvent], *, test_mode: bool) -> bytes:
    """The request body for one batch. Raises ``orjson.JSONEncodeError`` on a value JSON
    lacks."""
    return encode([build_event(e) for e in events], test_mode=test_mode)


def encode(data: list[dict[str, Any]], *, test_mode: bool) -> bytes:
    """The body around events already built with :func:`build_event`."""
    return orjson.dumps({"events": data, "test_mode": test_mode})


def build_event(event: ServerEvent) -> dict[str, Any]:
    """One canonical (stored, consent-applied) event as an element of Reddit's ``events``."""
    out: dict[str, Any] = {}
    at = event_at(event.get("event_time"))
    if at is not None:
        out["event_at"] = at
    out["event_type"] = event_type(str(event.get("event_name") or ""))
    clicks = event.get("_click_ids")
    click_id = values.text(clicks.get("rdt_cid")) if isinstance(clicks, Mapping) else None
    if click_id:
        out["click_id"] = click_id
    values.put(out, "event_metadata", _metadata(event))
    values.put(out, "user", _user(event))
    return out


def _user(event: ServerEvent) -> dict[str, Any]:
    user_data = values.mapping(event.get("user_data"))
    user: dict[str, Any] = {}
    external = _first_hash(user_data.get("external_id"))
    if external:
        user["external_id"] = external
    ip = values.text(user_data.get("client_ip_address"))
    if ip:
        user["ip_address"] = hashlib.sha256(ip.encode()).hexdigest()
    emails, _missing = variant_hashes(event, EMAIL_VARIANT)
    if emails:
        user["email"] = emails[0]
    phones, _missing = variant_hashes(event, PHONE_VARIANT)
    if phones:
        user["phone_number"] = phones[0]
    values.put(user, "user_agent", values.text(user_data.get("client_user_agent")))
    values.put(user, "uuid", values.text(values.mapping(event.get("_browser_ids")).get("rdt_uuid")))
    options = _processing_options(event)
    if options:
        user["data_processing_options"] = options
    return user


def _processing_options(event: ServerEvent) -> dict[str, Any] | None:
    """Reddit's Limited Data Use block, from Meta's ``data_processing_options`` (set by the
    ``ldu`` consent action or sent with the event), with the person's country and region:
    the consent action's region (``_ldu_region``), else the event's consent region, else
    Meta's LDU country and state codes."""
    options = event.get("data_processing_options")
    if not isinstance(options, list) or LDU_MODE not in options:
        return None
    out: dict[str, Any] = {"modes": [LDU_MODE]}
    region = values.text(event.get("_ldu_region"))
    if region is None:
        consent = event.get("_consent")
        region = values.text(consent.get("region")) if isinstance(consent, Mapping) else None
    country, state = _region(region)
    if country is None and event.get("data_processing_options_country") == 1:
        country = "US"
        state_code = event.get("data_processing_options_state")
        state = _META_US_STATES.get(state_code) if isinstance(state_code, int) else None
    if country:
        out["country"] = country
        if state:
            out["region"] = f"{country}-{state}"
    return out


def _region(region: str | None) -> tuple[str | None, str | None]:
    """``"US-CA"`` -> ``("US", "CA")``; ``"DE"`` -> ``("DE", None)``; anything else: None."""
    if not region:
        return None, None
    country, _, state = region.strip().upper().partition("-")
    if len(country) != 2 or not country.isalpha():
        return None, None
    if state and (not state.isalnum() or len(state) > 3):
        state = ""
    return country, state or None


def _metadata(event: ServerEvent) -> dict[str, Any]:
    out: dict[str, Any] = {}
    conversion_id = conversion_id_of(event)
    if conversion_id:
        out["conversion_id"] = conversion_id
    custom_data = event.get("custom_data")
    if not isinstance(custom_data, Mapping):
        return out
    values.put(out, "currency", values.currency(custom_data.get("currency")))
    values.put(out, "value_decimal", values.number(custom_data.get("value")))
    contents = custom_data.get("contents")
    items = contents if isinstance(contents, list) else []
    count = values.integer(custom_data.get("num_items"))
    if count is None:
        quantities = [values.integer(c.get("quantity")) for c in items if isinstance(c, Mapping)]
        if quantities and all(q is not None and q >= 0 for q in quantities):
            count = sum(q for q in quantities if q is not None)
    if count is not None and count >= 0:
        out["item_count"] = count
    products = [p for p in (_product(item) for item in items) if p]
    if products:
        out["products"] = products
    return out


def _product(item: object) -> dict[str, str]:
    if not isinstance(item, Mapping):
        return {}
    out: dict[str, str] = {}
    values.put(out, "id", values.id_text(item.get("id")))
    for ours, theirs in (("title", "name"), ("category", "category")):
        values.put(out, theirs, values.text(item.get(ours)))
    return out


def _first_hash(value: object) -> str | None:
    items = value if isinstance(value, list) else [value]
    return next((item for item in items if isinstance(item, str) and item), None)
