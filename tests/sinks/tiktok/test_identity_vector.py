"""One Purchase with plaintext customer data through the gateway's API to a TikTok
destination, delivered by the worker to the TikTok sandbox: the sandbox receives exactly the
hashes TikTok's documented rules give (reference §3: email trimmed and lowercased, phone in
E.164 with its ``+``), computed here with hashlib from those rules, not from our code."""

from __future__ import annotations

import pytest

from signalyard.sandbox.tiktok import SandboxState, create_app
from tests.sinks import vectors
from tests.sinks.canonical import sha256
from tests.sources.conftest import GatewayFactory, make_gateway, purchase

pytestmark = pytest.mark.anyio
__all__ = ["make_gateway"]  # the gateway fixture of the ingest tests

PIXEL = "CABC123DEF456GHI789J"

# (what the sender typed, the string TikTok's rule hashes)
EMAIL = ("  John.Smith@Example.COM ", "john.smith@example.com")
PHONE = ("(650) 555-1212", "+16505551212")  # national, the dataset's country is US


async def test_a_purchase_reaches_the_sandbox_with_tiktok_s_hashes(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    now = gateway.clock.now()
    await vectors.add_destination(
        gateway,
        "tiktok",
        {"pixel_code": PIXEL, "api_url": "http://sandbox"},
        {"access_token": "tiktok-token-0123456789"},
    )
    event = purchase(now, event_id="order-1042")
    event["user_data"].update(em=[EMAIL[0]], ph=[PHONE[0]])
    event["click_ids"] = {"ttclid": "E.C.P.CvQBi3kxnJv0"}
    await vectors.post_one(gateway, event)

    sandbox = SandboxState(clock=gateway.clock)
    await vectors.deliver_one(
        gateway.store, gateway.clock, create_app(clock=gateway.clock, state=sandbox)
    )

    (recorded,) = sandbox.events()
    assert recorded.accepted and recorded.event_source_id == PIXEL
    assert recorded.diagnostics == (), [d.message for d in recorded.diagnostics]
    sent = recorded.event
    user = sent["user"]
    assert user["email"] == sha256(EMAIL[1])
    assert user["phone"] == sha256(PHONE[1])
    assert user["phone"] != sha256(PHONE[1].lstrip("+"))  # never Meta's digits-only hash
    assert user["ip"] == "203.0.113.7"
    assert user["ttclid"] == "E.C.P.CvQBi3kxnJv0"
    assert sent["event"] == "Purchase" and sent["event_id"] == "order-1042"
    assert sent["properties"]["currency"] == "USD" and sent["properties"]["value"] == 129.5
    # Names and address go with Meta's destinations only (TikTok's rule for them is not
    # documented); no plaintext anywhere in what TikTok received.
    for key in ("first_name", "last_name", "zip_code", "city", "state", "country"):
        assert key not in user
    raw = recorded.payload.decode()
    for text in ("John", "Smith", "john.smith", "555-1212", "Jannelle", "Menlo", "94025"):
        assert text not in raw
