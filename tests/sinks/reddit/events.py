"""Canonical events as the store hands them to the Reddit sink (normalized and hashed, with
Signalyard's own ``_identity``, ``_click_ids``, ``_browser_ids`` and ``_consent``), and the
Reddit sandbox's own validator, which every body built in these tests must pass."""

from __future__ import annotations

from typing import Any

import orjson

from signalyard.sandbox.reddit.validate import CheckedEvent, check_events, check_request
from tests.sinks.canonical import EVENT_TIME as EVENT_TIME
from tests.sinks.canonical import NOW as NOW
from tests.sinks.canonical import device, person
from tests.sinks.canonical import minimal as minimal
from tests.sinks.canonical import sha256 as sha256

ACCOUNT = "a2_examplexyz12"


EM_META = sha256("john.smith+shop@example.com")  # Meta's rule: trimmed, lowercased
PH_META = sha256("16505551212")  # Meta's rule: the digits only (never sent to Reddit)
PH_REDDIT = sha256("+16505551212")  # Reddit's rule: + and the digits
EXTERNAL_ID = sha256("customer-1042")
IP = device()["client_ip_address"]
RDT_CID = "t2_clickexample_1799990000"
RDT_UUID = "1799990000000.6f1c2b6e-4c9a-4a57-9d0e-2f7c1d3b8a90"


def full() -> dict[str, Any]:
    return {
        "_consent": {"state": "granted", "source": "api", "region": "US-CA"},
        "_identity": {"ph.e164": {PH_META: PH_REDDIT}},
        "_click_ids": {"rdt_cid": RDT_CID, "gclid": "Cj0KCQ-example"},
        "_browser_ids": {"rdt_uuid": RDT_UUID, "ttp": "2cFzPqv0xKo8w3qYzdLnJbqXtSe"},
        "event_name": "Purchase",
        "event_time": EVENT_TIME,
        "event_id": "order-1001",
        "action_source": "website",
        "event_source_url": "https://shop.example/checkout/thanks",
        "user_data": {
            "em": [EM_META],
            "ph": [PH_META],
            "external_id": [EXTERNAL_ID],
            **person(),
            **device(),  # its client_ip_address is IP
        },
        "custom_data": {
            "currency": "eur",
            "value": 142.52,
            "contents": [
                {"id": "SKU-1", "quantity": 2, "item_price": 50.0, "title": "Mug"},
                {"id": 1077218, "quantity": 1, "item_price": 42.52, "category": "Kitchen"},
            ],
            "order_id": 1001,
        },
        "opt_out": False,
    }


def validate(body: bytes, now: float = NOW) -> list[CheckedEvent]:
    """The Reddit sandbox's own checks of a request body: its request-level rules (raising
    its error) and each event's rules."""
    request = check_request(orjson.loads(body), ACCOUNT)
    return check_events(request, now)
