"""Routes, the answer's shape and the Access-Token checks."""

from __future__ import annotations

import re

import httpx
import pytest

from signalyard.sandbox.tiktok import SandboxState

from .factory import TRACK, answer, body, event, track

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("path", [TRACK, TRACK.rstrip("/")])
async def test_track_with_and_without_the_final_slash(
    client: httpx.AsyncClient, state: SandboxState, path: str
) -> None:
    r = await track(client, body(event()), path=path)
    out = answer(r, 0)
    assert out["message"] == "OK"
    assert out["data"] == {}
    assert r.headers["content-type"].startswith("application/json")
    assert [e.event_id for e in state.events()] == ["order-1"]


async def test_request_id_looks_like_tiktoks(client: httpx.AsyncClient) -> None:
    out = answer(await track(client, body(event())), 0)
    # The UTC time of the clock (1_800_000_000 = 2027-01-15 08:00:00), then 20 hex digits.
    assert re.fullmatch(r"20270115080000[0-9A-F]{20}", out["request_id"])


async def test_only_post(client: httpx.AsyncClient) -> None:
    assert (await client.get(TRACK)).status_code == 405


async def test_control_index(client: httpx.AsyncClient) -> None:
    r = await client.get("/_sandbox")
    assert r.json()["sandbox"] == "tiktok"
    assert f"POST {TRACK}" in r.json()["endpoints"]


async def test_missing_token(client: httpx.AsyncClient, state: SandboxState) -> None:
    out = answer(await track(client, body(event()), token=None), 40104)
    assert out["message"] == "Access token is null, you should set it in http header."
    assert state.events() == []
    (logged,) = state.requests()
    assert (logged.status, logged.code, logged.token_sha256_prefix) == (200, 40104, None)


@pytest.mark.parametrize(
    "token", [b"short", b"has a space inside it", b"tab\tinside-the-token", "\u00e9".encode() * 12]
)
async def test_malformed_token(client: httpx.AsyncClient, token: bytes) -> None:
    r = await client.post(TRACK, json=body(event()), headers={b"Access-Token": token})
    out = answer(r, 40105)
    assert out["message"] == "Access token is incorrect or has been revoked."


async def test_any_well_formed_token_is_accepted(client: httpx.AsyncClient) -> None:
    answer(await track(client, body(event("a")), token="any-well-formed-token-1"), 0)
    answer(await track(client, body(event("b")), token="0123456789abcdef"), 0)


async def test_tokens_are_never_kept(client: httpx.AsyncClient, state: SandboxState) -> None:
    await track(client, body(event()), token="the-secret-token-value")
    listed = (await client.get("/_sandbox/requests")).text
    assert "the-secret-token-value" not in listed
    assert state.requests()[0].token_sha256_prefix is not None


async def test_not_json(client: httpx.AsyncClient, state: SandboxState) -> None:
    r = await client.post(
        TRACK,
        content=b"event=Purchase",
        headers={"Access-Token": "0123456789abcdef", "content-type": "application/json"},
    )
    assert answer(r, 40002)["message"] == "body: Not a valid JSON object"
    assert state.events() == []


async def test_mounted_under_a_prefix(state: SandboxState) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from signalyard.sandbox.bodies import own_reader
    from signalyard.sandbox.tiktok import create_app

    gateway = Starlette(
        routes=[Mount("/sandbox/tiktok", app=create_app(state=state, bodies=own_reader(10**6)))]
    )
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        answer(await track(c, body(event()), path="/sandbox/tiktok" + TRACK), 0)
        assert (await c.get("/sandbox/tiktok/_sandbox/summary")).status_code == 200
    assert len(state.events()) == 1


async def test_a_preflight_check_is_a_recorded_test_event(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    """What a sink's ``destinations check`` sends: one event with a test_event_code."""
    check = body(event("signalyard-check", name="ViewContent"), test_event_code="SIGNALYARD")
    answer(await track(client, check), 0)
    (rec,) = state.events(test=True)
    assert rec.test_event_code == "SIGNALYARD"
    assert state.events(test=False) == []
