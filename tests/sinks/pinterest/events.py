"""Canonical events as the store hands them to the Pinterest sink (normalized and hashed by
Meta's rules, with Signalyard's own ``_click_ids`` and ``_consent``), and the Pinterest
sandbox's own validator, which every body built in these tests must pass."""

from __future__ import annotations

from typing import Any

import orjson

from signalyard.sandbox.pinterest.validate import CheckedEvent, check_events, check_request
from tests.sinks.canonical import device, person
from tests.sinks.canonical import sha256 as sha256

EVENT_TIME = 1_799_999_400  # ten minutes before NOW
NOW = 1_800_000_000.0


EM = sha256("john_smith@gmail.com")
PH = sha256("16505551212")  # digits with the country code: Meta's rule and Pinterest's
EXTERNAL_ID = sha256("customer-1042")
ST_OUTSIDE_US = sha256("îledefrance")  # Meta keeps a French region's name: not Pinterest's rule


def minimal() -> dict[str, Any]:
    return {
        "event_name": "PageView",
        "event_time": EVENT_TIME,
        "event_id": "pv-1",
        "action_source": "website",
        "event_source_url": "https://shop.example/",
        "user_data": {
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        },
    }


def full() -> dict[str, Any]:
    return {
        "_consent": {"state": "granted", "source": "api", "region": "US-CA"},
        "_click_ids": {"epik": "dj0yJnU9Example", "gclid": "Cj0KCQ-example"},
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
            "st": [sha256("ca"), ST_OUTSIDE_US],
            "db": [sha256("19900214")],
            "ge": [sha256("m")],
            **device(),
        },
        "custom_data": {
            "currency": "eur",
            "value": 142.52,
            "contents": [
                {"id": "SKU-1", "quantity": 2, "item_price": 50.0, "title": "Mug"},
                {"id": 1077218, "quantity": 1, "item_price": 42.52},
            ],
            "content_ids": ["SKU-1", 1077218],
            "content_name": "Mugs",
            "num_items": 3,
            "order_id": 1001,
            "delivery_category": "home_delivery",
        },
        "opt_out": False,
    }


def validate(body: bytes, now: float = NOW) -> list[CheckedEvent]:
    """The Pinterest sandbox's own checks of a request body: its request-level rules
    (raising its 400 error) and each event's rules."""
    return check_events(check_request(orjson.loads(body)), now)
