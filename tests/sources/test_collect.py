"""``/collect``: the browser endpoint. Origins, client address and proxies, crawlers, rate
limits, consent (held, released, dropped), click ids, errors that name the field, the script."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from signalyard.app import create_app
from signalyard.clock import FrozenClock
from signalyard.event import AcceptedEvent, Consent
from signalyard.secret import Secret
from signalyard.settings import CollectSettings, Settings
from signalyard.sources.browser import SCRIPT
from signalyard.sources.consent_token import token_key
from signalyard.sources.extensions import attach, take_extensions
from signalyard.sources.origins import normalize_origin, origin_allowed, set_allowed_origins
from signalyard.store.dual import fetch
from signalyard.store.inspect import event_trail
from signalyard.store.sqlite import SQLiteStore
from signalyard.transforms.consent import subject_key

pytestmark = pytest.mark.anyio
DATASET = "555"
SHOP = "https://shop.example.com"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0 Safari/537.36"
)
FBP = "fb.1.1799999000000.1234567890"
TOKEN = "a-page-s-own-token-0123456789AB"
CONSENT = f"/collect/{DATASET}/consent"


@contextlib.asynccontextmanager
async def gateway(
    sqlite_url: str, clock: FrozenClock, *, peer: str = "203.0.113.7", **collect: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, SQLiteStore]]:
    store = SQLiteStore(sqlite_url)
    settings = Settings(database_url=sqlite_url, collect=CollectSettings(**collect))
    app: Starlette = create_app(settings, store, clock=clock, run_worker=False)
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gw") as client,
    ):
        now = clock.now()
        await store.add_dataset(DATASET, name="Shop", default_country="DE", now=now)
        await store.add_destination(
            DATASET,
            name="meta",
            kind="meta",
            options={"pixel_id": DATASET, "graph_url": "sandbox"},
            secrets={"access_token": Secret("t")},
            now=now,
        )
        await set_allowed_origins(store, DATASET, [SHOP], now=now)
        yield client, store


def event(clock: FrozenClock, **extra: Any) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_id": "evt-1",
        "event_time": int(clock.now()) - 5,
        "event_source_url": f"{SHOP}/thanks",
        "custom_data": {"value": 10, "currency": "EUR"},
        "user_data": {"fbp": FBP},
        **extra,
    }


async def post(
    client: httpx.AsyncClient,
    body: Any,
    *,
    origin: str | None = SHOP,
    ua: str = CHROME,
    path: str = f"/collect/{DATASET}",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    h = {"content-type": "text/plain;charset=UTF-8", "user-agent": ua, **(headers or {})}
    if origin is not None:
        h["origin"] = origin
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return await client.post(path, content=content, headers=h)


async def stored(store: SQLiteStore) -> list[dict[str, Any]]:
    rows = await fetch(store, "SELECT payload FROM events ORDER BY pk")
    return [orjson.loads(r[0]) for r in rows]


async def test_an_event_is_stored_with_the_request_address_and_agent(
    sqlite_url: str, clock: FrozenClock
) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        r = await post(client, {"events": [event(clock, consent={"state": "granted"})]})
        assert r.status_code == 200, r.text
        assert r.json()["events_received"] == 1
        assert r.headers["access-control-allow-origin"] == SHOP
        (payload,) = await stored(store)
        assert payload["action_source"] == "website"
        assert payload["user_data"]["client_ip_address"] == "203.0.113.7"
        assert payload["user_data"]["client_user_agent"] == CHROME
        assert payload["user_data"]["fbp"] == FBP
        assert payload["_consent"] == {"state": "granted", "source": "api", "region": "DE"}


async def test_the_browser_cannot_choose_its_address(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        e = event(clock)
        e["user_data"]["client_ip_address"] = "1.2.3.4"
        r = await post(client, {"events": [e]}, headers={"x-forwarded-for": "9.9.9.9"})
        assert r.status_code == 200
        (payload,) = await stored(store)
        assert payload["user_data"]["client_ip_address"] == "203.0.113.7"


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    sqlite_url: str, clock: FrozenClock
) -> None:
    async with gateway(
        sqlite_url, clock, peer="10.0.0.5", trusted_proxies="10.0.0.0/8, 127.0.0.1"
    ) as (client, store):
        xff = "198.51.100.1, 198.51.100.23, 10.0.0.9"  # spoofed first hop, real client, proxy
        r = await post(client, {"events": [event(clock)]}, headers={"x-forwarded-for": xff})
        assert r.status_code == 200
        (payload,) = await stored(store)
        assert payload["user_data"]["client_ip_address"] == "198.51.100.23"


async def test_origins_outside_the_allowed_list_are_refused(
    sqlite_url: str, clock: FrozenClock
) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        r = await post(client, {"events": [event(clock)]}, origin="https://evil.example.net")
        assert r.status_code == 403
        assert r.json()["error"]["field"] == "Origin"
        assert "access-control-allow-origin" not in r.headers
        r = await post(client, {"events": [event(clock)]}, origin=None)
        assert r.status_code == 403  # no Origin and no Referer
        r = await post(
            client, {"events": [event(clock)]}, origin=None, headers={"referer": f"{SHOP}/p?x=1"}
        )
        assert r.status_code == 200
        assert len(await stored(store)) == 1


async def test_preflight_answers_allowed_origins_only(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, _):
        ok = await client.options(
            f"/collect/{DATASET}",
            headers={"origin": SHOP, "access-control-request-method": "POST"},
        )
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == SHOP
        assert "POST" in ok.headers["access-control-allow-methods"]
        bad = await client.options(f"/collect/{DATASET}", headers={"origin": "https://x.test"})
        assert bad.status_code == 403


async def test_crawlers_are_ignored(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
        for ua in (googlebot, "python-requests/2.32", "curl/8.5.0", ""):
            r = await post(client, {"events": [event(clock)]}, ua=ua)
            assert r.status_code == 202
            assert r.json()["ignored"] == "known crawler"
        assert await stored(store) == []


async def test_rate_limit_per_client(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock, rate_limit_per_minute=60) as (client, _):
        codes = []
        for i in range(14):
            r = await post(client, {"events": [event(clock, event_id=f"e{i}")]})
            codes.append(r.status_code)
        assert codes[:10] == [200] * 10  # the burst
        assert 429 in codes
        limited = await post(client, {"events": [event(clock, event_id="late")]})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["access-control-allow-origin"] == SHOP
        clock.advance(60)
        assert (await post(client, {"events": [event(clock, event_id="after")]})).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        ([1, 2], "body"),
        ({"events": []}, "events"),
        ({"events": "x"}, "events"),
        ({"events": [5]}, "events[0]"),
        ({"events": [{"event_name": "Purchase", "user_data": []}]}, "events[0].user_data"),
        ({"events": [{"event_name": "", "event_id": "a"}]}, "events[0].event_name"),
        ({"events": [{"event_name": "Lead", "event_id": "a", "consent": "maybe"}]}, "events[0]"),
        (
            {"events": [{"event_name": "Lead", "event_id": "a", "click_ids": {"xclid": "1"}}]},
            "events[0].click_ids",
        ),
    ],
)
async def test_bad_input_names_the_field(
    sqlite_url: str, clock: FrozenClock, body: Any, field: str
) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        r = await post(client, body)
        assert 400 <= r.status_code < 500, r.text
        error = r.json()["error"]
        assert error["field"].startswith(field), error
        assert await stored(store) == []


async def test_too_many_events_and_too_large_bodies(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock, max_events=3, max_body_bytes=2000) as (client, _):
        r = await post(client, {"events": [event(clock, event_id=str(i)) for i in range(4)]})
        assert r.status_code == 413
        r = await post(client, {"events": [event(clock, custom_data={"x": "y" * 3000})]})
        assert r.status_code == 413


async def test_a_skewed_browser_clock_is_replaced(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        r = await post(client, {"events": [event(clock, event_time=int(clock.now()) + 86400)]})
        assert r.status_code == 200
        (payload,) = await stored(store)
        assert payload["event_time"] == int(clock.now())


async def test_click_ids_reach_the_ledger(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        at = int(clock.now() * 1000) - 60_000
        clicks = {"gclid": {"id": "Cj0KCQ", "at": at}, "fbclid": {"id": "IwAR", "at": at}}
        r = await post(client, {"events": [event(clock, click_ids=clicks)]})
        assert r.status_code == 200
        rows = await fetch(store, "SELECT kind, click_id, clicked_at, browser FROM click_ledger")
        assert sorted(rows) == [
            ("fbclid", "IwAR", at / 1000, FBP),
            ("gclid", "Cj0KCQ", at / 1000, FBP),
        ]


async def test_pending_consent_is_held_then_released(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        r = await post(client, {"events": [event(clock, consent={"state": "pending"})]})
        assert r.status_code == 200
        token = r.json()["consent_token"]  # this browser's key to its own events
        (trail,) = await event_trail(store, "evt-1")
        assert (trail.status, trail.consent_action) == ("held", "hold")
        r = await post(
            client,
            {"consent_token": token, "state": "granted", "source": "gcm"},
            path=f"/collect/{DATASET}/consent",
        )
        assert r.status_code == 204, r.text
        assert r.content == b""  # says nothing about what changed
        (trail,) = await event_trail(store, "evt-1")
        assert trail.status == "queued"
        assert "consent granted (gcm)" in (trail.consent_reason or "")


async def test_denied_consent_in_the_eu_is_not_sent(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        r = await post(client, {"events": [event(clock, consent={"state": "denied"})]})
        assert r.status_code == 200
        (trail,) = await event_trail(store, "evt-1")
        assert trail.status == "dropped"
        assert trail.consent_reason == (
            "consent denied (api) in DE: built-in rule EU says denied=drop"
        )


async def test_consent_update_checks_its_input(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, _):
        path = f"/collect/{DATASET}/consent"
        r = await post(client, {"fbp": FBP, "state": "granted"}, path=path)
        assert (r.status_code, r.json()["error"]["field"]) == (403, "consent_token")
        r = await post(client, {"consent_token": "short", "state": "granted"}, path=path)
        assert (r.status_code, r.json()["error"]["field"]) == (400, "consent_token")
        assert "short" not in r.text
        r = await post(client, {"consent_token": TOKEN, "state": "yes"}, path=path)
        assert (r.status_code, r.json()["error"]["field"]) == (400, "state")


async def test_unknown_dataset_is_404(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, _):
        r = await post(client, {"events": [event(clock)]}, path="/collect/999")
        assert r.status_code == 404


async def test_the_script_is_served_with_caching(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, _):
        r = await client.get("/sy.js")
        assert r.status_code == 200
        assert r.content == SCRIPT
        assert r.headers["content-type"].startswith("text/javascript")
        etag = r.headers["etag"]
        again = await client.get("/sy.js", headers={"if-none-match": etag})
        assert again.status_code == 304


def test_origins_are_normalized_and_matched() -> None:
    assert normalize_origin("HTTPS://Shop.Example.com:443/") == "https://shop.example.com"
    assert normalize_origin("http://localhost:8080") == "http://localhost:8080"
    with pytest.raises(ValueError):
        normalize_origin("shop.example.com")
    with pytest.raises(ValueError):
        normalize_origin("https://shop.example.com/path")
    allowed = ("https://shop.example.com", "https://*.example.org")
    assert origin_allowed("https://shop.example.com", allowed)
    assert origin_allowed("https://a.b.example.org", allowed)
    assert not origin_allowed("https://example.org", allowed)
    assert not origin_allowed("http://shop.example.com", allowed)
    assert not origin_allowed("https://shop.example.com.evil.net", allowed)
    assert not origin_allowed("https://evilexample.org", allowed)


async def test_an_origin_added_later_works_within_a_second(
    sqlite_url: str, clock: FrozenClock
) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        other = "https://blog.example.com"
        assert (await post(client, {"events": [event(clock)]}, origin=other)).status_code == 403
        await set_allowed_origins(store, DATASET, [SHOP, other], now=clock.now())
        clock.advance(1.1)
        r = await post(client, {"events": [event(clock)]}, origin=other)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == other


async def test_a_page_cannot_release_what_a_server_held(
    sqlite_url: str, clock: FrozenClock
) -> None:
    """A subject chosen by a server is not a browser id: the anonymous consent endpoint,
    given it as an fbp, releases nothing."""
    async with gateway(sqlite_url, clock) as (client, store):
        subject = subject_key("customer-42", "subject")
        held = AcceptedEvent(
            DATASET,
            "Lead",
            "srv-1",
            int(clock.now()),
            {"event_name": "Lead", "_consent": {"state": "pending", "source": "api"}},
            consent=Consent("pending", "api", "DE", subject),
        )
        assert await store.ingest([held], now=clock.now()) == [True]
        r = await post(
            client,
            {"fbp": "customer-42", "consent_token": TOKEN, "state": "granted"},
            path=f"/collect/{DATASET}/consent",
        )
        assert r.status_code == 204
        (trail,) = await event_trail(store, "srv-1")
        assert trail.status == "held"


async def test_a_page_without_a_consent_mechanism_sends_unknown(
    sqlite_url: str, clock: FrozenClock
) -> None:
    """The script says granted/none when the page asks nobody: the server records unknown,
    so a rule such as EU:unknown=hold applies."""
    async with gateway(sqlite_url, clock) as (client, store):
        (dest,) = await store.list_destinations(DATASET)
        policy = {"consent_policy": [{"regions": ["EU"], "actions": {"unknown": "hold"}}]}
        await store.set_options(dest.id, {**dest.options, **policy}, now=clock.now())
        e = event(clock, consent={"state": "granted", "source": "none"})
        assert (await post(client, {"events": [e]})).status_code == 200
        (trail,) = await event_trail(store, "evt-1")
        assert (trail.status, trail.consent_action) == ("held", "hold")
        (payload,) = await stored(store)
        assert payload["_consent"]["state"] == "unknown"


async def test_pending_without_an_fbp_is_released_by_the_token(
    sqlite_url: str, clock: FrozenClock
) -> None:
    """A page's event without an fbp is held under its browser's consent token, so the page
    can still release it (elsewhere, a pending event with neither subject nor fbp is flagged:
    nothing could release it)."""
    async with gateway(sqlite_url, clock) as (client, store):
        e = event(clock, consent={"state": "pending"})
        e["user_data"] = {}
        r = await post(client, {"events": [e]})
        assert r.status_code == 200, r.text
        assert not any("pending without a subject" in m for m in r.json()["messages"])
        token = r.json()["consent_token"]
        r = await post(client, {"consent_token": token, "state": "granted"}, path=CONSENT)
        assert r.status_code == 204
        (trail,) = await event_trail(store, "evt-1")
        assert trail.status == "queued"
    raw = {"event_name": "Lead", "consent": "pending", "user_data": {}}
    _, without = take_extensions(raw, "DE")
    _, with_token = take_extensions(raw, "DE", token_key=token_key(TOKEN))
    lead = AcceptedEvent(DATASET, "Lead", "x", 1, {})
    assert any("pending without a subject" in w for w in attach(lead, without).warnings)
    assert attach(lead, with_token).warnings == ()


async def test_a_copy_carrying_consent_releases_the_held_original(
    sqlite_url: str, clock: FrozenClock
) -> None:
    """The same event arrives again (a duplicate, not stored twice) with the decision the
    first copy was waiting for: the held original is released."""
    async with gateway(sqlite_url, clock) as (client, store):
        first = await post(client, {"events": [event(clock, consent="pending")]})
        assert first.status_code == 200
        token = first.json()["consent_token"]
        (trail,) = await event_trail(store, "evt-1")
        assert trail.status == "held"
        again = await post(
            client, {"events": [event(clock, consent="granted")], "consent_token": token}
        )
        assert "consent_token" not in again.json()  # given only to a request without one
        # a page is told nothing about duplicates (see test_duplicate_merge.py)
        assert again.status_code == 200 and again.json()["messages"] == []
        (trail,) = await event_trail(store, "evt-1")
        assert trail.status == "queued"
        # and consent given first decides for a pending event after it
        later = event(clock, event_id="evt-2", consent="pending")
        assert (await post(client, {"events": [later], "consent_token": token})).status_code == 200
        (trail,) = await event_trail(store, "evt-2")
        assert (trail.status, trail.consent_action) == ("queued", "full")


async def test_a_page_cannot_name_a_consent_subject(sqlite_url: str, clock: FrozenClock) -> None:
    """An event from a page carrying a server's subject (to release what a server held for
    it) is refused: browser consent is about the browser's own fbp."""
    async with gateway(sqlite_url, clock) as (client, store):
        r = await post(
            client,
            {"events": [event(clock, consent={"state": "granted", "subject": "customer-42"})]},
        )
        assert r.status_code == 400
        assert r.json()["error"]["field"] == "events[0].consent.subject"
        assert await stored(store) == []


# --- the consent token: only the browser that sent held events may release them ----------------


async def held_lead(client: httpx.AsyncClient, store: SQLiteStore, clock: FrozenClock) -> str:
    """The victim's browser sends a pending Lead (held); returns the token it was given."""
    lead = event(clock, event_name="Lead", event_id="lead-1", consent={"state": "pending"})
    r = await post(client, {"events": [lead]})
    assert r.status_code == 200, r.text
    (trail,) = await event_trail(store, "lead-1")
    assert trail.status == "held"
    token = r.json()["consent_token"]
    assert isinstance(token, str) and len(token) >= 22
    return str(token)


async def test_a_known_fbp_releases_nothing_without_the_browser_s_token(
    sqlite_url: str, clock: FrozenClock
) -> None:
    """The fbp is no secret: a request from anywhere (a spoofed Origin) naming it, without
    the token the victim's browser was given, or with another, releases and drops nothing."""
    async with gateway(sqlite_url, clock) as (client, store):
        token = await held_lead(client, store, clock)
        spoofs: list[dict[str, Any]] = [
            {"fbp": FBP, "state": "granted", "source": "api"},
            {"fbp": FBP, "state": "denied", "source": "api"},
        ]
        for spoof in spoofs:
            r = await post(client, spoof, path=CONSENT, ua="Mozilla/5.0 Firefox/128.0")
            assert r.status_code == 403, r.text
            assert r.json()["error"]["field"] == "consent_token"
        for state in ("granted", "denied"):
            # a token of its own (any well-formed one): 204, as for the right one, and no effect
            r = await post(
                client, {"fbp": FBP, "consent_token": TOKEN, "state": state}, path=CONSENT
            )
            assert (r.status_code, r.content) == (204, b"")
        # nor through /collect: an event naming the fbp with a decision is that page's own
        copy = event(clock, event_name="Lead", event_id="lead-1", consent="granted")
        fresh = event(clock, event_id="evt-9", consent="granted")
        assert (await post(client, {"events": [copy, fresh]})).status_code == 200
        (trail,) = await event_trail(store, "lead-1")
        assert trail.status == "held"
        # the browser's own token releases it
        r = await post(client, {"consent_token": token, "state": "granted"}, path=CONSENT)
        assert (r.status_code, r.content) == (204, b"")
        (trail,) = await event_trail(store, "lead-1")
        assert trail.status == "queued"
        assert "consent granted (script)" in (trail.consent_reason or "")


async def test_another_page_cannot_decide_ahead_for_a_browser(
    sqlite_url: str, clock: FrozenClock
) -> None:
    """A decision recorded by a page (granted for a victim's fbp, before the victim's events
    arrive) does not decide for events of the victim's browser; its own decision does."""
    async with gateway(sqlite_url, clock) as (client, store):
        r = await post(
            client, {"fbp": FBP, "consent_token": TOKEN, "state": "granted"}, path=CONSENT
        )
        assert r.status_code == 204
        pre = event(clock, event_id="evt-0", consent="granted")
        assert (await post(client, {"events": [pre]})).status_code == 200
        token = await held_lead(client, store, clock)  # still held
        r = await post(client, {"consent_token": token, "state": "granted"}, path=CONSENT)
        assert r.status_code == 204
        later = event(clock, event_name="Lead", event_id="lead-2", consent="pending")
        r = await post(client, {"events": [later], "consent_token": token})
        assert r.status_code == 200
        (trail,) = await event_trail(store, "lead-2")
        assert trail.status == "queued"
        assert "given earlier" in (trail.consent_reason or "")
        # another browser with the same fbp (no token: given a new one) is still held
        other = event(clock, event_name="Lead", event_id="lead-3", consent="pending")
        assert (await post(client, {"events": [other]})).status_code == 200
        (trail,) = await event_trail(store, "lead-3")
        assert trail.status == "held"


async def test_the_consent_token_is_stored_only_hashed(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        token = await held_lead(client, store, clock)
        r = await post(client, {"consent_token": token, "state": "denied"}, path=CONSENT)
        assert r.status_code == 204
        mine = event(clock, event_name="Lead", event_id="lead-4", consent="pending")
        assert (await post(client, {"events": [mine], "consent_token": TOKEN})).status_code == 200
        tables = [
            r[0] for r in await fetch(store, "SELECT name FROM sqlite_master WHERE type='table'")
        ]
        dump = b""
        for table in tables:
            for row in await fetch(store, f"SELECT * FROM {table}"):
                dump += repr(tuple(row)).encode()
        for secret in (token, TOKEN):
            assert secret.encode() not in dump
        key = token_key(token)
        assert key.encode() in dump  # what is stored: its SHA-256
        recorded = await fetch(store, "SELECT subject, state FROM consent_subjects")
        assert [tuple(r) for r in recorded] == [(key, "denied")]
        holds = await fetch(store, "SELECT subject FROM consent_holds")
        assert sorted(r[0] for r in holds) == sorted([subject_key(FBP, "fbp"), token_key(TOKEN)])


async def test_collect_checks_the_consent_token(sqlite_url: str, clock: FrozenClock) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        for bad in ("x" * 21, "a" * 65, "not a token!!!!!!!!!!!!!!", 12345):
            r = await post(client, {"events": [event(clock)], "consent_token": bad})
            assert (r.status_code, r.json()["error"]["field"]) == (400, "consent_token")
        assert await stored(store) == []
        r = await post(client, {"events": [event(clock)], "consent_token": TOKEN})
        assert r.status_code == 200 and "consent_token" not in r.json()
        first = (await post(client, {"events": [event(clock, event_id="a")]})).json()
        second = (await post(client, {"events": [event(clock, event_id="b")]})).json()
        assert first["consent_token"] != second["consent_token"]  # one per browser
