"""Reddit's limits: 1 to 1,000 events per request, event_at under 168 hours, the body size."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.reddit import SandboxState, create_app

from .factory import EVENTS, HEADERS, body, event, post

pytestmark = pytest.mark.anyio


async def test_a_thousand_events_pass_one_more_does_not(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    many = [event(f"e{i}") for i in range(1000)]
    assert (await post(client, body(*many))).status_code == 200
    assert len(state.events()) == 1000
    reply = await post(client, body(*many, event("one-more")))
    assert reply.status_code == 400
    assert "at most 1000 conversion events" in reply.json()["error"]["message"]
    assert len(state.events()) == 1000


async def test_no_events(client: httpx.AsyncClient) -> None:
    for payload in ({"events": []}, {"test_mode": True}):
        reply = await post(client, payload)
        assert reply.status_code == 400
        assert "at least one conversion event" in reply.json()["error"]["message"]


@pytest.mark.parametrize(("age", "ok"), [(168 * 3600 - 1, True), (168 * 3600, False)])
async def test_the_168_hour_window(client: httpx.AsyncClient, age: int, ok: bool) -> None:
    reply = await post(client, body(event(age=age)))
    assert (reply.status_code == 200) is ok


async def test_a_body_over_the_limit_is_413(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock)
    app = create_app(clock=clock, state=state, max_body_bytes=2048)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        reply = await c.post(
            EVENTS, json=body(*[event(f"e{i}") for i in range(20)]), headers=HEADERS
        )
    assert reply.status_code == 413 and reply.json()["error"]["code"] == 413
    assert state.events() == [] and state.requests()[0].status == 413


async def test_recordings_are_bounded(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock, max_events=5, max_requests=2)
    app = create_app(clock=clock, state=state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        for i in range(3):
            await post(c, body(*[event(f"r{i}-{j}") for j in range(3)]))
    assert len(state.events()) == 5 and len(state.requests()) == 2
    assert state.summary()["totals"]["accepted"] == 9  # counters survive eviction
