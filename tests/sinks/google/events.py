"""Canonical stored events (Meta's shape, hashed by Meta's rules, with Signalyard's own
``_`` fields) for the Google sink's tests. Hashes are computed here from the documented
normalized strings, not by Signalyard's code."""

from __future__ import annotations

from typing import Any

from tests.sinks.canonical import sha256 as sha256

NOW = 1_800_000_000.0


# Meta's base hashes and Google's variants of the same values.
EM_GMAIL_BASE = sha256("jane.doe+shop@gmail.com")
EM_GMAIL_GOOGLE = sha256("janedoe@gmail.com")
EM_OTHER = sha256("jane@example.com")  # not gmail: the variant is the base hash
PH_META = sha256("16505551212")
PH_GOOGLE = sha256("+16505551212")


def minimal() -> dict[str, Any]:
    """The least an event can be and still reach Google: a click id."""
    return {
        "event_name": "Purchase",
        "event_time": int(NOW) - 60,
        "event_id": "order-1",
        "action_source": "website",
        "user_data": {"client_user_agent": "Mozilla/5.0"},
        "_click_ids": {"gclid": "Cj0KCQiA-minimal"},
        "_consent": {"state": "unknown", "source": "none"},
    }


def full() -> dict[str, Any]:
    """Every kind of data Signalyard stores, as the ingest pipeline stores it."""
    return {
        "event_name": "Purchase",
        "event_time": int(NOW) - 3600,
        "event_id": "order-10042",
        "action_source": "website",
        "event_source_url": "https://shop.example/thanks",
        "user_data": {
            "em": [EM_GMAIL_BASE, EM_OTHER],
            "ph": [PH_META],
            "fn": sha256("jane"),
            "ln": sha256("doe"),
            "ct": sha256("menlopark"),
            "st": sha256("ca"),
            "zp": sha256("94025"),
            "country": sha256("us"),
            "external_id": [sha256("customer-1042")],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
            "fbp": "fb.1.1700000000000.1234567890",
            "fbc": "fb.1.1700000000000.AbCdEf",
        },
        "custom_data": {
            "currency": "usd",
            "value": 129.5,
            "order_id": "ORDER-1042",
            "contents": [
                {"id": "SKU-1", "quantity": 2, "item_price": 49.75},
                {"id": "SKU-2", "quantity": 1, "item_price": 30},
            ],
        },
        "_identity": {
            "em.gmail": {EM_GMAIL_BASE: EM_GMAIL_GOOGLE},
            "ph.e164": {PH_META: PH_GOOGLE},
        },
        "_click_ids": {"gclid": "Cj0KCQiA-full", "wbraid": "wbraid-full", "fbclid": "IwAR-x"},
        "_consent": {"state": "granted", "source": "api", "region": "US-CA"},
    }
