"""One Purchase with plaintext customer data, sent once through the Graph-compatible API of a
gateway with three destinations (Meta, Google, TikTok): each sandbox receives exactly the
hashes its platform's documented rules give. The expected values are computed here from the
rules as the platforms document them (hashlib over the normalized text), and for Google also
by Google's own formatter (google-ads-datamanager-util), never by Signalyard's code.

- Meta: email trimmed and lowercased; phone digits only with the country code; names
  lowercased; city lowercased without spaces; state and zip as given, lowercased; country
  ISO code lowercased.
- Google (Data Manager): email trimmed and lowercased, and for gmail.com/googlemail.com the
  local part without dots and without a +suffix; phone E.164 with the +.
- TikTok: email trimmed and lowercased; phone E.164 with the +.
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


_PAYLOAD_KEY = {"meta": "event", "google": "event", "tiktok": "data"}
"""Where each sandbox's ``/_sandbox/events`` listing puts the event as it was sent."""


async def _sent(client: httpx.AsyncClient, kind: str) -> dict[str, Any] | None:
    """What the platform's sandbox received of the one event, as sent on the wire."""
    r = await client.get(f"/sandbox/{kind}/_sandbox/events")
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    return dict(events[0][_PAYLOAD_KEY[kind]]) if events else None


async def test_one_purchase_reaches_three_platforms_each_hashed_by_its_own_rules(
    sqlite_url: str,
) -> None:
    assert {"meta", "google", "tiktok"} <= set(REGISTRY)
    clock = SystemClock()
    now = clock.now()
    store = SQLiteStore(sqlite_url)
    await store.open()
    key = new_key()
    try:
        await store.add_dataset(DATASET, name="shop", default_country="US", now=now)
        await store.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="", now=now)
        for kind in ("meta", "google", "tiktok"):
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
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (Macintosh) Chrome/126.0",
        },
        "custom_data": {"currency": "USD", "value": 129.5},
        "consent": "granted",
        "click_ids": {"gclid": "Cj0KCQiA-vectors"},
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
                for kind in ("meta", "google", "tiktok"):
                    if kind not in sent and (got := await _sent(c, kind)) is not None:
                        sent[kind] = got
                if len(sent) == 3:
                    break
                await anyio.sleep(0.05)
            assert set(sent) == {"meta", "google", "tiktok"}, sent

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
    # No platform got a value in plaintext, nor another platform's rule.
    wire = orjson.dumps(sent).decode().lower()
    for plaintext in ("jane.doe", "janedoe@", "5551212", "menlo", "gmail.com"):
        assert plaintext not in wire, plaintext
    assert VECTORS["meta"]["ph"] not in orjson.dumps([sent["google"], sent["tiktok"]]).decode()


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
