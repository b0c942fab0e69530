"""Canonical events as the store hands them to the LinkedIn sink (normalized and hashed, with
Signalyard's own ``_click_ids`` and ``_consent``), and the LinkedIn sandbox's own validator,
which every body built in these tests must pass."""

from __future__ import annotations

from typing import Any

import orjson

from signalyard.sandbox.linkedin.validate import Checked, check_meaning, check_shape
from tests.sinks.canonical import EVENT_TIME as EVENT_TIME
from tests.sinks.canonical import NOW as NOW
from tests.sinks.canonical import sha256 as sha256

RULE_URN = "urn:lla:llaPartnerConversion:104012"
LI_FAT_ID = "df5gf5-gh6t7-ph4j7h-fgf6n1"


EM = sha256("john_smith@gmail.com")


def minimal() -> dict[str, Any]:
    """A Lead with only a LinkedIn click id."""
    return {
        "event_name": "Lead",
        "event_time": EVENT_TIME,
        "action_source": "website",
        "event_source_url": "https://shop.example/contact",
        "_click_ids": {"li_fat_id": LI_FAT_ID},
        "user_data": {"client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)"},
    }


def full() -> dict[str, Any]:
    return {
        "_consent": {"state": "granted", "source": "api", "region": "US-CA"},
        "_identity": {"ph.e164": {sha256("16505551212"): sha256("+16505551212")}},
        "_click_ids": {"li_fat_id": LI_FAT_ID, "gclid": "Cj0KCQ-example"},
        "_browser_ids": {"ttp": "2cFzPqv0xKo8w3qYzdLnJbqXtSe"},
        "event_name": "Purchase",
        "event_time": EVENT_TIME,
        "event_id": "order-1001",
        "action_source": "website",
        "event_source_url": "https://shop.example/checkout/thanks",
        "user_data": {
            "em": [EM, sha256("j.smith@work.example")],
            "ph": [sha256("16505551212")],
            "external_id": [sha256("customer-1042")],
            "fn": [sha256("john")],
            "ln": [sha256("smith")],
            "country": [sha256("us")],
            "client_ip_address": "2001:db8::7",
            "client_user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)",
            "fbp": "fb.1.1799980000000.1234567890",
        },
        "custom_data": {
            "currency": "eur",
            "value": 142.52,
            "contents": [{"id": "SKU-1", "quantity": 2, "item_price": 50.0}],
            "order_id": 1001,
        },
    }


def validate(body: bytes, now: float = NOW) -> list[Checked]:
    """The LinkedIn sandbox's own checks of a BATCH_CREATE body: each element's shape
    (raising its 400 error) and meaning."""
    elements = orjson.loads(body)["elements"]
    return [check_meaning(check_shape(e, i, f"/elements/{i}"), now) for i, e in enumerate(elements)]
