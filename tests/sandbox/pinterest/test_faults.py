"""Faults: Pinterest's failures on purpose, through ``/_sandbox/faults``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.pinterest import SPEC, SandboxState

from .factory import ACCOUNT, EVENTS, HEADERS, TOKEN, body, event

pytestmark = pytest.mark.anyio


async def add(client: httpx.AsyncClient, spec: Any) -> httpx.Response:
    return await client.post("/_sandbox/faults", json=spec)


async def test_server_error_with_a_count(client: httpx.AsyncClient, state: SandboxState) -> None:
    assert (
        await add(client, {"kind": "server_error", "status": 503, "count": 1})
    ).status_code == 201
    first = await client.post(EVENTS, json=body(), headers=HEADERS)
    assert first.status_code == 503 and "ramped down" in first.json()["message"]
    second = await client.post(EVENTS, json=body(), headers=HEADERS)
    assert second.status_code == 200
    assert len(state.events()) == 1
    (fault,) = (await client.get("/_sandbox/faults")).json()["faults"]
    assert fault["remaining"] == 0 and not fault["active"]


async def test_throttle_answers_429_with_retry_after(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "throttle", "retry_after": 7})
    response = await client.post(EVENTS, json=body(), headers=HEADERS)
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["code"] == 8


async def test_expired_token_only_for_that_token(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "expired_token", "token": TOKEN})
    refused = await client.post(EVENTS, json=body(), headers=HEADERS)
    assert refused.status_code == 401
    other = {"Authorization": "Bearer anotherGoodToken123"}
    assert (await client.post(EVENTS, json=body(), headers=other)).status_code == 200


async def test_invalid_event_fails_the_named_events_only(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await add(client, {"kind": "invalid_event", "event_ids": ["b"]})
    response = await client.post(EVENTS, json=body(event("a"), event("b")), headers=HEADERS)
    a, b = response.json()["events"]
    assert a["status"] == "processed" and b["status"] == "failed"
    assert "sandbox fault invalid_event" in b["error_message"]
    assert [e.event_id for e in state.events()] == ["a"]


async def test_timeout_records_then_delays(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await add(client, {"kind": "timeout", "delay": 5})
    before = clock.now()
    response = await client.post(EVENTS, json=body(), headers=HEADERS)
    assert response.status_code == 200 and clock.now() - before >= 5
    assert len(state.events()) == 1


async def test_a_fault_scoped_to_another_account_does_not_apply(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "server_error", "ad_account_id": "1"})
    assert (await client.post(EVENTS, json=body(), headers=HEADERS)).status_code == 200
    assert (
        await client.post("/v5/ad_accounts/1/events", json=body(), headers=HEADERS)
    ).status_code == 500


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"kind": "nope"}, "kind must be one of"),
        ({"kind": "server_error", "status": 404}, "status must be an integer >= 500"),
        ({"kind": "server_error", "status": 600}, "5xx"),
        ({"kind": "invalid_event", "event_ids": []}, "event_ids"),
        ({"kind": "throttle", "json": True}, "unknown field"),
        ({"kind": "throttle", "ad_account_id": ""}, "ad_account_id"),
    ],
)
async def test_bad_fault_specs(client: httpx.AsyncClient, spec: Any, says: str) -> None:
    response = await add(client, spec)
    assert response.status_code == 400 and says in response.json()["error"]


def test_the_conformance_words() -> None:
    assert SPEC.fault("expired_credential") == {"kind": "expired_token"}
    assert SPEC.fault("invalid_event", event_ids=["x"], count=1) == {
        "kind": "invalid_event", "event_ids": ["x"], "count": 1,
    }  # fmt: skip
    assert ACCOUNT
