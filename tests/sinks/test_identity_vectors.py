"""One Purchase with plaintext customer data and every identifier (click ids, browser
cookies), sent once through the Graph-compatible API of a gateway with a destination of every
kind (Meta, Google, TikTok, Snapchat, Pinterest, Reddit, GA4, LinkedIn): each sandbox receives
exactly the fields and hashes its platform's documented rules give. The expected values are
computed here from the rules as the platforms document them (hashlib over the normalized
text), and for Google also by Google's own formatter (google-ads-datamanager-util), never by
Signalyard's code.

- Meta: email trimmed and lowercased; phone digits only with the country code; names
  lowercased; city lowercased without spaces; state and zip as given, lowercased; country
  ISO code lowercased.
- Google (Data Manager): email trimmed and lowercased, and for gmail.com/googlemail.com the
  local part without dots and without a +suffix; phone E.164 with the +.
- TikTok: email trimmed and lowercased; phone E.164 with the +.
- Snapchat and Pinterest: Meta's rules (trimmed, lowercased; phone digits with the country
  code), sent as arrays.
- Reddit: email lowercased, the local part cut at its first + and reduced to letters and
  digits (Reddit's "Manual advanced matching" page); phone E.164 with the +; the IP address
  hashed.
- GA4: Google's rules (as Google Ads); the client id from the _ga cookie.
- LinkedIn: SHA256_EMAIL, the trimmed lowercased address.
"""

from __future__ import annotations

import hashlib
from typing import Any

import anyio
import httpx
import orjson
import pytest

from signalyard.app import create_app
from signalyard.clock import SystemClock
from signalyard.settings import DeliverySettings, Settings
from signalyard.sinks import REGISTRY, SANDBOX
from signalyard.sources.auth import new_key
from signalyard.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio
DATASET = "1234567890"
EMAIL = "  Jane.Doe+VIP@Gmail.com "
PHONE = "(650) 555-1212"  # national: the dataset's country (US) completes it


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


VECTORS: dict[str, dict[str, str]] = {
    "meta": {
        "em": sha256("jane.doe+vip@gmail.com"),
        "ph": sha256("16505551212"),
        "fn": sha256("jane"),
        "ln": sha256("doe"),
        "ct": sha256("menlopark"),
        "st": sha256("ca"),
        "zp": sha256("94025"),
        "country": sha256("us"),
    },
    "google": {
        "email": sha256("janedoe@gmail.com"),
        "phone": sha256("+16505551212"),
    },
    "tiktok": {
        "email": sha256("jane.doe+vip@gmail.com"),
        "phone": sha256("+16505551212"),
    },
    "reddit": {
        "email": sha256("janedoe@gmail.com"),  # jane.doe+vip -> janedoe
        "phone": sha256("+16505551212"),
        "ip_address": sha256("203.0.113.7"),
        "external_id": sha256("customer-1042"),
    },
    "linkedin": {"SHA256_EMAIL": sha256("jane.doe+vip@gmail.com")},
}


def test_google_s_own_formatter_gives_the_google_vectors() -> None:
    util = pytest.importorskip("google.ads.datamanager_util")
    formatter = util.Formatter()
    hex_encoding = util.Encoding.HEX
    assert formatter.process_email_address(EMAIL, hex_encoding) == VECTORS["google"]["email"]
    assert (
        formatter.process_phone_number("+1 650 555 1212", hex_encoding)
        == VECTORS["google"]["phone"]
    )


_PAYLOAD_KEY = {
    "meta": "event",
    "google": "event",
    "tiktok": "data",
    "snapchat": "data",
    "pinterest": "data",
    "reddit": "data",
    "ga4": "data",
    "linkedin": "element",
}
"""Where each sandbox's ``/_sandbox/events`` listing puts the event as it was sent."""


async def _sent(client: httpx.AsyncClient, kind: str) -> dict[str, Any] | None:
    """What the platform's sandbox received of the one event, as sent on the wire."""
    r = await client.get(f"/sandbox/{kind}/_sandbox/events")
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    return dict(events[0][_PAYLOAD_KEY[kind]]) if events else None


KINDS = tuple(_PAYLOAD_KEY)
CLICKS = {
    "gclid": "Cj0KCQiA-vectors",
    "ttclid": "E.C.P.vectors",
    "ScCid": "sc-vectors",
    "epik": "epik-vectors",
    "rdt_cid": "rdt-vectors",
    "li_fat_id": "li-vectors",
}
COOKIES = {
    "ga": "GA1.1.1234567890.1700000000",
    "ttp": "ttp-vectors",
    "scid": "scid-vectors",
    "rdt_uuid": "1700000000000.rdt-vectors",
}


def test_every_registered_kind_is_in_this_test() -> None:
    assert set(REGISTRY) == set(KINDS)


async def test_one_purchase_reaches_every_platform_each_hashed_by_its_own_rules(
    sqlite_url: str,
) -> None:
    clock = SystemClock()
    now = clock.now()
    store = SQLiteStore(sqlite_url)
    await store.open()
    key = new_key()
    try:
        await store.add_dataset(DATASET, name="shop", default_country="US", now=now)
        await store.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="", now=now)
        for kind in KINDS:
            spec = REGISTRY[kind]
            example = spec.example()
            options = {**example.to_mapping(), **{k: SANDBOX for k in spec.url_options}}
            if kind == "meta":
                options["pixel_id"] = DATASET
            await store.add_destination(
                DATASET,
                name=kind,
                kind=kind,
                options=options,
                secrets=example.to_secrets(),
                now=now,
            )
    finally:
        await store.close()

    event = {
        "event_name": "Purchase",
        "event_time": int(now) - 30,
        "event_id": "order-vectors-1",
        "action_source": "website",
        "event_source_url": "https://shop.example/checkout",
        "user_data": {
            "em": EMAIL,
            "ph": PHONE,
            "fn": "Jane",
            "ln": "DOE",
            "ct": "Menlo Park",
            "st": "CA",
            "zp": "94025",
            "country": "US",
            "external_id": " customer-1042 ",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (Macintosh) Chrome/126.0",
        },
        "custom_data": {"currency": "USD", "value": 129.5},
        "consent": "granted",
        "click_ids": CLICKS,
        "browser_ids": COOKIES,
    }
    transport = httpx.ASGITransport(app=None)  # type: ignore[arg-type]  # the gateway, below
    settings = Settings(
        database_url=sqlite_url, sandbox=True, delivery=DeliverySettings(poll_seconds=0.05)
    )
    async with httpx.AsyncClient(transport=transport) as worker_client:
        app = create_app(settings, SQLiteStore(sqlite_url), clock=clock, http_client=worker_client)
        transport.app = app
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c,
        ):
            r = await c.post(
                f"/v26.0/{DATASET}/events",
                params={"access_token": key.secret},
                json={"data": [event]},
            )
            assert r.status_code == 200, r.text
            sent: dict[str, Any] = {}
            for _ in range(200):  # the worker delivers in the background
                for kind in KINDS:
                    if kind not in sent and (got := await _sent(c, kind)) is not None:
                        sent[kind] = got
                if len(sent) == len(KINDS):
                    break
                await anyio.sleep(0.05)
            assert set(sent) == set(KINDS), sent

    meta = sent["meta"]["user_data"]
    for key_name, expected in VECTORS["meta"].items():
        assert meta[key_name] == [expected], key_name

    identifiers = sent["google"]["userData"]["userIdentifiers"]
    emails = [i["emailAddress"] for i in identifiers if "emailAddress" in i]
    phones = [i["phoneNumber"] for i in identifiers if "phoneNumber" in i]
    assert emails == [VECTORS["google"]["email"]]
    assert phones == [VECTORS["google"]["phone"]]

    user = sent["tiktok"]["user"]
    assert _as_list(user["email"]) == [VECTORS["tiktok"]["email"]]
    assert _as_list(user["phone"]) == [VECTORS["tiktok"]["phone"]]
    assert (user["ttclid"], user["ttp"]) == (CLICKS["ttclid"], COOKIES["ttp"])

    # Snapchat and Pinterest: Meta's hashes, as arrays, and their own click id / cookie
    for kind in ("snapchat", "pinterest"):
        got = sent[kind]["user_data"]
        for key_name, expected in VECTORS["meta"].items():
            assert got[key_name] == [expected], (kind, key_name)
        assert got["external_id"] == [sha256("customer-1042")], kind
    snap = sent["snapchat"]["user_data"]
    assert (snap["sc_click_id"], snap["sc_cookie1"]) == (CLICKS["ScCid"], COOKIES["scid"])
    assert sent["pinterest"]["user_data"]["click_id"] == CLICKS["epik"]

    reddit = sent["reddit"]["user"]
    assert reddit["email"] == VECTORS["reddit"]["email"]
    assert reddit["phone_number"] == VECTORS["reddit"]["phone"]
    assert reddit["ip_address"] == VECTORS["reddit"]["ip_address"]
    assert reddit["external_id"] == VECTORS["reddit"]["external_id"]
    assert (sent["reddit"]["click_id"], reddit["uuid"]) == (
        CLICKS["rdt_cid"],
        COOKIES["rdt_uuid"],
    )

    ga4 = sent["ga4"]
    assert ga4["client_id"] == "1234567890.1700000000"  # the _ga cookie's client id
    assert ga4["user_data"]["sha256_email_address"] == [VECTORS["google"]["email"]]
    assert ga4["user_data"]["sha256_phone_number"] == [VECTORS["google"]["phone"]]

    ids = {i["idType"]: i["idValue"] for i in sent["linkedin"]["user"]["userIds"]}
    assert ids == {
        "SHA256_EMAIL": VECTORS["linkedin"]["SHA256_EMAIL"],
        "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID": CLICKS["li_fat_id"],
    }
    # No platform got a value in plaintext, nor another platform's rule.
    wire = orjson.dumps(sent).decode().lower()
    for plaintext in ("jane.doe", "janedoe@", "5551212", "menlo", "gmail.com"):
        assert plaintext not in wire, plaintext
    plus_rule = [sent[k] for k in ("google", "tiktok", "reddit", "ga4")]
    assert VECTORS["meta"]["ph"] not in orjson.dumps(plus_rule).decode()
    assert "203.0.113.7" not in orjson.dumps(sent["reddit"]).decode()  # Reddit: IP hashed


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
