"""The routes Snap serves and its token rule: the ``access_token`` query parameter."""

from __future__ import annotations

import httpx
import pytest

from signalyard.sandbox.snapchat import SandboxState

from .factory import EVENTS, PIXEL, TOKEN, VALIDATE, body, event, invalid, post

pytestmark = pytest.mark.anyio


async def test_a_valid_request_is_taken(client: httpx.AsyncClient, state: SandboxState) -> None:
    r = await post(client, body(event()))
    assert r.status_code == 200
    assert r.json() == {"status": "VALID", "reason": "Events have been processed successfully."}
    (rec,) = state.events()
    assert rec.asset_id == PIXEL and rec.status == "accepted" and not rec.test


async def test_no_token(client: httpx.AsyncClient, state: SandboxState) -> None:
    invalid(await post(client, body(event()), token=None), 401, "MISSING_ACCESS_TOKEN")
    assert state.events() == []
    (req,) = state.requests()
    assert req.status == 401 and req.token_sha256_prefix is None


@pytest.mark.parametrize("token", ["short", "has a space in it", "tökentökentöken"])
async def test_a_malformed_token(client: httpx.AsyncClient, token: str) -> None:
    invalid(await post(client, body(event()), token=token), 401, "INVALID_ACCESS_TOKEN")


async def test_a_token_in_a_header_is_not_snap_s_way(client: httpx.AsyncClient) -> None:
    r = await client.post(EVENTS, json=body(event()), headers={"Authorization": f"Bearer {TOKEN}"})
    invalid(r, 401, "MISSING_ACCESS_TOKEN")


async def test_the_token_is_never_kept(client: httpx.AsyncClient, state: SandboxState) -> None:
    await post(client, body(event()))
    (req,) = state.requests()
    assert req.token_sha256_prefix and len(req.token_sha256_prefix) == 12
    r = await client.get("/_sandbox/requests")
    assert TOKEN not in r.text


async def test_unknown_paths_and_methods(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v2/conversion", json={})).status_code == 404
    assert (await client.get(EVENTS, params={"access_token": TOKEN})).status_code == 405


async def test_validate_answers_one_log_per_event_and_records_test_events(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    r = await post(client, body(event("a"), event("b", event_time="x")), path=VALIDATE)
    assert r.status_code == 200
    out = r.json()
    assert out["status"] == "INVALID" and out["test_event"] is True
    ok, bad = out["event_logs"]
    assert ok == {"event": 0, "status": "VALID", "warnings": []}
    assert bad["status"] == "INVALID" and "data[1].event_time" in bad["errors"]["error_msgs"][0]
    assert all(e.test for e in state.events())
    assert await state_live(client) == 0


async def state_live(client: httpx.AsyncClient) -> int:
    r = await client.get(f"{VALIDATE}/stats", params={"access_token": TOKEN})
    assert r.status_code == 200 and r.json()["status"] == "SUCCESS"
    return int(r.json()["stats"]["live"]["event_count_past_hour"])


async def test_validate_logs_and_stats(client: httpx.AsyncClient) -> None:
    await post(client, body(event("t1")), path=VALIDATE)
    await post(client, body(event("l1"), event("l2")))
    r = await client.get(f"{VALIDATE}/stats", params={"access_token": TOKEN})
    stats = r.json()["stats"]
    assert stats["test"]["event_count_past_hour"] == 1
    assert stats["live"]["event_count_past_hour"] == 2
    logs = (await client.get(f"{VALIDATE}/logs", params={"access_token": TOKEN})).json()
    (log,) = logs["logs"]
    assert log["event_name"] == "PURCHASE" and log["status"] == "VALID"
    assert "user_data" not in str(log) and "203.0.113.7" not in str(log)
    assert (await client.get(f"{VALIDATE}/logs")).status_code == 401
    assert (await client.get(f"{VALIDATE}/stats", params={"access_token": "x"})).status_code == 401
