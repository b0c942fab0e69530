"""Limits (events per request, body size) and deduplication by event_id."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.pinterest import SandboxState, create_app

from .factory import ACCOUNT, EVENTS, HEADERS, body, event

pytestmark = pytest.mark.anyio


async def test_1000_events_pass_and_1001_are_refused(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    ok = await client.post(
        EVENTS, json=body(*[event(f"e{i}") for i in range(1000)]), headers=HEADERS
    )
    assert ok.status_code == 200 and ok.json()["num_events_processed"] == 1000
    refused = await client.post(
        EVENTS, json=body(*[event(f"f{i}") for i in range(1001)]), headers=HEADERS
    )
    assert refused.status_code == 400 and "1 to 1000 events" in refused.json()["message"]
    assert len(state.events()) == 1000


async def test_a_body_over_the_limit_gets_the_proxy_s_413(clock: FrozenClock) -> None:
    app = create_app(clock=clock, max_body_bytes=2000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        big = body(*[event(f"e{i}") for i in range(20)])
        response = await client.post(EVENTS, json=big, headers=HEADERS)
    assert response.status_code == 413 and response.headers["content-type"] == "text/plain"


async def test_a_web_event_sent_again_is_deduplicated_within_48_hours(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await client.post(EVENTS, json=body(event("order-1")), headers=HEADERS)
    await client.post(EVENTS, json=body(event("order-1")), headers=HEADERS)
    other_name = event("order-1", event_name="add_to_cart")
    await client.post(EVENTS, json=body(other_name), headers=HEADERS)
    second, first = state.events(event_name="checkout")
    assert first.dedup == "kept" and second.dedup == "deduplicated"
    assert second.dedup_of == first.seq
    (cart,) = state.events(event_name="add_to_cart")
    assert cart.dedup == "kept"  # the key is (ad account, event name, event id)
    clock.advance(48 * 3600)
    await client.post(
        EVENTS,
        json=body(event("order-1", event_time=int(clock.now()) - 60)),
        headers=HEADERS,
    )
    assert state.events(event_name="checkout")[0].dedup == "kept"
    counts = state.summary()["ad_accounts"][ACCOUNT]["events"]["checkout"]
    assert counts["deduplicated"] == 1 and counts["processed"] == 3


async def test_offline_events_are_never_deduplicated(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    for _ in range(2):
        offline = event("store-1", action_source="offline")
        await client.post(EVENTS, json=body(offline), headers=HEADERS)
    assert [e.dedup for e in state.events()] == ["offline", "offline"]


async def test_test_events_are_never_deduplicated(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await client.post(EVENTS + "?test=true", json=body(event("t-1")), headers=HEADERS)
    await client.post(EVENTS, json=body(event("t-1")), headers=HEADERS)
    live, test = state.events()
    assert test.test and live.dedup == "kept"
