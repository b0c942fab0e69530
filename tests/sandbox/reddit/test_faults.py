"""Fault injection through ``/_sandbox/faults``: Reddit's failures on purpose."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.reddit import SandboxState
from signalyard.sandbox.reddit.conformance import fault, received

from .factory import ACCOUNT, TOKEN, body, event, post

pytestmark = pytest.mark.anyio


async def add(client: httpx.AsyncClient, spec: object) -> httpx.Response:
    return await client.post("/_sandbox/faults", json=spec)


async def test_server_error_then_recovery(client: httpx.AsyncClient, state: SandboxState) -> None:
    assert (
        await add(client, {"kind": "server_error", "status": 503, "count": 1})
    ).status_code == 201
    reply = await post(client, body(event("a")))
    assert reply.status_code == 503 and reply.json()["error"]["code"] == 503
    assert state.events() == []
    assert (await post(client, body(event("a")))).status_code == 200
    assert state.requests()[1].fault_kind == "server_error"


async def test_throttle(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "throttle", "retry_after": 7, "count": 1})
    reply = await post(client, body(event()))
    assert reply.status_code == 429 and reply.headers["retry-after"] == "7"


async def test_expired_token_for_one_token_only(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "expired_token", "token": TOKEN})
    reply = await post(client, body(event()))
    assert reply.status_code == 401 and reply.json()["error"]["reason"] == "UNAUTHORIZED"
    other = {"Authorization": "Bearer anotherwellformedtoken123"}
    assert (await post(client, body(event()), headers=other)).status_code == 200


async def test_invalid_event_names_the_event(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await add(client, {"kind": "invalid_event", "conversion_ids": ["b"]})
    reply = await post(client, body(event("a"), event("b")))
    assert reply.status_code == 400
    (item,) = reply.json()["invalid_events"]
    assert item["event"]["event_metadata"]["conversion_id"] == "b"
    assert "sandbox fault invalid_event" in item["error_message"]
    assert (await post(client, body(event("a")))).status_code == 200
    assert received(state) == ["a"]


async def test_a_fault_scoped_to_another_account_does_not_apply(
    client: httpx.AsyncClient,
) -> None:
    await add(client, {"kind": "server_error", "ad_account_id": "a2_other"})
    assert (await post(client, body(event()))).status_code == 200
    await add(client, {"kind": "server_error", "ad_account_id": ACCOUNT, "seconds": 60})
    assert (await post(client, body(event()))).status_code == 500


async def test_timeout_delays_after_recording(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await add(client, {"kind": "timeout", "delay": 5, "count": 1})
    before = clock.now()
    assert (await post(client, body(event("t")))).status_code == 200
    assert clock.now() - before == 5 and len(state.events()) == 1


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "nope"},
        {"kind": "server_error", "status": 404},
        {"kind": "throttle", "retry_after": 0},
        {"kind": "invalid_event"},
        {"kind": "invalid_event", "conversion_ids": []},
        {"kind": "server_error", "partial": True},
        {"kind": "expired_token", "ad_account_id": ""},
    ],
)
async def test_bad_fault_specs(client: httpx.AsyncClient, spec: object) -> None:
    reply = await add(client, spec)
    assert reply.status_code == 400 and reply.json()["error"]


async def test_listing_and_removing_faults(client: httpx.AsyncClient) -> None:
    created = (await add(client, [{"kind": "throttle"}, {"kind": "expired_token"}])).json()
    ids = [f["id"] for f in created["faults"]]
    listed = (await client.get("/_sandbox/faults")).json()["faults"]
    assert [f["id"] for f in listed] == ids and listed[1]["token_sha256_prefix"] is None
    assert (await client.delete(f"/_sandbox/faults/{ids[0]}")).json() == {"removed": 1}
    assert (await client.delete("/_sandbox/faults")).json() == {"removed": 1}


def test_the_conformance_words() -> None:
    assert fault("expired_credential") == {"kind": "expired_token"}
    assert fault("invalid_event", event_ids=["c-7"], count=1) == {
        "kind": "invalid_event",
        "conversion_ids": ["c-7"],
        "count": 1,
    }
    assert fault("throttle") == {"kind": "throttle"}
