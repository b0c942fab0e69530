"""One Purchase with plaintext customer data, through the gateway's API, delivered by the
worker to the Google sandbox: Google receives exactly the hashes its documented rules give.

The expected values are computed here with hashlib from Google's normalization rules
(Data Manager API "Format user data"; the same rules as ``Formatter`` in Google's
``google-ads-datamanager-util``): an email is trimmed and lowercased, and for gmail.com and
googlemail.com the local part loses a ``+`` and what follows it, then every ``.``; a phone
is ``+`` and its E.164 digits. Not from Signalyard's code."""

from __future__ import annotations

import pytest

from signalyard.sandbox.google import SandboxState, create_app
from signalyard.sandbox.registry import served
from signalyard.secret import Secret
from tests.sinks import vectors
from tests.sinks.canonical import sha256
from tests.sources.conftest import DATASET, GatewayFactory, make_gateway, purchase

from .conftest import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, SANDBOX

__all__ = ["make_gateway"]  # the gateway fixture of the ingest tests, used here too

pytestmark = pytest.mark.anyio

EMAIL = "  Jane.Q.Doe+Newsletter@GMail.com "
PHONE = "(650) 555-1212"  # national; the dataset's default country is US


def google_email(email: str) -> str:
    """Google's documented email rule, written out."""
    user, domain = email.strip().lower().split("@")
    if domain in ("gmail.com", "googlemail.com"):
        user = user.split("+")[0].replace(".", "")
    return f"{user}@{domain}"


async def test_google_receives_google_s_hashes(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway()
    now = gateway.clock.now()
    await gateway.store.add_destination(
        DATASET,
        name="google-ads",
        kind="google",
        options={
            "operating_account_id": "1234567890",
            "conversion_action_id": "987654321",
            "api_url": "sandbox",
            "token_url": "sandbox",
        },
        secrets={
            "client_id": Secret(CLIENT_ID),
            "client_secret": Secret(CLIENT_SECRET),
            "refresh_token": Secret(REFRESH_TOKEN),
        },
        now=now,
    )
    event = purchase(now, event_id="order-77")
    event["user_data"]["em"] = [EMAIL]
    event["user_data"]["ph"] = [PHONE]
    event["click_ids"] = {"gclid": "Cj0KCQiA-vector"}
    event["consent"] = "granted"
    await vectors.post_one(gateway, event)

    sandbox = SandboxState(clock=gateway.clock)
    app = served({"google": create_app(clock=gateway.clock, state=sandbox)})
    await vectors.deliver_one(gateway.store, gateway.clock, app, SANDBOX)

    (received,) = sandbox.events()
    assert received.transaction_id == "order-77" and received.status == "kept"
    sent = received.event
    assert google_email(EMAIL) == "janeqdoe@gmail.com"
    assert sent["userData"]["userIdentifiers"] == [
        {"emailAddress": sha256("janeqdoe@gmail.com")},
        {"phoneNumber": sha256("+16505551212")},
    ]
    text = str(sent)
    assert sha256("16505551212") not in text  # Meta's phone hash never reaches Google
    assert sha256("jane.q.doe+newsletter@gmail.com") not in text  # nor Meta's email hash
    assert "address" not in sent["userData"]["userIdentifiers"][0]
    assert sent["adIdentifiers"] == {"gclid": "Cj0KCQiA-vector"}
    assert sent["eventDeviceInfo"]["ipAddress"] == "203.0.113.7"
    assert sent["consent"] == {
        "adUserData": "CONSENT_GRANTED",
        "adPersonalization": "CONSENT_GRANTED",
    }
    assert (sent["currency"], sent["conversionValue"]) == ("USD", 129.5)


def test_google_s_own_formatter_agrees() -> None:
    """Google's ``google-ads-datamanager-util`` (when installed) gives the same hashes."""
    util = pytest.importorskip("google.ads.datamanager_util")
    formatter = util.Formatter()
    hex_encoding = util.Encoding.HEX
    assert formatter.process_email_address(EMAIL, hex_encoding) == sha256(google_email(EMAIL))
    assert formatter.process_phone_number("+1 650 555 1212", hex_encoding) == sha256("+16505551212")
