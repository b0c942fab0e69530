"""Faults injected through ``/_sandbox/faults``: Snap's failures on purpose."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.snapchat import SPEC, SandboxState

from .factory import PIXEL, TOKEN, VALIDATE, body, event, invalid, post

pytestmark = pytest.mark.anyio


async def add(client: httpx.AsyncClient, spec: Any) -> dict[str, Any]:
    r = await client.post("/_sandbox/faults", json=spec)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_server_error_json_then_page_then_gone(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await add(client, [{"kind": "server_error", "status": 503, "count": 1},
                       {"kind": "server_error", "page": True, "count": 1}])  # fmt: skip
    invalid(await post(client, body(event())), 503, "INTERNAL_ERROR")
    r = await post(client, body(event()))
    assert r.status_code == 500 and "<html>" in r.text
    assert state.events() == []
    assert (await post(client, body(event()))).status_code == 200


async def test_throttle_says_when(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "throttle", "retry_after": 9, "count": 1})
    r = await post(client, body(event()))
    invalid(r, 429, "RATE_LIMIT_EXCEEDED")
    assert r.headers["retry-after"] == "9"


async def test_expired_token_for_one_token_only(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "expired_token", "token": TOKEN})
    invalid(await post(client, body(event())), 401, "EXPIRED_ACCESS_TOKEN")
    invalid(await post(client, body(event()), path=VALIDATE), 401, "EXPIRED_ACCESS_TOKEN")
    assert (await post(client, body(event()), token="another-token-123")).status_code == 200


async def test_invalid_event_names_its_index(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await add(client, {"kind": "invalid_event", "event_ids": ["b"]})
    out = invalid(await post(client, body(event("a"), event("b"))), 400, "INVALID_EVENT")
    assert out["event"] == 1 and "'b'" in out["reason"]
    assert (await post(client, body(event("a")))).status_code == 200


async def test_timeout_records_then_delays(clock: FrozenClock, client: httpx.AsyncClient,
                                           state: SandboxState) -> None:  # fmt: skip
    await add(client, {"kind": "timeout", "delay": 5, "count": 1})
    start = clock.now()
    assert (await post(client, body(event("t")))).status_code == 200
    assert clock.now() - start >= 5
    assert [e.event_id for e in state.events()] == ["t"]


async def test_scoped_to_an_asset(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "server_error", "asset_id": "other-pixel"})
    assert (await post(client, body(event()))).status_code == 200
    await add(client, {"kind": "server_error", "asset_id": PIXEL, "count": 1})
    assert (await post(client, body(event()))).status_code == 500


@pytest.mark.parametrize(
    "spec",
    [{"kind": "nope"}, {"kind": "server_error", "status": 404},
     {"kind": "throttle", "retry_after": 0}, {"kind": "invalid_event"},
     {"kind": "invalid_event", "event_ids": []}, {"kind": "server_error", "page": "yes"},
     {"kind": "expired_token", "token": ""}, {"kind": "timeout", "status": 500},
     {"kind": "server_error", "asset_id": ""}],
)  # fmt: skip
async def test_bad_fault_specs(client: httpx.AsyncClient, spec: Any) -> None:
    r = await client.post("/_sandbox/faults", json=spec)
    assert r.status_code == 400 and r.json()["error"]


async def test_listing_and_removing(client: httpx.AsyncClient) -> None:
    fault = (await add(client, {"kind": "expired_token", "token": TOKEN}))["fault"]
    assert fault["token_sha256_prefix"] and TOKEN not in str(fault)
    listed = (await client.get("/_sandbox/faults")).json()["faults"]
    assert [f["id"] for f in listed] == [fault["id"]]
    assert (await client.delete(f"/_sandbox/faults/{fault['id']}")).json() == {"removed": 1}
    assert (await client.get(f"/_sandbox/faults/{fault['id']}")).status_code == 404


def test_the_conformance_words() -> None:
    assert SPEC.fault("expired_credential") == {"kind": "expired_token"}
    assert SPEC.fault("invalid_event", event_ids=["x"], count=2) == {
        "kind": "invalid_event", "event_ids": ["x"], "count": 2,
    }  # fmt: skip
    assert SPEC.fault("throttle") == {"kind": "throttle"}
