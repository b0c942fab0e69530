"""Fault injection through ``/_sandbox/faults``: each kind, its scope and its lifetime."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.linkedin import SPEC, SandboxState
from signalyard.sandbox.linkedin.faults import FaultSpecError, parse_fault

from .factory import RULE, TOKEN, element, post, read_rule

pytestmark = pytest.mark.anyio


async def add(client: httpx.AsyncClient, spec: object) -> httpx.Response:
    response = await client.post("/_sandbox/faults", json=spec)
    assert response.status_code == 201, response.text
    return response


async def test_server_error_count(client: httpx.AsyncClient, state: SandboxState) -> None:
    await add(client, {"kind": "server_error", "status": 503, "count": 2})
    for _ in range(2):
        response = await post(client, [element()])
        assert response.status_code == 503 and response.json()["status"] == 503
    assert state.events() == []
    assert (await post(client, [element()])).status_code == 200
    (fault,) = (await client.get("/_sandbox/faults")).json()["faults"]
    assert fault["remaining"] == 0 and fault["active"] is False


async def test_throttle_with_retry_after(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "throttle", "retry_after": 60, "count": 1})
    response = await post(client, [element()])
    assert response.status_code == 429 and response.headers["retry-after"] == "60"
    assert response.json()["code"] == "TOO_MANY_REQUESTS"


async def test_expired_and_revoked_tokens(client: httpx.AsyncClient) -> None:
    await add(client, {"kind": "expired_token", "token": TOKEN, "count": 1})
    response = await post(client, [element()])
    assert response.status_code == 401 and response.json()["code"] == "EXPIRED_ACCESS_TOKEN"
    await add(client, {"kind": "expired_token", "revoked": True, "count": 1})
    response = await read_rule(client)
    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "serviceErrorCode": 65601,
        "code": "REVOKED_ACCESS_TOKEN",
        "message": "The token used in the request has been revoked by the user",
    }
    await add(client, {"kind": "expired_token", "token": "another-token-entirely"})
    assert (await post(client, [element()])).status_code == 200  # another token's fault


async def test_invalid_event_per_element_and_whole(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await add(client, {"kind": "invalid_event", "event_ids": ["b"], "count": 1})
    response = await post(client, [element("a"), element("b"), element("c")])
    statuses = [e["status"] for e in response.json()["elements"]]
    assert statuses == [201, 400, 201]
    await add(client, {"kind": "invalid_event", "event_ids": ["e"], "whole": True})
    response = await post(client, [element("d"), element("e")])
    assert response.status_code == 400
    assert response.json()["message"].startswith("ERROR :: /elements/1/eventId :: ")
    assert sorted(e.event_id or "" for e in state.events()) == ["a", "c"]


async def test_timeout_delays_after_taking(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await add(client, {"kind": "timeout", "delay": 5, "count": 1})
    before = clock.now()
    response = await post(client, [element("slow")])
    assert response.status_code == 200 and clock.now() - before == 5
    assert [e.event_id for e in state.events()] == ["slow"]


async def test_scope_to_a_rule_and_lifetime(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    await add(client, {"kind": "server_error", "conversion_rule_id": "999"})
    assert (await post(client, [element()])).status_code == 200
    await add(client, {"kind": "server_error", "conversion_rule_id": int(RULE), "seconds": 10})
    assert (await post(client, [element()])).status_code == 500
    clock.advance(11)
    assert (await post(client, [element()])).status_code == 200


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "nope"}, "kind must be one of"),
        ({"kind": "server_error", "status": 404}, "status must be"),
        ({"kind": "server_error", "status": 600}, "5xx"),
        ({"kind": "throttle", "retry_after": -1}, "retry_after"),
        ({"kind": "invalid_event"}, "event_ids"),
        ({"kind": "invalid_event", "event_ids": ["a"], "whole": "yes"}, "whole"),
        ({"kind": "expired_token", "revoked": 1}, "revoked"),
        ({"kind": "timeout", "conversion_rule_id": "abc"}, "conversion_rule_id"),
        ({"kind": "throttle", "token": "x"}, "unknown field"),
    ],
)
def test_bad_fault_specs(spec: dict[str, object], message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_fault(spec, "f1", 0.0)


async def test_bad_spec_over_http_and_removal(client: httpx.AsyncClient) -> None:
    response = await client.post("/_sandbox/faults", json={"kind": "nope"})
    assert response.status_code == 400
    fault_id = (await add(client, {"kind": "throttle"})).json()["fault"]["id"]
    assert (await client.delete(f"/_sandbox/faults/{fault_id}")).json() == {"removed": 1}
    assert (await post(client, [element()])).status_code == 200


def test_conformance_words() -> None:
    assert SPEC.fault("expired_credential") == {"kind": "expired_token"}
    assert SPEC.fault("invalid_event", event_ids=["x"], count=1) == {
        "kind": "invalid_event",
        "event_ids": ["x"],
        "count": 1,
    }
    assert SPEC.fault("throttle") == {"kind": "throttle"}
