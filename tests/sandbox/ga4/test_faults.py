"""Fault injection through ``/_sandbox/faults``: each kind as GA4 (or a proxy in front of it)
fails, their scope and lifetime, and the conformance suite's words."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.ga4 import SPEC, SandboxState

from .factory import body, collect, debug, event, messages

pytestmark = pytest.mark.anyio


async def add(client: httpx.AsyncClient, spec: object) -> dict[str, object]:
    response = await client.post("/_sandbox/faults", json=spec)
    assert response.status_code == 201, response.text
    fault: dict[str, object] = response.json()["fault"]
    return fault


async def test_server_error_is_google_s_page_and_records_nothing(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await add(client, {"kind": "server_error", "status": 502, "count": 2})
    for send in (collect, debug):
        response = await send(client, body())
        assert response.status_code == 502 and "That's an error" in response.text
    assert state.events() == []
    assert (await collect(client, body())).status_code == 204  # count used up


async def test_throttle_is_429_with_retry_after(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "throttle", "retry_after": 7, "count": 1})
    response = await collect(client, body())
    assert response.status_code == 429 and response.headers["retry-after"] == "7"


async def test_proxy_denied_on_both_endpoints(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "proxy_denied"})
    assert (await collect(client, body())).status_code == 403
    assert (await debug(client, body())).status_code == 403
    await client.delete("/_sandbox/faults")
    await add(client, {"kind": "proxy_denied", "status": 401, "endpoint": "collect"})
    assert (await debug(client, body())).status_code == 200
    assert (await collect(client, body())).status_code == 401


async def test_revoked_secret_is_silent_as_in_ga4(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await add(client, {"kind": "revoked_secret"})
    assert await messages(client, body()) == []  # the validation server cannot tell
    response = await collect(client, body())
    assert response.status_code == 204 and response.content == b""
    (dropped,) = state.events()
    assert dropped.status == "dropped" and "revoked_secret" in (dropped.error or "")


async def test_invalid_event_names_the_event_and_collect_drops_it(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await add(client, {"kind": "invalid_event", "event_ids": ["bad"]})
    payload = body(event(event_id="good"), event(event_id="bad"))
    (message,) = await messages(client, payload)
    assert message["fieldPath"] == "events[1]" and message["validationCode"] == "VALUE_INVALID"
    assert await messages(client, body(event(event_id="good"))) == []  # not named: untouched
    await collect(client, payload)
    assert [(e.event_id, e.status) for e in reversed(state.events())] == [
        ("good", "accepted"),
        ("bad", "dropped"),
    ]


async def test_scope_by_measurement_id_and_lifetime(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await add(client, {"kind": "server_error", "measurement_id": "G-OTHER999"})
    assert (await collect(client, body())).status_code == 204
    assert (await collect(client, body(), measurement_id="G-OTHER999")).status_code == 500
    await client.delete("/_sandbox/faults")
    await add(client, {"kind": "server_error", "seconds": 10})
    assert (await collect(client, body())).status_code == 500
    clock.advance(11)
    assert (await collect(client, body())).status_code == 204


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "nope"},
        {"kind": "server_error", "status": 404},
        {"kind": "proxy_denied", "status": 500},
        {"kind": "invalid_event"},
        {"kind": "invalid_event", "event_ids": []},
        {"kind": "throttle", "endpoint": "other"},
        {"kind": "throttle", "token": "x"},
        {"kind": "throttle", "count": 0},
    ],
)
async def test_bad_fault_specs(client: httpx.AsyncClient, spec: object) -> None:
    response = await client.post("/_sandbox/faults", json=spec)
    assert response.status_code == 400 and response.json()["error"]


async def test_faults_listed_and_removed(client: httpx.AsyncClient) -> None:
    fault = await add(client, {"kind": "throttle", "count": 3})
    listed = (await client.get("/_sandbox/faults")).json()["faults"]
    assert [f["kind"] for f in listed] == ["throttle"] and listed[0]["retry_after"] == 30
    one = await client.get(f"/_sandbox/faults/{fault['id']}")
    assert one.json()["fault"]["remaining"] == 3
    assert (await client.delete(f"/_sandbox/faults/{fault['id']}")).json() == {"removed": 1}
    assert (await client.get(f"/_sandbox/faults/{fault['id']}")).status_code == 404


def test_the_conformance_words() -> None:
    assert SPEC.fault("expired_credential") == {"kind": "proxy_denied"}
    assert SPEC.fault("server_error", count=2) == {"kind": "server_error", "count": 2}
    assert SPEC.fault("throttle") == {"kind": "throttle"}
    assert SPEC.fault("invalid_event", event_ids=["c-7"]) == {
        "kind": "invalid_event",
        "event_ids": ["c-7"],
    }


async def test_received_lists_accepted_event_ids_oldest_first(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await collect(client, body(event(event_id="a"), event(event_id="b")))
    await collect(client, body(event(event_id="c")), secret=None)  # dropped
    await collect(client, body(event(event_id=None)))  # no id: not listed
    assert SPEC.received(state) == ["a", "b"]
