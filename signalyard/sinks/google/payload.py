"""Canonical events -> the body of ``POST {api_url}/v1/events:ingest``. Pure; snapshot-tested.

The canonical event is Meta's server event as stored (normalized, hashed by Meta's rules,
with Signalyard's own ``_`` fields). The Data Manager ``IngestEventsRequest`` is built from it:

==========================================  ================================================
stored                                      sent
==========================================  ================================================
(destination)                               ``destinations[0]``: ``operatingAccount``
                                            {GOOGLE_ADS, id}, ``loginAccount``?,
                                            ``productDestinationId`` (conversion action)
``event_id``                                ``transactionId`` (Google deduplicates on it)
``event_time``                              ``eventTimestamp`` (RFC 3339, UTC)
(option ``event_source``)                   ``eventSource``
``user_data.em`` via variant ``em.gmail``   ``userIdentifiers[].emailAddress``
``user_data.ph`` via variant ``ph.e164``    ``userIdentifiers[].phoneNumber``
``_click_ids`` gclid, else wbraid, gbraid   ``adIdentifiers.gclid`` / ``wbraid`` / ``gbraid``
``client_user_agent``, ``client_ip_address``  ``eventDeviceInfo.userAgent`` / ``ipAddress``
``_consent.state`` granted / denied         ``consent.adUserData`` and ``adPersonalization``
                                            CONSENT_GRANTED / CONSENT_DENIED (else unset)
``custom_data.currency``, ``value``         ``currency``, ``conversionValue``
``custom_data.contents[]``                  ``cartData.items[]`` {merchantProductId,
                                            quantity, unitPrice}
==========================================  ================================================

Hashes are sent as Google's rules make them, never Meta's where they differ: an email only
through the ``em.gmail`` variant (Google drops dots and ``+suffix`` in gmail.com and
googlemail.com local parts; for any other address the variant *is* the base hash), a phone
only through ``ph.e164`` (``+`` and the E.164 digits; Meta hashes the digits alone). A value
without its variant (it arrived hashed, or no Google destination existed when the event was
received) is left out. At most 10 identifiers: emails first, then phones.

Left out on purpose: the address identifier. Google wants ``postalCode`` and ``regionCode``
in plaintext, and Signalyard stores ``zp`` and ``country`` only hashed (Meta's rules), so a
correct address cannot be made. Also left out: ``external_id``, ``fbc``/``fbp`` (Meta's).

The IP address and user agent are those of the event's own request, so they go to
``eventDeviceInfo`` (the device "when the event happened"), not to
``adIdentifiers.landingPageDeviceInfo`` (the device that landed on the site after the click),
which Signalyard does not know.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from signalyard.event import ServerEvent
from signalyard.sinks.google.config import MAX_USER_IDENTIFIERS
from signalyard.transforms.identity import variant_hashes

__all__ = [
    "CLICK_ID_ORDER",
    "build_body",
    "build_request",
    "event_timestamp",
    "google_event",
    "unsendable",
]

CLICK_ID_ORDER = ("gclid", "wbraid", "gbraid")
"""The click id sent when an event has several (Google Ads takes one of them)."""
CONSENT = {"granted": "CONSENT_GRANTED", "denied": "CONSENT_DENIED"}


def build_request(
    events: Sequence[ServerEvent],
    *,
    operating_account_id: str,
    conversion_action_id: str,
    login_account_id: str | None,
    event_source: str,
    validate_only: bool,
) -> dict[str, Any]:
    """The ``IngestEventsRequest`` for one batch, as a JSON-ready mapping."""
    destination: dict[str, Any] = {
        "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": operating_account_id},
    }
    if login_account_id:
        destination["loginAccount"] = {"accountType": "GOOGLE_ADS", "accountId": login_account_id}
    destination["productDestinationId"] = conversion_action_id
    body: dict[str, Any] = {
        "destinations": [destination],
        "encoding": "HEX",
        "events": [google_event(event, event_source=event_source) for event in events],
    }
    if validate_only:
        body["validateOnly"] = True
    return body


def build_body(events: Sequence[ServerEvent], **request: Any) -> bytes:
    """:func:`build_request` as compact JSON. Raises ``orjson.JSONEncodeError``."""
    return orjson.dumps(build_request(events, **request))


def event_timestamp(event_time: float) -> str:
    """RFC 3339 in UTC, with milliseconds when the time has a fraction."""
    whole = math.floor(event_time)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    millis = round((event_time - whole) * 1000)
    return f"{stamp}.{millis:03d}Z" if 0 < millis < 1000 else f"{stamp}Z"


def google_event(event: ServerEvent, *, event_source: str) -> dict[str, Any]:
    """One ``Event``."""
    out: dict[str, Any] = {}
    event_id = event.get("event_id")
    if isinstance(event_id, str) and event_id:
        out["transactionId"] = event_id
    event_time = event.get("event_time")
    if isinstance(event_time, int | float) and not isinstance(event_time, bool):
        out["eventTimestamp"] = event_timestamp(float(event_time))
    out["eventSource"] = event_source
    identifiers = _user_identifiers(event)
    if identifiers:
        out["userData"] = {"userIdentifiers": identifiers}
    ad_ids = _ad_identifiers(event)
    if ad_ids:
        out["adIdentifiers"] = ad_ids
    device = _device(event)
    if device:
        out["eventDeviceInfo"] = device
    consent = _consent(event)
    if consent:
        out["consent"] = consent
    custom = event.get("custom_data")
    if isinstance(custom, Mapping):
        currency = custom.get("currency")
        if isinstance(currency, str) and currency:
            out["currency"] = currency.upper()
        value = custom.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out["conversionValue"] = float(value)
        items = _items(custom.get("contents"))
        if items:
            out["cartData"] = {"items": items}
    return out


def unsendable(google: Mapping[str, Any]) -> str | None:
    """Why Google would refuse this built event for good, found before sending; else None.
    (Google refuses the whole request for it: ``NO_IDENTIFIERS_PROVIDED``.)"""
    if "userData" not in google and "adIdentifiers" not in google:
        return (
            "no identifier Google can use: no email or phone hashed by Google's rules (a value"
            " that arrived hashed cannot be), and no gclid, gbraid or wbraid"
            " (NO_IDENTIFIERS_PROVIDED)"
        )
    if "eventTimestamp" not in google:
        return "the event has no event_time (eventTimestamp is required)"
    return None


def _user_identifiers(event: ServerEvent) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    emails, _ = variant_hashes(event, "em.gmail")
    phones, _ = variant_hashes(event, "ph.e164")
    for value in emails:
        out.append({"emailAddress": value})
    for value in phones:
        out.append({"phoneNumber": value})
    return out[:MAX_USER_IDENTIFIERS]


def _ad_identifiers(event: ServerEvent) -> dict[str, str]:
    clicks = event.get("_click_ids")
    if not isinstance(clicks, Mapping):
        return {}
    for kind in CLICK_ID_ORDER:
        value = clicks.get(kind)
        if isinstance(value, str) and value:
            return {kind: value}
    return {}


def _device(event: ServerEvent) -> dict[str, str]:
    user_data = event.get("user_data")
    if not isinstance(user_data, Mapping):
        return {}
    out: dict[str, str] = {}
    agent = user_data.get("client_user_agent")
    if isinstance(agent, str) and agent:
        out["userAgent"] = agent
    address = user_data.get("client_ip_address")
    if isinstance(address, str) and address:
        out["ipAddress"] = address
    return out


def _consent(event: ServerEvent) -> dict[str, str]:
    stored = event.get("_consent")
    state = stored.get("state") if isinstance(stored, Mapping) else None
    status = CONSENT.get(state) if isinstance(state, str) else None
    if status is None:
        return {}
    return {"adUserData": status, "adPersonalization": status}


def _items(contents: object) -> list[dict[str, Any]]:
    if not isinstance(contents, list):
        return []
    out: list[dict[str, Any]] = []
    for content in contents:
        if not isinstance(content, Mapping):
            continue
        item: dict[str, Any] = {}
        product = content.get("id")
        if isinstance(product, str | int) and not isinstance(product, bool) and str(product):
            item["merchantProductId"] = str(product)
        quantity = content.get("quantity")
        if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity >= 0:
            item["quantity"] = quantity
        price = content.get("item_price")
        if isinstance(price, int | float) and not isinstance(price, bool) and math.isfinite(price):
            item["unitPrice"] = float(price)
        if item:
            out.append(item)
    return out
