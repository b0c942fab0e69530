"""Fault injection: server errors, timeouts, throttling, expired tokens, invalid events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.meta import SandboxState, create_app

from .factory import DATASET, EVENTS_PATH, TOKEN, body, event
from .test_auth import graph_error

pytestmark = pytest.mark.anyio


async def add(client: httpx.AsyncClient, spec: Any) -> dict[str, Any]:
    r = await client.post("/_sandbox/faults", json=spec)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.mark.parametrize(
    ("spec", "status", "code"),
    [
        ({"kind": "server_error"}, 500, 1),
        ({"kind": "server_error", "status": 503}, 503, 2),
        ({"kind": "server_error", "status": 502, "code": 1}, 502, 1),
    ],
)
async def test_server_error(
    client: httpx.AsyncClient, state: SandboxState, spec: dict[str, Any], status: int, code: int
) -> None:
    await add(client, {**spec, "count": 1})
    r = await client.post(EVENTS_PATH, json=body(event()))
    assert r.status_code == status
    err = r.json()["error"]
    assert err["code"] == code
    assert err["is_transient"] is True
    assert state.events() == []
    # count=1: the retry goes through.
    assert (await client.post(EVENTS_PATH, json=body(event()))).status_code == 200
    log = state.requests()
    assert log[1].fault_kind == "server_error"
    assert log[0].fault_kind is None


async def test_timeout_accepts_records_then_delays(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await add(client, {"kind": "timeout", "count": 1})
    before = clock.now()
    r = await client.post(EVENTS_PATH, json=body(event("o1")))
    assert r.status_code == 200
    assert clock.now() - before == 30  # FrozenClock.sleep advances the clock by the delay
    assert state.events()[0].event_id == "o1"
    retry = await client.post(EVENTS_PATH, json=body(event("o1")))
    assert retry.status_code == 200
    assert state.events()[0].dedup == "deduplicated"
    assert state.events()[0].dedup_pair == "server/server"


def test_timeout_makes_a_real_client_time_out(serve: Callable[[Any], str]) -> None:
    state = SandboxState()
    base = serve(create_app(state=state))
    r = httpx.post(f"{base}/_sandbox/faults", json={"kind": "timeout", "delay": 0.5, "count": 1})
    assert r.status_code == 201
    ev = event("late-1")
    ev["event_time"] = int(time.time()) - 5
    url = f"{base}{EVENTS_PATH}"
    with pytest.raises(httpx.ReadTimeout):  # how soon: bench/wallclock.py sandbox_timeout
        httpx.post(url, json=body(ev), timeout=0.1)
    assert [e.event_id for e in state.events()] == ["late-1"]
    retry = httpx.post(url, json=body(ev), timeout=2)
    assert retry.status_code == 200
    assert state.events()[0].dedup == "deduplicated"


@pytest.mark.parametrize(
    ("spec", "code", "subcode"),
    [
        ({"kind": "throttle"}, 17, 2446079),
        ({"kind": "throttle", "code": 80004, "regain_minutes": 7}, 80004, 2446079),
        ({"kind": "throttle", "code": 4}, 4, None),
        ({"kind": "throttle", "code": 613}, 613, 1487742),
    ],
)
async def test_throttle(
    client: httpx.AsyncClient, spec: dict[str, Any], code: int, subcode: int | None
) -> None:
    await add(client, spec)
    r = await client.post(EVENTS_PATH, json=body(event()))
    assert r.status_code == 400
    err = r.json()["error"]
    assert (err["code"], err["error_subcode"], err["is_transient"]) == (code, subcode, True)
    buc = json.loads(r.headers["x-business-use-case-usage"])
    usage = buc[DATASET][0]
    assert usage["estimated_time_to_regain_access"] == spec.get("regain_minutes", 0)
    assert usage["type"] == "ads_management"
    assert json.loads(r.headers["x-app-usage"])["call_count"] == 100


async def test_throttle_status_overridable(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "throttle", "status": 429})
    assert (await client.post(EVENTS_PATH, json=body(event()))).status_code == 429


async def test_expired_token_only_for_that_token(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "expired_token", "token": TOKEN})
    assert TOKEN not in (await client.get("/_sandbox/faults")).text
    r = await client.post(EVENTS_PATH, json=body(event()))
    err = graph_error(r, 401, 190, 463)
    assert str(err["message"]).startswith("Error validating access token: Session has expired")
    other = await client.post(EVENTS_PATH, json=body(event(), access_token="EAAB-another-token"))
    assert other.status_code == 200
    # Until the fault is removed.
    assert (await client.delete("/_sandbox/faults")).json() == {"removed": 1}
    assert (await client.post(EVENTS_PATH, json=body(event()))).status_code == 200


async def test_expired_token_for_all_tokens(client: httpx.AsyncClient) -> None:
    created = await add(client, {"kind": "expired_token"})
    assert created["fault"]["token_sha256_prefix"] is None
    for token in (TOKEN, "EAAB-another-token"):
        r = await client.post(EVENTS_PATH, json=body(event(), access_token=token))
        graph_error(r, 401, 190, 463)


async def test_invalid_event_names_the_index(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await add(client, {"kind": "invalid_event", "event_ids": ["bad-1"]})
    r = await client.post(EVENTS_PATH, json=body(event("ok-1"), event("ok-2"), event("bad-1")))
    err = graph_error(r, 400, 100, 2804019)
    assert "data[2]" in str(err["message"])
    assert "data[2]" in str(err["error_user_msg"])
    assert state.events() == []
    assert (await client.post(EVENTS_PATH, json=body(event("ok-1")))).status_code == 200


async def test_count_seconds_and_dataset_filter(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await add(client, {"kind": "server_error", "dataset_id": "999"})
    await add(client, {"kind": "throttle", "seconds": 60})
    # The dataset filter skips the first fault; the throttle applies.
    assert (await client.post(EVENTS_PATH, json=body(event()))).json()["error"]["code"] == 17
    assert (await client.post("/v26.0/999/events", json=body(event()))).status_code == 500
    clock.advance(61)
    assert (await client.post(EVENTS_PATH, json=body(event()))).status_code == 200
    listed = (await client.get("/_sandbox/faults")).json()["faults"]
    assert [(f["kind"], f["active"]) for f in listed] == [
        ("server_error", True),
        ("throttle", False),
    ]


async def test_first_matching_fault_wins_and_count_is_consumed(
    client: httpx.AsyncClient,
) -> None:
    await add(client, [{"kind": "server_error", "count": 2}, {"kind": "throttle", "count": 1}])
    statuses = [(await client.post(EVENTS_PATH, json=body(event()))).status_code for _ in range(4)]
    assert statuses == [500, 500, 400, 200]
    faults = (await client.get("/_sandbox/faults")).json()["faults"]
    assert [(f["applied"], f["remaining"]) for f in faults] == [(2, 0), (1, 0)]


async def test_fault_by_id(client: httpx.AsyncClient) -> None:
    fault = (await add(client, {"kind": "server_error"}))["fault"]
    assert (await client.get(f"/_sandbox/faults/{fault['id']}")).json()["fault"]["kind"] == (
        "server_error"
    )
    assert (await client.delete(f"/_sandbox/faults/{fault['id']}")).status_code == 200
    assert (await client.delete(f"/_sandbox/faults/{fault['id']}")).status_code == 404
    assert (await client.post(EVENTS_PATH, json=body(event()))).status_code == 200


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode"},
        {"kind": "server_error", "status": 404},
        {"kind": "throttle", "code": 1},
        {"kind": "timeout", "delay": -1},
        {"kind": "invalid_event"},
        {"kind": "invalid_event", "event_ids": []},
        {"kind": "server_error", "count": 0},
        {"kind": "server_error", "token": "x"},
        [{"kind": "server_error"}, {"kind": "nope"}],
        "server_error",
    ],
)
async def test_bad_fault_specs(client: httpx.AsyncClient, spec: Any) -> None:
    r = await client.post("/_sandbox/faults", json=spec)
    assert r.status_code == 400
    assert "error" in r.json()
    assert (await client.get("/_sandbox/faults")).json()["faults"] == []
