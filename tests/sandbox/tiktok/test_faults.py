"""Fault injection: 5xx (nginx page or JSON), timeouts, throttling, expired tokens, an
invalid event (whole or partial)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.tiktok import SandboxState, create_app

from .factory import PIXEL, TOKEN, TRACK, answer, body, event, track

pytestmark = pytest.mark.anyio


async def add(client: httpx.AsyncClient, spec: Any) -> dict[str, Any]:
    r = await client.post("/_sandbox/faults", json=spec)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.mark.parametrize("status", [502, 503, 504, 500])
async def test_server_error_is_an_nginx_page(
    client: httpx.AsyncClient, state: SandboxState, status: int
) -> None:
    await add(client, {"kind": "server_error", "status": status, "count": 1})
    r = await track(client, body(event()))
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert f"<center><h1>{status} " in r.text and "nginx" in r.text
    assert state.events() == []
    answer(await track(client, body(event())), 0)  # count=1: the retry goes through
    newest, faulted = state.requests()
    assert (faulted.status, faulted.code, faulted.fault_kind) == (status, None, "server_error")
    assert newest.fault_kind is None
    errors = state.summary()["event_sources"][PIXEL]["requests"]["errors"]
    assert errors == {f"{status}/html": 1}


async def test_server_error_default_is_a_502(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "server_error"})
    assert (await track(client, body(event()))).status_code == 502


async def test_server_error_with_a_json_body(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "server_error", "status": 503, "json": True})
    r = await track(client, body(event()))
    assert r.status_code == 503
    out = r.json()
    assert (out["code"], out["message"]) == (50000, "Internal service error, please retry later.")
    assert out["request_id"] == r.headers["x-tt-logid"]


async def test_timeout_accepts_records_then_delays(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await add(client, {"kind": "timeout", "count": 1})
    before = clock.now()
    answer(await track(client, body(event("o1"))), 0)
    assert clock.now() - before == 30  # FrozenClock.sleep advances the clock
    assert state.events()[0].event_id == "o1"
    answer(await track(client, body(event("o1"))), 0)  # the client's retry
    assert state.events()[0].dedup == "deduplicated"


def test_timeout_makes_a_real_client_time_out(serve: Callable[[Any], str]) -> None:
    state = SandboxState()
    base = serve(create_app(state=state))
    r = httpx.post(f"{base}/_sandbox/faults", json={"kind": "timeout", "delay": 0.5, "count": 1})
    assert r.status_code == 201
    ev = event("late-1", event_time=int(time.time()) - 5)
    url, headers = f"{base}{TRACK}", {"Access-Token": TOKEN}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, json=body(ev), headers=headers, timeout=0.1)
    assert [e.event_id for e in state.events()] == ["late-1"]
    retry = httpx.post(url, json=body(ev), headers=headers, timeout=2)
    assert retry.json()["code"] == 0
    assert state.events()[0].dedup == "deduplicated"


async def test_throttle(client: httpx.AsyncClient, state: SandboxState) -> None:
    await add(client, {"kind": "throttle", "count": 1})
    out = answer(await track(client, body(event())), 40100)
    assert out["message"] == "Too many requests. Please retry in some time."
    assert state.events() == []
    answer(await track(client, body(event())), 0)


async def test_throttle_may_answer_429(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "throttle", "status": 429})
    r = await track(client, body(event()))
    assert r.status_code == 429 and r.json()["code"] == 40100


async def test_expired_token_only_for_that_token(client: httpx.AsyncClient) -> None:
    created = await add(client, {"kind": "expired_token", "token": TOKEN})
    assert TOKEN not in (await client.get("/_sandbox/faults")).text
    assert created["fault"]["token_sha256_prefix"]
    out = answer(await track(client, body(event())), 40001)
    assert out["message"] == (
        f"No permission to operate pixel code: {PIXEL}. "
        "You must be an admin or operator of this advertiser account."
    )
    answer(await track(client, body(event()), token="a-replacement-token"), 0)
    assert (await client.delete("/_sandbox/faults")).json() == {"removed": 1}
    answer(await track(client, body(event())), 0)


async def test_expired_token_for_all_tokens(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "expired_token"})
    for token in (TOKEN, "a-replacement-token"):
        answer(await track(client, body(event()), token=token), 40001)


async def test_expired_token_of_an_event_set(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "expired_token"})
    payload = body(event(), event_source="offline", event_source_id="7000000000000000001")
    out = answer(await track(client, payload), 40001)
    assert out["message"].startswith("No permission to operate event source: 7000000000000000001.")


async def test_invalid_event_refuses_the_request_naming_it(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await add(client, {"kind": "invalid_event", "event_ids": ["bad-1"]})
    out = answer(await track(client, body(event("ok-1"), event("ok-2"), event("bad-1"))), 40002)
    assert out["message"] == (
        "Batch.2.event_id: Invalid event 'bad-1' (sandbox fault invalid_event)"
    )
    assert state.events() == []
    answer(await track(client, body(event("ok-1"))), 0)  # a request without it goes through


async def test_invalid_event_partial(client: httpx.AsyncClient, state: SandboxState) -> None:
    await add(client, {"kind": "invalid_event", "event_ids": ["bad-1"], "partial": True})
    out = answer(await track(client, body(event("ok-1"), event("bad-1"), event("ok-2"))), 20001)
    assert out["data"]["failed_events"] == [
        {
            "index": 1,
            "event_id": "bad-1",
            "code": 40002,
            "message": "Batch.1.event_id: Invalid event 'bad-1' (sandbox fault invalid_event)",
        }
    ]
    assert {e.event_id: e.status for e in state.events()} == {
        "ok-1": "accepted",
        "bad-1": "invalid",
        "ok-2": "accepted",
    }
    # Only the named event in the batch: nothing left to accept, refused whole.
    answer(await track(client, body(event("bad-1"))), 40002)


async def test_count_seconds_and_event_source_scope(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await add(client, {"kind": "server_error", "event_source_id": "COTHER"})
    await add(client, {"kind": "throttle", "seconds": 60})
    answer(await track(client, body(event())), 40100)  # the scope skips the first fault
    r = await track(client, body(event(), event_source_id="COTHER"))
    assert r.status_code == 502
    clock.advance(61)
    answer(await track(client, body(event())), 0)
    listed = (await client.get("/_sandbox/faults")).json()["faults"]
    assert [(f["kind"], f["active"], f["event_source_id"]) for f in listed] == [
        ("server_error", True, "COTHER"),
        ("throttle", False, None),
    ]


async def test_first_matching_fault_wins_and_count_is_consumed(
    client: httpx.AsyncClient,
) -> None:
    await add(client, [{"kind": "server_error", "count": 2}, {"kind": "throttle", "count": 1}])
    results = []
    for _ in range(4):
        r = await track(client, body(event()))
        results.append(r.status_code if r.status_code != 200 else r.json()["code"])
    assert results == [502, 502, 40100, 0]
    faults = (await client.get("/_sandbox/faults")).json()["faults"]
    assert [(f["applied"], f["remaining"]) for f in faults] == [(2, 0), (1, 0)]


async def test_token_errors_come_before_faults(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "server_error", "count": 1})
    answer(await track(client, body(event()), token=None), 40104)
    assert (await track(client, body(event()))).status_code == 502  # still there


async def test_fault_by_id(client: httpx.AsyncClient) -> None:
    fault = (await add(client, {"kind": "server_error"}))["fault"]
    r = await client.get(f"/_sandbox/faults/{fault['id']}")
    assert r.json()["fault"]["kind"] == "server_error"
    assert (await client.delete(f"/_sandbox/faults/{fault['id']}")).status_code == 200
    assert (await client.delete(f"/_sandbox/faults/{fault['id']}")).status_code == 404
    assert (await client.get(f"/_sandbox/faults/{fault['id']}")).status_code == 404
    answer(await track(client, body(event())), 0)


async def test_faults_survive_a_reset(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "throttle"})
    await client.delete("/_sandbox/state")
    answer(await track(client, body(event())), 40100)


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode"},
        {"kind": "server_error", "status": 404},
        {"kind": "server_error", "status": 600},
        {"kind": "server_error", "json": "yes"},
        {"kind": "throttle", "status": 503},
        {"kind": "timeout", "delay": -1},
        {"kind": "invalid_event"},
        {"kind": "invalid_event", "event_ids": []},
        {"kind": "invalid_event", "event_ids": [17]},
        {"kind": "invalid_event", "event_ids": ["a"], "partial": 1},
        {"kind": "expired_token", "token": ""},
        {"kind": "server_error", "count": 0},
        {"kind": "server_error", "token": "x"},
        {"kind": "server_error", "event_source_id": 5},
        [{"kind": "server_error"}, {"kind": "nope"}],
        "server_error",
    ],
)
async def test_bad_fault_specs(client: httpx.AsyncClient, spec: Any) -> None:
    r = await client.post("/_sandbox/faults", json=spec)
    assert r.status_code == 400
    assert "error" in r.json()
    assert (await client.get("/_sandbox/faults")).json()["faults"] == []
