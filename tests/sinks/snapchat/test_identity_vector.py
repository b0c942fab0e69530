"""One Purchase with plaintext customer data through the gateway's API to a Snapchat
destination, delivered by the worker to the Snapchat sandbox: the sandbox receives exactly
the hashes Snap's documented rules give, computed here with hashlib from those rules (Snap's
Parameters page: email trimmed and lowercased; phone with its country code, no ``+``, no
``00``, no national ``0``; first name lower case without punctuation), and equal to the
hashes Snap's page itself prints for its examples."""

from __future__ import annotations

import pytest

from signalyard.sandbox.snapchat import SandboxState, create_app
from signalyard.sinks import REGISTRY
from tests.sinks import vectors
from tests.sinks.canonical import sha256
from tests.sources.conftest import GatewayFactory, make_gateway, purchase

pytestmark = pytest.mark.anyio
__all__ = ["make_gateway"]  # the gateway fixture of the ingest tests

PIXEL = "5bf81ee1-15b1-4dc1-b636-d7dae49b950e"

# (what the sender typed, the string Snap's rule hashes, the hash Snap's page prints)
EMAIL = (
    " Person@Example.com ",
    "person@example.com",
    "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345",
)
PHONE = (
    "+44 844 412 4653",
    "448444124653",
    "dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383",
)
FIRST_NAME = (
    "Raphaël",
    "raphaël",
    "e74bb89e718fe1e19c422a48382870399f8bf7ca8dfa008739e75b0be76627b7",
)


def test_the_rules_give_the_hashes_snap_prints() -> None:
    for _typed, normalized, printed in (EMAIL, PHONE, FIRST_NAME):
        assert sha256(normalized) == printed


@pytest.mark.skipif("snapchat" not in REGISTRY, reason="snapchat not registered")
async def test_a_purchase_reaches_the_sandbox_with_snap_s_hashes(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    now = gateway.clock.now()
    await vectors.add_destination(
        gateway,
        "snapchat",
        {"pixel_id": PIXEL, "api_url": "http://sandbox"},
        {"access_token": "snap-token-0123456789"},
    )
    event = purchase(now, event_id="order-1042")
    event["user_data"].update(em=[EMAIL[0]], ph=[PHONE[0]], fn=FIRST_NAME[0])
    event["click_ids"] = {"ScCid": "b1c2d3e4-0000-4000-8000-123456789abc"}
    await vectors.post_one(gateway, event)

    sandbox = SandboxState(clock=gateway.clock)
    app = create_app(clock=gateway.clock, state=sandbox)
    await vectors.deliver_one(gateway.store, gateway.clock, app)

    (recorded,) = sandbox.events()
    assert recorded.status == "accepted" and recorded.asset_id == PIXEL
    assert recorded.diagnostics == (), [d.message for d in recorded.diagnostics]
    sent = recorded.event
    user = sent["user_data"]
    assert user["em"] == [EMAIL[2]]
    assert user["ph"] == [PHONE[2]]
    assert user["ph"] != [sha256("+" + PHONE[1])]  # never the +E.164 variant
    assert user["fn"] == [FIRST_NAME[2]]
    assert user["client_ip_address"] == "203.0.113.7"
    assert user["sc_click_id"] == "b1c2d3e4-0000-4000-8000-123456789abc"
    assert sent["event_name"] == "PURCHASE" and sent["event_id"] == "order-1042"
    assert sent["action_source"] == "WEB"
    assert sent["custom_data"]["currency"] == "USD" and sent["custom_data"]["value"] == 129.5
    raw = recorded.payload.decode()
    for text in ("Person@", "person@example", "844 412", "Raphaël", "raphaël"):
        assert text not in raw
