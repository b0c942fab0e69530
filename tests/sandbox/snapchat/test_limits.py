"""Snap's limits: 1 to 2,000 events a request, events up to 37 days old, a body of at most
``max_body_bytes`` (the proxy's 413 past it), and a body that is a JSON object."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.snapchat import SandboxState, create_app

from .factory import EVENTS, NOW, TOKEN, body, event, invalid, post

pytestmark = pytest.mark.anyio


async def test_2000_events_are_taken_2001_are_not(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    many = [event(f"e{i}") for i in range(2000)]
    assert (await post(client, body(*many))).status_code == 200
    assert len(state.events()) == 2000
    out = invalid(await post(client, body(*many, event("x"))), 400, "INVALID_DATA")
    assert "between 1 and 2000" in out["reason"] and "event" not in out


@pytest.mark.parametrize(
    ("payload", "code"),
    [({"data": []}, "INVALID_DATA"), ({}, "INVALID_DATA"), ({"data": {}}, "INVALID_DATA"),
     ([1, 2], "INVALID_REQUEST_BODY")],
)  # fmt: skip
async def test_the_request_shape(client: httpx.AsyncClient, payload: object, code: str) -> None:
    invalid(await post(client, payload), 400, code)


async def test_a_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    for raw in (b"", b"{nope"):
        r = await client.post(EVENTS, content=raw, params={"access_token": TOKEN})
        invalid(r, 400, "INVALID_REQUEST_BODY")


async def test_the_age_window_is_37_days(client: httpx.AsyncClient) -> None:
    assert (await post(client, body(event(age=37 * 86400 - 60)))).status_code == 200
    out = invalid(await post(client, body(event(age=37 * 86400 + 60))), 400, "INVALID_EVENT")
    assert out["event"] == 0 and "37 days" in out["reason"]


async def test_a_body_too_large_gets_the_proxy_page() -> None:
    clock = FrozenClock(NOW)
    state = SandboxState(clock=clock)
    app = create_app(clock=clock, state=state, max_body_bytes=2048)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://s"
    ) as client:
        r = await post(client, body(*[event(f"e{i}") for i in range(20)]))
    assert r.status_code == 413 and "text/html" in r.headers["content-type"]
    assert state.events() == []


async def test_recordings_are_bounded() -> None:
    clock = FrozenClock(NOW)
    state = SandboxState(clock=clock, max_events=5, max_requests=2)
    app = create_app(clock=clock, state=state)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://s"
    ) as client:
        for i in range(3):
            await post(client, body(*[event(f"r{i}-{j}") for j in range(4)]))
    assert len(state.events()) == 5 and len(state.requests()) == 2
    assert state.summary()["totals"]["accepted"] == 12  # counters survive eviction
