"""Canonical events as the store hands them to the Snapchat sink (normalized and hashed by
Meta's rules, with Signalyard's own ``_click_ids``, ``_browser_ids`` and ``_consent``), and
the Snapchat sandbox's own validator, which every body built in these tests must pass."""

from __future__ import annotations

from typing import Any

import orjson

from signalyard.sandbox.snapchat.validate import CheckedEvent, check_events, check_request
from tests.sinks.canonical import EVENT_TIME as EVENT_TIME
from tests.sinks.canonical import NOW as NOW
from tests.sinks.canonical import device, person
from tests.sinks.canonical import minimal as minimal
from tests.sinks.canonical import sha256 as sha256

# Snap's rules (Parameters page): email trimmed and lowercased; phone digits with the
# country code, no "+".
EM = sha256("john_smith@gmail.com")
PH = sha256("16505551212")
EXTERNAL_ID = sha256("customer-1042")


def full() -> dict[str, Any]:
    return {
        "_consent": {"state": "granted", "source": "api", "region": "US-CA"},
        "_identity": {"ph.e164": {PH: sha256("+16505551212")}},
        "_click_ids": {"ScCid": "7a3c1e0b-5d2f-4b8a-9c6e-1f0d2e3a4b5c", "gclid": "Cj0-example"},
        "_browser_ids": {"scid": "c3a1e2d4-0b5f-4e6a-8d7c-9f1e2a3b4c5d", "ttp": "ttp-x"},
        "event_name": "Purchase",
        "event_time": EVENT_TIME,
        "event_id": "order-1001",
        "action_source": "website",
        "event_source_url": "https://shop.example/checkout/thanks",
        "user_data": {
            "em": [EM],
            "ph": [PH],
            "external_id": [EXTERNAL_ID],
            **person(),
            "ge": [sha256("m")],
            "db": [sha256("19800101")],
            **device(),
        },
        "custom_data": {
            "currency": "eur",
            "value": 142.52,
            "content_type": "product",
            "contents": [
                {"id": "SKU-1", "quantity": 2, "item_price": 50.0, "brand": "Acme"},
                {"id": 1077218, "quantity": 1, "item_price": 42.52, "brand": "Bolt"},
            ],
            "content_ids": ["SKU-1", 1077218],
            "num_items": 3,
            "order_id": 1001,
        },
    }


def app_event() -> dict[str, Any]:
    return {
        "event_name": "CompleteRegistration",
        "event_time": EVENT_TIME,
        "event_id": "signup-7",
        "action_source": "app",
        "app_data": {
            "advertiser_tracking_enabled": 1,
            "extinfo": [
                "a2",
                "com.shop.app",
                "771",
                "7.7.1",
                "14",
                "Pixel8",
                "en_US",
                "UTC",
                "",
                "1920",
                "1080",
                "2.0",
                "8",
                "128",
                "8",
                "Europe/Paris",
            ],
        },
        "user_data": {"em": [EM]},
    }


def validate(body: bytes, now: float = NOW) -> list[CheckedEvent]:
    """The Snapchat sandbox's own checks of a request body."""
    return check_events(check_request(orjson.loads(body)), now)
