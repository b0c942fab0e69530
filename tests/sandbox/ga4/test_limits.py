"""GA4's limits: 25 events per request, 130 kB per body, 72 hours back; a body the reader
cannot take gets Google's 413 page."""

from __future__ import annotations

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from signalyard.clock import FrozenClock
from signalyard.sandbox.ga4 import SandboxState, create_app

from .factory import NOW, body, collect, event, messages, query

pytestmark = pytest.mark.anyio


async def test_25_events_pass_26_do_not(client: httpx.AsyncClient, state: SandboxState) -> None:
    assert await messages(client, body(*[event(event_id=f"e{i}") for i in range(25)])) == []
    (message,) = await messages(client, body(*[event(event_id=f"e{i}") for i in range(26)]))
    assert (message["fieldPath"], message["validationCode"]) == (
        "events",
        "EXCEEDED_MAX_ENTITIES",
    )
    await collect(client, body(*[event(event_id=f"e{i}") for i in range(26)]))
    assert len(state.events(status="dropped")) == 26


async def test_a_body_over_130_kb(client: httpx.AsyncClient) -> None:
    items = [{"item_id": f"sku-{i}", "item_name": "n" * 95} for i in range(1200)]
    payload = body(event(items=items))
    assert len(orjson.dumps(payload)) > 130 * 1024
    found = await messages(client, payload)
    assert [m["validationCode"] for m in found] == ["VALUE_OUT_OF_BOUNDS"]
    assert "130 kB" in found[0]["description"]
    small = body(event(items=items[:100]))
    assert await messages(client, small) == []


@pytest.mark.parametrize(("hours", "valid"), [(71.9, True), (72.1, False)])
async def test_72_hours_back(client: httpx.AsyncClient, hours: float, valid: bool) -> None:
    payload = body(timestamp_micros=int((NOW - hours * 3600) * 1_000_000))
    assert (await messages(client, payload) == []) is valid


async def test_a_body_over_what_the_reader_takes_gets_413() -> None:
    clock = FrozenClock(NOW)
    state = SandboxState(clock=clock)
    app: Starlette = create_app(clock=clock, state=state, max_body_bytes=2048)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        response = await client.post("/mp/collect", params=query(), content=b"x" * 5000)
    assert response.status_code == 413 and "That's an error" in response.text
    assert state.events() == [] and state.requests()[0].status == 413


async def test_the_recording_is_bounded() -> None:
    clock = FrozenClock(NOW)
    state = SandboxState(clock=clock, max_events=3)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(clock=clock, state=state)),
        base_url="http://sandbox",
    ) as client:
        await collect(client, body(*[event(event_id=f"e{i}") for i in range(5)]))
    assert [e.event_id for e in state.events()] == ["e4", "e3", "e2"]
    assert state.summary()["totals"]["received"] == 5
