"""One Purchase with plaintext customer data through the gateway's API to a Pinterest
destination, delivered by the worker to the Pinterest sandbox: the sandbox receives exactly
the hashes Pinterest's documented rules give, computed here with hashlib from those rules
(Pinterest's ``user_data`` docs: email lowercase; phone digits with the country code, no
symbols or leading zeros; names lowercase; city lowercase without spaces or punctuation;
state a two-letter code in lowercase; zip digits; country the ISO-3166 two-letter code in
lowercase), not from our code.

Pinterest's Limited Data Processing page shows, for ``st`` and ``country``, hashes of the
*upper-case* ``CA`` and ``US``: against its own ``user_data`` reference (lower case). The sink
follows the field reference; the test pins the discrepancy so it stays known."""

from __future__ import annotations

import pytest

from signalyard.sandbox.pinterest import SandboxState, create_app
from tests.sinks import vectors
from tests.sinks.canonical import sha256
from tests.sources.conftest import GatewayFactory, make_gateway, purchase

pytestmark = pytest.mark.anyio
__all__ = ["make_gateway"]  # the gateway fixture of the ingest tests

ACCOUNT = "549755885175"
# Pinterest's own example (use-limited-data-processing-flag): st for California, country US.
PINTEREST_ST_CA = "4b650e5c4785025dee7bd65e3c5c527356717d7a1c0bfef5b4ada8ca1e9cbe17"
PINTEREST_COUNTRY_US = "9b202ecbc6d45c6d8901d989a918878397a3eb9d00e8f48022fc051b19d21a1d"

# (what the sender typed, the string Pinterest's rule hashes)
EMAIL = ("  John.Smith@Example.COM ", "john.smith@example.com")
PHONE = ("(650) 555-1212", "16505551212")  # national; the dataset's country is US
FIRST = ("John", "john")
CITY = ("Menlo Park", "menlopark")
STATE = ("California", "ca")
ZIP = ("94025-1234", "94025")
COUNTRY = ("United States", "us")


def test_pinterest_s_ldp_example_hashes_upper_case_codes() -> None:
    assert sha256("CA") == PINTEREST_ST_CA and sha256("US") == PINTEREST_COUNTRY_US
    assert sha256("ca") != PINTEREST_ST_CA  # the user_data reference says lower case


async def test_a_purchase_reaches_the_sandbox_with_pinterest_s_hashes(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    now = gateway.clock.now()
    await vectors.add_destination(
        gateway,
        "pinterest",
        {"ad_account_id": ACCOUNT, "api_url": "http://sandbox"},
        {"access_token": "pinterest-token-0123456789"},
    )
    event = purchase(now, event_id="order-1042")
    event["user_data"].update(
        em=[EMAIL[0]], ph=[PHONE[0]], fn=FIRST[0], ct=CITY[0], st=STATE[0], zp=ZIP[0],
        country=COUNTRY[0],
    )  # fmt: skip
    event["click_ids"] = {"epik": "dj0yJnU9VectorEpik"}
    await vectors.post_one(gateway, event)

    sandbox = SandboxState(clock=gateway.clock)
    app = create_app(clock=gateway.clock, state=sandbox)
    await vectors.deliver_one(gateway.store, gateway.clock, app)

    (recorded,) = sandbox.events()
    assert recorded.accepted and recorded.ad_account_id == ACCOUNT
    assert recorded.diagnostics == (), [d.message for d in recorded.diagnostics]
    sent = recorded.event
    user = sent["user_data"]
    assert user["em"] == [sha256(EMAIL[1])]
    assert user["ph"] == [sha256(PHONE[1])]
    assert user["fn"] == [sha256(FIRST[1])]
    assert user["ct"] == [sha256(CITY[1])]
    assert user["st"] == [sha256(STATE[1])]
    assert user["zp"] == [sha256(ZIP[1])]
    assert user["country"] == [sha256(COUNTRY[1])]
    assert user["client_ip_address"] == "203.0.113.7"
    assert user["click_id"] == "dj0yJnU9VectorEpik"
    assert sent["event_name"] == "checkout" and sent["event_id"] == "order-1042"
    assert sent["action_source"] == "web"
    assert sent["custom_data"]["currency"] == "USD" and sent["custom_data"]["value"] == "129.5"
    raw = recorded.payload.decode()
    for text in ("John", "Smith", "john.smith", "555-1212", "Menlo", "94025", "California"):
        assert text not in raw
