"""Canonical events as the store hands them to the GA4 sink (normalized and hashed by Meta's
rules, with Signalyard's own ``_identity``, ``_browser_ids`` and ``_consent``), and the GA4
sandbox's own validator, which every body built in these tests must pass."""

from __future__ import annotations

from typing import Any

import orjson

from signalyard.sandbox.ga4.validate import CheckedRequest, check_request
from tests.sinks.canonical import EVENT_TIME as EVENT_TIME
from tests.sinks.canonical import NOW as NOW
from tests.sinks.canonical import sha256 as sha256

MEASUREMENT_ID = "G-TEST12345"
GA_COOKIE = "GA1.1.1234567890.1799990000"
CLIENT_ID = "1234567890.1799990000"


# Meta's rule vs Google's: a gmail address with dots; a phone with and without its +.
EM_META = sha256("john.smith@gmail.com")
EM_GOOGLE = sha256("johnsmith@gmail.com")
EM_OTHER = sha256("jane@example.com")  # not gmail: both rules agree (no variant entry)
PH_META = sha256("16505551212")
PH_GOOGLE = sha256("+16505551212")


def minimal() -> dict[str, Any]:
    return {
        "event_name": "PageView",
        "event_time": EVENT_TIME,
        "event_id": "pv-1",
        "action_source": "website",
        "event_source_url": "https://shop.example/",
        "_browser_ids": {"ga": GA_COOKIE},
        "user_data": {"client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)"},
    }


def full() -> dict[str, Any]:
    return {
        "_consent": {"state": "granted", "source": "api", "region": "US-CA"},
        "_identity": {"em.gmail": {EM_META: EM_GOOGLE}, "ph.e164": {PH_META: PH_GOOGLE}},
        "_browser_ids": {"ga": GA_COOKIE, "ttp": "ttp-cookie"},
        "_click_ids": {"gclid": "Cj0KCQ-example"},
        "event_name": "Purchase",
        "event_time": EVENT_TIME,
        "event_id": "evt-1001",
        "action_source": "website",
        "event_source_url": "https://shop.example/checkout/thanks",
        "referrer_url": "https://shop.example/checkout",
        "user_data": {
            "em": [EM_META, EM_OTHER],
            "ph": [PH_META],
            "external_id": [sha256("customer-1042")],
            "fn": [sha256("john")],
            "ln": [sha256("smith")],
            "zp": [sha256("94025")],
            "country": [sha256("us")],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)",
            "fbc": "fb.1.1799990000000.IwAR2xExampleClickId",
            "fbp": "fb.1.1799980000000.1234567890",
        },
        "custom_data": {
            "currency": "eur",
            "value": 142.52,
            "contents": [
                {"id": "SKU-1", "quantity": 2, "item_price": 50.0, "title": "Mug"},
                {"id": 1077218, "quantity": 1, "item_price": 42.52, "brand": "Acme"},
                {"quantity": 1},  # neither id nor title: GA4 needs one, left out
            ],
            "order_id": 1001,
        },
    }


def validate(body: bytes, now: float = NOW) -> CheckedRequest:
    """The GA4 sandbox's own checks of a request body."""
    return check_request(orjson.loads(body), measurement_id=MEASUREMENT_ID, size=len(body), now=now)
