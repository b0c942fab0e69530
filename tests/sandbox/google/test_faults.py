"""Fault injection: server errors, timeouts, throttling, revoked credentials, invalid events."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from signalyard.clock import FrozenClock
from signalyard.sandbox.google import SandboxState, create_app

from .factory import (
    ACTION,
    INGEST,
    REFRESH_TOKEN,
    SA_EMAIL,
    assertion,
    bearer,
    body,
    destination,
    event,
    jwt_form,
    refresh_form,
)
from .test_auth import error_info, google_error

pytestmark = pytest.mark.anyio


async def add(client: httpx.AsyncClient, spec: Any) -> dict[str, Any]:
    r = await client.post("/_sandbox/faults", json=spec)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.mark.parametrize(
    ("status", "name"),
    [(500, "INTERNAL"), (502, "UNAVAILABLE"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED")],
)
async def test_server_error(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    state: SandboxState,
    status: int,
    name: str,
) -> None:
    await add(client, {"kind": "server_error", "status": status, "count": 1})
    r = await client.post(INGEST, json=body(event()), headers=auth)
    google_error(r, status, name)
    assert state.events() == []
    assert (await client.post(INGEST, json=body(event()), headers=auth)).status_code == 200
    log = state.requests()
    assert log[1].fault_kind == "server_error" and log[0].fault_kind is None


async def test_timeout_accepts_records_then_delays(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState, clock: FrozenClock
) -> None:
    await add(client, {"kind": "timeout", "count": 1})
    before = clock.now()
    r = await client.post(INGEST, json=body(event("late")), headers=auth)
    assert r.status_code == 200
    assert clock.now() - before == 30
    retry = await client.post(INGEST, json=body(event("late")), headers=auth)
    assert retry.status_code == 200
    assert [e.status for e in state.events()] == ["deduplicated", "kept"]


def test_timeout_makes_a_real_client_time_out(serve: Callable[..., str]) -> None:
    state = SandboxState()
    base = serve(create_app(state=state))
    token = httpx.post(f"{base}/token", data=refresh_form()).json()["access_token"]
    r = httpx.post(f"{base}/_sandbox/faults", json={"kind": "timeout", "delay": 0.5, "count": 1})
    assert r.status_code == 201
    ev = event("late-1", eventTimestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{base}{INGEST}", json=body(ev), headers=bearer(token), timeout=0.1)
    assert [e.transaction_id for e in state.events()] == ["late-1"]


async def test_throttle_with_retry_after(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    await add(client, {"kind": "throttle", "retry_after": 30, "count": 1})
    r = await client.post(INGEST, json=body(event()), headers=auth)
    err = google_error(r, 429, "RESOURCE_EXHAUSTED")
    assert r.headers["retry-after"] == "30"
    retry = [d for d in err["details"] if d["@type"].endswith("RetryInfo")]
    assert retry == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}]
    assert state.events() == []


async def test_throttle_without_retry_after(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await add(client, {"kind": "throttle", "seconds": 60})
    r = await client.post(INGEST, json=body(event()), headers=auth)
    google_error(r, 429, "RESOURCE_EXHAUSTED")
    assert "retry-after" not in r.headers


async def test_expired_refresh_token(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    fault = await add(client, {"kind": "expired_credential", "refresh_token": REFRESH_TOKEN})
    assert fault["fault"]["credential"].startswith("refresh token sha256:")
    assert REFRESH_TOKEN not in str(fault)
    # The token already issued from it stops working ...
    r = await client.post(INGEST, json=body(event()), headers=auth)
    google_error(r, 401, "UNAUTHENTICATED")
    # ... and it cannot be refreshed.
    refresh = await client.post("/token", data=refresh_form())
    assert refresh.status_code == 400
    assert refresh.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    # Another refresh token (a re-authorized user) works.
    other = await client.post("/token", data=refresh_form(refresh_token="1//0another-token"))
    assert other.status_code == 200
    ok = await client.post(INGEST, json=body(event()), headers=bearer(other.json()["access_token"]))
    assert ok.status_code == 200
    # Clearing the fault restores the old credential.
    assert (await client.delete("/_sandbox/faults")).json() == {"removed": 1}
    assert (await client.post(INGEST, json=body(event("x")), headers=auth)).status_code == 200


async def test_expired_service_account(
    client: httpx.AsyncClient, sa_key: rsa.RSAPrivateKey
) -> None:
    token = (await client.post("/token", data=jwt_form(assertion(sa_key)))).json()["access_token"]
    await add(client, {"kind": "expired_credential", "client_email": SA_EMAIL})
    r = await client.post("/token", data=jwt_form(assertion(sa_key)))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    ingest = await client.post(INGEST, json=body(event()), headers=bearer(token))
    google_error(ingest, 401, "UNAUTHENTICATED")
    # A user credential is not affected.
    assert (await client.post("/token", data=refresh_form())).status_code == 200


async def test_expired_every_credential(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await add(client, {"kind": "expired_credential", "count": 2})
    assert (await client.post(INGEST, json=body(event()), headers=auth)).status_code == 401
    assert (await client.post("/token", data=refresh_form())).status_code == 400
    assert (await client.post(INGEST, json=body(event()), headers=auth)).status_code == 200


async def test_invalid_event_names_the_index(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    await add(client, {"kind": "invalid_event", "transaction_ids": ["order-17"]})
    events = [event("order-1"), event("order-2"), event("order-17")]
    r = await client.post(INGEST, json=body(*events), headers=auth)
    err = google_error(r, 400, "INVALID_ARGUMENT")
    assert error_info(err)["reason"] == "INVALID_EVENT"
    bad = next(d for d in err["details"] if d["@type"].endswith("BadRequest"))
    assert bad["fieldViolations"][0]["field"] == "events[2]"
    assert state.events() == []
    # The others alone go through (as a worker bisecting would send them).
    assert (await client.post(INGEST, json=body(*events[:2]), headers=auth)).status_code == 200
    assert state.summary()["conversion_actions"][ACTION]["invalid"] == 1


async def test_faults_can_target_a_conversion_action(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await add(client, {"kind": "server_error", "conversion_action": "222"})
    assert (await client.post(INGEST, json=body(event()), headers=auth)).status_code == 200
    other = body(event(), destinations=[destination("222")])
    assert (await client.post(INGEST, json=other, headers=auth)).status_code == 500


async def test_faults_expire_after_seconds(
    client: httpx.AsyncClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    await add(client, {"kind": "server_error", "status": 503, "seconds": 10})
    assert (await client.post(INGEST, json=body(event()), headers=auth)).status_code == 503
    clock.advance(10)
    assert (await client.post(INGEST, json=body(event()), headers=auth)).status_code == 200
    listed = (await client.get("/_sandbox/faults")).json()["faults"]
    assert listed[0]["active"] is False and listed[0]["applied"] == 1


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "nope"},
        {"kind": "server_error", "status": 418},
        {"kind": "server_error", "delay": 1},
        {"kind": "timeout", "delay": -1},
        {"kind": "throttle", "retry_after": "soon"},
        {"kind": "expired_credential", "refresh_token": "a", "client_email": "b@c"},
        {"kind": "expired_credential", "conversion_action": "1"},
        {"kind": "invalid_event", "transaction_ids": []},
        {"kind": "server_error", "count": 0},
        [{"kind": "server_error"}, {"kind": "bad"}],
        "server_error",
    ],
)
async def test_bad_fault_specs(client: httpx.AsyncClient, spec: Any) -> None:
    r = await client.post("/_sandbox/faults", json=spec)
    assert r.status_code == 400, r.text
    assert "error" in r.json()
    assert (await client.get("/_sandbox/faults")).json() == {"faults": []}


async def test_fault_routes(client: httpx.AsyncClient) -> None:
    added = (
        await client.post("/_sandbox/faults", json={"faults": [{"kind": "timeout"}] * 2})
    ).json()
    ids = [f["id"] for f in added["faults"]]
    assert len(ids) == 2
    one = await client.get(f"/_sandbox/faults/{ids[0]}")
    assert one.json()["fault"]["delay"] == 30
    assert (await client.delete(f"/_sandbox/faults/{ids[0]}")).json() == {"removed": 1}
    assert (await client.get(f"/_sandbox/faults/{ids[0]}")).status_code == 404
    assert (await client.delete(f"/_sandbox/faults/{ids[0]}")).status_code == 404
    assert len((await client.get("/_sandbox/faults")).json()["faults"]) == 1
