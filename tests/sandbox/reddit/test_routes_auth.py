"""Routes and the Authorization header, answered as Reddit answers them."""

from __future__ import annotations

import httpx
import pytest

from signalyard.sandbox.reddit import SandboxState

from .factory import ACCOUNT, EVENTS, TOKEN, body, event, post

pytestmark = pytest.mark.anyio


async def test_a_good_request(client: httpx.AsyncClient, state: SandboxState) -> None:
    reply = await post(client, body(event("a"), event("b")))
    assert reply.status_code == 200
    assert reply.json() == {"message": "Successfully processed 2 conversion events."}
    assert reply.headers["x-request-id"]
    assert [e.conversion_id for e in state.events()] == ["b", "a"]
    (request,) = state.requests()
    assert request.ad_account_id == ACCOUNT and request.accepted == 2
    assert request.token_sha256_prefix and TOKEN not in repr(request.to_json())


async def test_a_trailing_slash_is_the_same_route(client: httpx.AsyncClient) -> None:
    reply = await post(client, body(event()), path=EVENTS + "/")
    assert reply.status_code == 200


async def test_no_token_is_plain_text_401(client: httpx.AsyncClient, state: SandboxState) -> None:
    reply = await post(client, body(event()), headers={})
    assert reply.status_code == 401 and reply.text == "Authorization Required"
    assert state.events() == []


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer short", "Bearer two words here", TOKEN]
)
async def test_a_malformed_token_is_unauthorized(client: httpx.AsyncClient, header: str) -> None:
    reply = await post(client, body(event()), headers={"Authorization": header})
    assert reply.status_code == 401
    assert reply.json()["success"] is False
    assert reply.json()["error"]["reason"] == "UNAUTHORIZED"


async def test_another_path_is_not_found(client: httpx.AsyncClient) -> None:
    reply = await post(client, body(event()), path="/api/v3/pixels/x/conversion_events")
    assert reply.status_code == 404
    reply = await client.get(EVENTS)
    assert reply.status_code == 405
