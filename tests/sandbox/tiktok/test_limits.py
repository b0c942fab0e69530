"""The sandbox's memory is bounded by its limits, not by what senders post: a byte budget on
the recorded events, long strings cut in what it stores, a body limit with the proxy's
answer, bounded statistics."""

from __future__ import annotations

import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.bodies import MAX_CONTROL_BODY
from signalyard.sandbox.clip import MAX_STORED_EVENT, MAX_STRING, TRUNCATED_KEY
from signalyard.sandbox.tiktok import SandboxState, create_app
from signalyard.sandbox.tiktok.body import MAX_BODY_BYTES
from signalyard.sandbox.tiktok.recorder import MAX_SOURCES, OTHER_SOURCES, footprint
from signalyard.sandbox.tiktok.stats import MAX_NAMES, OTHER_NAMES
from signalyard.sandbox.tiktok.validate import check_events, check_request

from .factory import HEADERS, PIXEL, TRACK, answer, body, event, track

pytestmark = pytest.mark.anyio


def _client(
    state: SandboxState, clock: FrozenClock, max_body_bytes: int = MAX_BODY_BYTES
) -> httpx.AsyncClient:
    app = create_app(clock=clock, state=state, max_body_bytes=max_body_bytes)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


def _bulky(event_id: str, fields: int, size: int) -> dict[str, object]:
    """An event carrying ``fields`` custom properties of ``size`` characters."""
    custom = {f"note_{i}": "x" * size for i in range(fields)}
    return event(event_id, properties={"value": 1.0, "currency": "USD", **custom})


async def test_the_byte_budget_holds_while_events_keep_arriving(clock: FrozenClock) -> None:
    budget = 400_000
    state = SandboxState(clock=clock, max_bytes=budget)
    async with _client(state, clock) as c:
        for r in range(30):
            events = [_bulky(f"r{r}-{i}", fields=20, size=1000) for i in range(50)]
            answer(await track(c, body(*events)), 0)
            assert 0 < state.bytes_held <= budget
            held = state.events(limit=None)
            assert held[0].event_id == f"r{r}-49"  # the newest kept, the oldest dropped
            assert state.bytes_held == sum(footprint(e) for e in held)
    summary = state.summary()
    assert summary["event_sources"][PIXEL]["events_received"] == 1500
    assert state.event_count < 30
    assert summary["totals"]["bytes_held"] == state.bytes_held
    assert summary["totals"]["max_bytes"] == budget


async def test_the_event_count_is_bounded(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock, max_events=10)
    async with _client(state, clock) as c:
        answer(await track(c, body(*[event(f"e{i}") for i in range(25)])), 0)
    assert [e.event_id for e in state.events(limit=None)] == [f"e{i}" for i in range(24, 14, -1)]
    assert state.summary()["totals"]["accepted"] == 25  # counters survive the eviction


async def test_long_strings_are_cut_in_what_is_stored(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    ua = "Mozilla/5.0 " + "A" * 30_000
    ev = event("order-long")
    ev["user"]["user_agent"] = ua
    answer(await track(client, body(ev)), 0)
    (rec,) = state.events(limit=None)
    stored = rec.event
    kept = stored["user"]["user_agent"]
    assert kept.startswith(ua[:MAX_STRING]) and "more characters" in kept
    assert "1 string value(s) cut" in stored[TRUNCATED_KEY]
    assert stored["user"]["email"] == ev["user"]["email"]
    assert len(rec.payload) < 3000
    shown = (await client.get("/_sandbox/events")).json()["events"][0]["data"]
    assert shown == stored


async def test_an_event_too_large_once_cut_is_stored_as_a_placeholder(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    answer(await track(client, body(_bulky("order-huge", fields=200, size=1000))), 0)
    (rec,) = state.events(limit=None)
    assert len(rec.payload) < 1000
    assert rec.event["event_id"] == "order-huge"
    assert f"up to {MAX_STORED_EVENT} bytes" in rec.event[TRUNCATED_KEY]
    assert rec.event_name == "CompletePayment"


async def test_a_body_over_the_limit_gets_the_proxys_413(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock)
    async with _client(state, clock, max_body_bytes=2000) as c:
        answer(await track(c, body(event("fits"))), 0)
        big = await track(c, body(_bulky("too-big", fields=3, size=1000)))
    assert big.status_code == 413
    assert "413 Request Entity Too Large" in big.text and "nginx" in big.text
    assert [e.event_id for e in state.events(limit=None)] == ["fits"]
    assert state.requests(limit=1)[0].status == 413


async def test_the_default_body_limit_is_the_gateways(client: httpx.AsyncClient) -> None:
    assert MAX_BODY_BYTES == 8 * 1024 * 1024
    padding = "p" * (MAX_BODY_BYTES + 1)
    r = await client.post(
        TRACK,
        content=orjson.dumps(body(event("padded"), partner_name=padding)),
        headers={**HEADERS, "content-type": "application/json"},
    )
    assert r.status_code == 413


async def test_control_bodies_are_bounded(client: httpx.AsyncClient) -> None:
    huge = [{"kind": "server_error", "note": "z" * 1000}] * (MAX_CONTROL_BODY // 1000)
    r = await client.post("/_sandbox/faults", json=huge)
    assert r.status_code == 413
    assert str(MAX_CONTROL_BODY) in r.json()["error"]


async def test_distinct_event_names_and_sources_are_bounded(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    names = [event(f"e{i}", name=f"Custom{i}-" + "n" * 300) for i in range(MAX_NAMES + 20)]
    answer(await track(client, body(*names[:1000])), 0)
    answer(await track(client, body(*names[1000:])), 0)
    counted = state.summary()["event_sources"][PIXEL]["events"]
    assert len(counted) == MAX_NAMES + 1
    assert counted[OTHER_NAMES]["received"] == 20
    assert all(len(name) < 200 for name in counted)
    for i in range(MAX_SOURCES + 5):
        req = check_request(body(event("x"), event_source_id=f"C{i:019d}"))
        checked = check_events(req, state.clock.now())
        state.record_events(req, checked, received_at=state.clock.now(), request_id="r")
    sources = state.summary()["event_sources"]
    assert len(sources) == MAX_SOURCES + 1 and OTHER_SOURCES in sources


async def test_request_records_cut_what_the_body_carries(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    answer(await track(client, body(event(), event_source_id="C" * 5000)), 0)
    (rec,) = state.requests(limit=None)
    assert rec.event_source_id is not None and len(rec.event_source_id) < 200
    (ev,) = state.events()
    assert len(ev.event_source_id) < 200
