"""Canonical events as the store hands them to the TikTok sink (normalized and hashed, with
Signalyard's own ``_identity``, ``_click_ids`` and ``_consent``), and the TikTok sandbox's own
validator, which every body built in these tests must pass."""

from __future__ import annotations

from typing import Any

import orjson

from signalyard.sandbox.tiktok.validate import CheckedEvent, check_events, check_request
from tests.sinks.canonical import EVENT_TIME as EVENT_TIME
from tests.sinks.canonical import NOW as NOW
from tests.sinks.canonical import device, person
from tests.sinks.canonical import minimal as minimal
from tests.sinks.canonical import sha256 as sha256

# TikTok's rules (reference §3): email lowercased and trimmed; phone +E.164.
EM = sha256("john_smith@gmail.com")
PH_META = sha256("16505551212")  # Meta's rule: the digits only (never sent to TikTok)
PH_TIKTOK = sha256("+16505551212")  # TikTok's rule: E.164 with its +
EXTERNAL_ID = sha256("customer-1042")


def full() -> dict[str, Any]:
    return {
        "_consent": {"state": "granted", "source": "api", "region": "US-CA"},
        "_identity": {"ph.e164": {PH_META: PH_TIKTOK}},
        "_click_ids": {"ttclid": "E.C.P.CvQBi3kxnJv0Example", "gclid": "Cj0KCQ-example"},
        "event_name": "Purchase",
        "event_time": EVENT_TIME,
        "event_id": "order-1001",
        "action_source": "website",
        "event_source_url": "https://shop.example/checkout/thanks",
        "referrer_url": "https://shop.example/checkout",
        "user_data": {
            "em": [EM],
            "ph": [PH_META],
            "external_id": [EXTERNAL_ID],
            **person(),
            **device(),
        },
        "custom_data": {
            "currency": "eur",
            "value": 142.52,
            "content_type": "product",
            "contents": [
                {"id": "SKU-1", "quantity": 2, "item_price": 50.0, "title": "Mug"},
                {"id": 1077218, "quantity": 1, "item_price": 42.52, "brand": "Acme"},
            ],
            "content_ids": ["SKU-1", 1077218],
            "num_items": 3,
            "order_id": 1001,
            "delivery_category": "home_delivery",
        },
        "opt_out": False,
    }


def ldu() -> dict[str, Any]:
    """The full event as the worker sends it under the consent action ``ldu``."""
    event = full()
    event["data_processing_options"] = ["LDU"]
    event["data_processing_options_country"] = 1
    event["data_processing_options_state"] = 1000
    return event


def validate(body: bytes, now: float = NOW) -> list[CheckedEvent]:
    """The TikTok sandbox's own checks of a request body: its request-level rules (raising
    its 40002 error) and each event's rules."""
    request = check_request(orjson.loads(body))
    return check_events(request, now)
