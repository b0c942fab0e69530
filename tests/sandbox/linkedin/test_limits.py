"""Limits: 1 to 5,000 elements per BATCH_CREATE, the body size, the 90-day age window."""

from __future__ import annotations

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from signalyard.clock import FrozenClock
from signalyard.sandbox.linkedin import SandboxState, create_app

from .factory import BATCH, EVENTS, element, post

pytestmark = pytest.mark.anyio


async def test_5000_elements_are_taken_5001_refused(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    many = [element(f"e{i}") for i in range(5000)]
    response = await post(client, many)
    assert response.status_code == 200 and len(response.json()["elements"]) == 5000
    response = await post(client, [*many, element("one-more")])
    assert response.status_code == 400
    assert "5001 exceeds the maximum of 5000" in response.json()["message"]


async def test_an_empty_or_missing_batch_is_refused(client: httpx.AsyncClient) -> None:
    assert (await post(client, [])).status_code == 400
    response = await client.post(EVENTS, json={}, headers=BATCH)
    assert response.status_code == 400
    assert response.json()["message"].startswith("ERROR :: /elements :: field is required")
    response = await client.post(EVENTS, json={"elements": {}}, headers=BATCH)
    assert response.status_code == 400
    response = await client.post(EVENTS, content=b"{not json", headers=BATCH)
    assert response.status_code == 400 and "parse" in response.json()["message"]
    response = await client.post(EVENTS, content=b"", headers=BATCH)
    assert response.status_code == 400


async def test_a_body_over_the_limit_is_413(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock)
    app: Starlette = create_app(clock=clock, state=state, max_body_bytes=2000)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        body = orjson.dumps({"elements": [element(f"e{i}") for i in range(20)]})
        response = await client.post(EVENTS, content=body, headers=BATCH)
        assert response.status_code == 413
        assert response.json()["status"] == 413
        assert state.events() == []


async def test_the_age_window_edges(client: httpx.AsyncClient) -> None:
    inside = element("inside", age=90 * 86400 - 60)
    outside = element("outside", age=90 * 86400 + 1)
    soon = element("soon", age=-300)  # five minutes ahead: clock skew
    response = await post(client, [inside, outside, soon])
    assert [e["status"] for e in response.json()["elements"]] == [201, 400, 201]
