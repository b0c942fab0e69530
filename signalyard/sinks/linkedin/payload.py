"""Canonical events -> the body of ``POST {api_url}/rest/conversionEvents`` (``BATCH_CREATE``).
Pure; snapshot-tested.

Stored events are in Meta's shape, normalized and hashed by Meta's rules; each becomes one
element of LinkedIn's ``{"elements": [...]}`` body::

    {"conversion": "urn:lla:llaPartnerConversion:<rule id>",
     "conversionHappenedAt": <epoch ms>,
     "conversionValue": {"currencyCode": "USD", "amount": "42.5"}?,
     "eventId": "<event_id>"?,
     "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": <hex>},
                          {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID",
                           "idValue": <li_fat_id>}]}}

==========================================  ================================================
stored                                      sent
==========================================  ================================================
(destination option ``conversion_rule_id``) ``conversion``
``event_time`` (seconds)                    ``conversionHappenedAt`` (milliseconds)
``custom_data.currency`` + ``value``        ``conversionValue`` {``currencyCode`` upper case,
                                            ``amount`` a decimal string}; both or neither
``event_id``                                ``eventId`` (LinkedIn deduplicates it against the
                                            Insight Tag's event id)
``user_data.em`` (each hash)                ``userIds[]`` ``SHA256_EMAIL``
``_click_ids.li_fat_id``                    ``userIds[]`` ``LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID``
==========================================  ================================================

``SHA256_EMAIL`` is the SHA-256 hex digest of the trimmed, lowercased address: exactly
Meta's ``em`` rule, so the stored hash is sent as it is (no identity variant is needed).

Not sent: ``user.userInfo`` (first and last name, company, title, country). LinkedIn wants
it in plaintext, and Signalyard stores names and country only hashed (Meta's rules) and has
no company or title: a correct ``userInfo`` cannot be made. Nor the phone, IP address, user
agent, ``external_id`` or Meta's cookies: LinkedIn's ``userIds`` have no type for them.

An element without any user id is refused by LinkedIn; :func:`unsendable` finds it before
sending so the sink refuses that event alone.

Event names (:data:`CONVERSION_TYPES`): a LinkedIn element carries no event name. The rule it
names has a *type* (``PURCHASE``, ``LEAD``...), chosen when the rule is created, and every
event of the destination counts as a conversion of that type. The table says which type to
give the rule for the Meta event the destination carries (docs/destinations/linkedin.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

from signalyard.event import ServerEvent
from signalyard.sinks.linkedin.config import EVENTS_PATH, RULES_PATH, LinkedInConfig

__all__ = [
    "CLICK_ID",
    "CONVERSION_TYPES",
    "EMAIL",
    "build_body",
    "build_element",
    "encode",
    "events_url",
    "rule_url",
    "unsendable",
]

EMAIL: Final = "SHA256_EMAIL"
CLICK_ID: Final = "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID"
MAX_EMAILS: Final = 3
"""Email hashes sent per event (an event rarely has more than one; the cap keeps a list
that arrived long from inflating the element)."""

CONVERSION_TYPES: Final[dict[str, str]] = {
    "AddPaymentInfo": "ADD_BILLING_INFO",
    "AddToCart": "ADD_TO_CART",
    "CompleteRegistration": "COMPLETE_SIGNUP",
    "Contact": "CONTACT",
    "InitiateCheckout": "START_CHECKOUT",
    "Lead": "LEAD",
    "PageView": "KEY_PAGE_VIEW",
    "Purchase": "PURCHASE",
    "Schedule": "BOOK_APPOINTMENT",
    "Search": "SEARCH",
    "StartTrial": "SIGN_UP",
    "SubmitApplication": "SUBMIT_APPLICATION",
    "Subscribe": "SUBSCRIBE",
    "ViewContent": "VIEW_CONTENT",
}
"""Meta's standard event names -> the LinkedIn conversion rule ``type`` to create for them.
Any other name (a custom event): ``OTHER``."""


def conversion_type(event_name: str) -> str:
    """The LinkedIn rule type for Meta's event ``event_name`` (``OTHER`` if none)."""
    return CONVERSION_TYPES.get(event_name, "OTHER")


def events_url(config: LinkedInConfig) -> str:
    """``{api_url}/rest/conversionEvents``."""
    return config.api_url.rstrip("/") + EVENTS_PATH


def rule_url(config: LinkedInConfig) -> str:
    """``{api_url}/rest/conversions/{conversion_rule_id}`` (the pre-flight read)."""
    return f"{config.api_url.rstrip('/')}{RULES_PATH}/{config.conversion_rule_id}"


def build_body(events: Sequence[ServerEvent], *, conversion_urn: str) -> bytes:
    """The ``BATCH_CREATE`` body for one batch. Raises ``orjson.JSONEncodeError`` on a value
    JSON lacks."""
    return encode([build_element(e, conversion_urn=conversion_urn) for e in events])


def encode(elements: list[dict[str, Any]]) -> bytes:
    """The body around elements already built with :func:`build_element`."""
    return orjson.dumps({"elements": elements})


def build_element(event: ServerEvent, *, conversion_urn: str) -> dict[str, Any]:
    """One canonical (stored, consent-applied) event as a LinkedIn conversion event."""
    out: dict[str, Any] = {"conversion": conversion_urn}
    event_time = event.get("event_time")
    if (
        isinstance(event_time, int | float)
        and not isinstance(event_time, bool)
        and math.isfinite(event_time)
    ):
        out["conversionHappenedAt"] = round(event_time * 1000)
    value = _value(event.get("custom_data"))
    if value is not None:
        out["conversionValue"] = value
    event_id = event.get("event_id")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    if isinstance(event_id, str) and event_id.strip():
        out["eventId"] = event_id.strip()
    out["user"] = {"userIds": _user_ids(event)}
    return out


def unsendable(element: Mapping[str, Any]) -> str | None:
    """Why LinkedIn would refuse this built element for good, found before sending; else
    None."""
    user = element.get("user")
    ids = user.get("userIds") if isinstance(user, Mapping) else None
    if not ids:
        return (
            "no user id LinkedIn can use: neither an email (SHA256_EMAIL) nor a LinkedIn"
            " click id (li_fat_id); LinkedIn requires at least one user id"
        )
    if "conversionHappenedAt" not in element:
        return "the event has no event_time (conversionHappenedAt is required)"
    return None


def _user_ids(event: ServerEvent) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    user_data = event.get("user_data")
    emails = user_data.get("em") if isinstance(user_data, Mapping) else None
    items = emails if isinstance(emails, list) else [emails]
    seen: set[str] = set()
    for item in items:
        if (
            isinstance(item, str)
            and len(item) == 64
            and item not in seen
            and len(seen) < MAX_EMAILS
        ):
            seen.add(item)
            out.append({"idType": EMAIL, "idValue": item.lower()})
    clicks = event.get("_click_ids")
    click = clicks.get("li_fat_id") if isinstance(clicks, Mapping) else None
    if isinstance(click, str) and click.strip():
        out.append({"idType": CLICK_ID, "idValue": click.strip()})
    return out


def _value(custom_data: object) -> dict[str, str] | None:
    """``conversionValue`` when the event has both a currency and a value (LinkedIn wants
    both), the amount as a decimal string ("42.5", "50.0")."""
    if not isinstance(custom_data, Mapping):
        return None
    currency = custom_data.get("currency")
    if not isinstance(currency, str) or len(currency.strip()) != 3:
        return None
    amount = _amount(custom_data.get("value"))
    if amount is None:
        return None
    return {"currencyCode": currency.strip().upper(), "amount": amount}


def _amount(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0:
        return None
    text = format(number, "f")
    return text if "." in text else text + ".0"
