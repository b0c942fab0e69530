"""One Purchase with plaintext customer data through the gateway's API to a LinkedIn
destination, delivered by the worker to the LinkedIn sandbox: the sandbox receives exactly the
values LinkedIn's documented rules give (its Conversions API docs: ``SHA256_EMAIL`` is the
SHA-256 hex of the trimmed, lowercased email; ``li_fat_id`` plain; ``conversionHappenedAt`` in
milliseconds; the amount a decimal string), computed here with hashlib from those rules, not
from our code."""

from __future__ import annotations

import pytest

from signalyard.sandbox.linkedin import SandboxState, create_app
from tests.sinks import vectors
from tests.sinks.canonical import sha256
from tests.sources.conftest import GatewayFactory, make_gateway, purchase

pytestmark = pytest.mark.anyio
__all__ = ["make_gateway"]  # the gateway fixture of the ingest tests

# (what the sender typed, the string LinkedIn's rule hashes: trimmed, lowercased)
EMAIL = ("  John.Smith@Example.COM ", "john.smith@example.com")
LI_FAT_ID = "df5gf5-gh6t7-ph4j7h-fgf6n1"


async def test_a_purchase_reaches_the_sandbox_with_linkedin_s_values(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    now = gateway.clock.now()
    await vectors.add_destination(
        gateway,
        "linkedin",
        {
            "conversion_rule_id": "104012",
            "ad_account_id": "512345678",
            "api_url": "http://sandbox",
        },
        {"access_token": "linkedin-token-0123456789"},
    )
    event = purchase(now, event_id="order-1042")
    event["user_data"].update(em=[EMAIL[0]], ph=["(650) 555-1212"])
    event["click_ids"] = {"li_fat_id": LI_FAT_ID}
    await vectors.post_one(gateway, event)

    sandbox = SandboxState(clock=gateway.clock)
    await vectors.deliver_one(
        gateway.store, gateway.clock, create_app(clock=gateway.clock, state=sandbox)
    )

    (recorded,) = sandbox.events()
    assert recorded.accepted and recorded.conversion_rule_id == "104012"
    sent = recorded.event
    assert sent["conversion"] == "urn:lla:llaPartnerConversion:104012"
    assert sent["eventId"] == "order-1042"
    assert sent["conversionHappenedAt"] == event["event_time"] * 1000
    assert sent["conversionValue"] == {"currencyCode": "USD", "amount": "129.5"}
    assert sent["user"]["userIds"] == [
        {"idType": "SHA256_EMAIL", "idValue": sha256(EMAIL[1])},
        {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": LI_FAT_ID},
    ]
    assert "userInfo" not in sent["user"]
    raw = recorded.payload.decode()
    for text in ("John", "Smith", "john.smith", "555-1212", "203.0.113.7", "Menlo", "94025"):
        assert text not in raw
