"""One Purchase with plaintext customer data through the real ingest (identity variants as
the GA4 spec asks) to a GA4 destination, delivered by the worker to the GA4 sandbox: the
sandbox receives exactly the hashes GA4's documented rules give, computed here with hashlib
from those rules, not from our code. GA4's rules (developers.google.com/analytics/devguides/
collection/ga4/uid-data): trim, lowercase, remove the periods before the domain of gmail.com
and googlemail.com addresses; phone in E.164 with its ``+``; SHA-256 as hex."""

from __future__ import annotations

import pytest

import signalyard.sinks as sinks
from signalyard.clock import FrozenClock
from signalyard.sandbox.ga4 import SandboxState, create_app
from signalyard.sinks.ga4 import SPEC
from signalyard.sources.ingest import Ingestor
from signalyard.store.sqlite import SQLiteStore
from tests.sinks import vectors
from tests.sinks.canonical import sha256

pytestmark = pytest.mark.anyio
DATASET = "1234567890"

# (what the sender typed, the string GA4's rule hashes)
GMAIL = ("  John.Smith@GMail.com ", "johnsmith@gmail.com")
OTHER = ("Jane.Doe@Example.com", "jane.doe@example.com")  # periods kept: not gmail
PHONE = ("(650) 555-1212", "+16505551212")  # national; the dataset's country is US


async def test_a_purchase_reaches_the_sandbox_with_ga4_s_hashes(
    sqlite_store: SQLiteStore, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sinks.REGISTRY, "ga4", SPEC)
    now = clock.now()
    await sqlite_store.add_dataset(DATASET, name="shop", default_country="US", now=now)
    await sqlite_store.add_destination(
        DATASET,
        name="ga4",
        kind="ga4",
        options={"measurement_id": "G-SHOP12345", "api_url": "http://sandbox"},
        secrets=SPEC.example().to_secrets(),
        now=now,
    )
    ingestor = Ingestor(
        sqlite_store,
        clock,
        default_country=None,
        max_future_seconds=600,
        identity_by_kind={"ga4": SPEC.identity},
    )
    raw = {
        "event_name": "Purchase",
        "event_time": int(now) - 60,
        "event_id": "order-1042",
        "action_source": "website",
        "event_source_url": "https://shop.example/thanks",
        "user_data": {
            "em": [GMAIL[0], OTHER[0]],
            "ph": PHONE[0],
            "fn": "John",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
        },
        "custom_data": {"currency": "usd", "value": 129.5, "order_id": "A-1042"},
        "browser_ids": {"ga": "GA1.1.1197596843.1673515000"},
        "consent": "granted",
    }
    dataset = await sqlite_store.get_dataset(DATASET)
    assert dataset is not None
    result = await ingestor.ingest([raw], dataset, source="graph_api")
    assert result.stored == 1, result.messages

    sandbox = SandboxState(clock=clock)
    await vectors.deliver_one(sqlite_store, clock, create_app(clock=clock, state=sandbox))

    (recorded,) = sandbox.events()
    assert recorded.accepted, recorded.error
    sent = recorded.event
    assert sent["client_id"] == "1197596843.1673515000"
    assert sent["user_data"] == {
        "sha256_email_address": [sha256(GMAIL[1]), sha256(OTHER[1])],
        "sha256_phone_number": [sha256(PHONE[1])],
    }
    assert sha256("john.smith@gmail.com") not in recorded.payload.decode()  # Meta's rule
    assert sha256(PHONE[1].lstrip("+")) not in recorded.payload.decode()
    assert sent["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"}
    assert sent["timestamp_micros"] == (int(now) - 60) * 1_000_000
    event = sent["event"]
    assert event["name"] == "purchase"
    assert event["params"]["transaction_id"] == "A-1042"
    assert (event["params"]["currency"], event["params"]["value"]) == ("USD", 129.5)
    raw_text = recorded.payload.decode()
    for text in ("John", "Smith", "john", "555-1212", "Mozilla", sha256("john")):
        assert text not in raw_text
