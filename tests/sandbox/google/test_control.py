"""The control plane: events, summary with key coverage, request log, reset."""

from __future__ import annotations

import httpx
import pytest

from signalyard.sandbox.google import SandboxState

from .factory import ACTION, INGEST, body, destination, event, sha_hex

pytestmark = pytest.mark.anyio


async def test_index(client: httpx.AsyncClient) -> None:
    r = await client.get("/_sandbox")
    assert r.json()["sandbox"] == "google"
    assert "POST /v1/events:ingest" in r.json()["endpoints"]


async def test_events_filters(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    dests = [destination(ACTION), destination("222")]
    r = await client.post(
        INGEST, json=body(event("a"), event("b"), destinations=dests), headers=auth
    )
    request_id = r.json()["requestId"]
    await client.post(INGEST, json=body(event("a")), headers=auth)
    all_events = (await client.get("/_sandbox/events")).json()
    assert all_events["count"] == 5
    first = all_events["events"][0]
    assert first["status"] == "deduplicated"
    assert first["processing_error"] == "PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID"
    assert first["event"]["transactionId"] == "a"
    assert first["consent"] == {
        "adUserData": "CONSENT_GRANTED",
        "adPersonalization": "CONSENT_GRANTED",
    }

    async def count(**params: str) -> int:
        found: int = (await client.get("/_sandbox/events", params=params)).json()["count"]
        return found

    assert await count(conversion_action="222") == 2
    assert await count(transaction_id="a") == 3
    assert await count(request_id=request_id) == 4
    assert await count(status="deduplicated") == 1
    assert await count(limit="2") == 2
    assert (await client.get("/_sandbox/events", params={"limit": "0"})).status_code == 400


async def test_summary_counts_and_coverage(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    events = [
        event("1"),  # email + gclid, consent granted
        event(
            "2",
            userData={"userIdentifiers": [{"phoneNumber": sha_hex("+14155550123")}]},
            adIdentifiers=None,
            consent={"adUserData": "CONSENT_DENIED"},
        ),
        event("3", userData=None, adIdentifiers={"wbraid": "w"}, consent=None),
        event("4", adIdentifiers={"gbraid": "g"}),
    ]
    await client.post(INGEST, json=body(*events), headers=auth)
    await client.post(INGEST, json=body(event("1")), headers=auth)
    bad = event("5", userData={"userIdentifiers": [{"emailAddress": "plain@example.com"}]})
    await client.post(INGEST, json=body(bad), headers=auth)
    summary = (await client.get("/_sandbox/summary")).json()
    action = summary["conversion_actions"][ACTION]
    assert action["received"] == 5
    assert action["deduplicated"] == 1
    assert action["denied_consent"] == 1
    assert action["invalid"] == 1
    assert action["requests"] == 3 and action["rejected_requests"] == 1
    assert action["with_key"] == {
        "email": 3,
        "phone": 1,
        "address": 0,
        "click_id": 4,
        "consent_granted": 3,
    }
    assert action["coverage"]["email"] == 0.6
    assert action["coverage"]["click_id"] == 0.8
    totals = summary["totals"]
    assert totals["requests"] == 3 and totals["accepted"] == 2 and totals["rejected"] == 1
    assert totals["errors"] == {"400/INVALID_HEX_ENCODING": 1}
    assert totals["events_held"] == 5


async def test_requests_log_holds_no_tokens(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await client.post(INGEST, json=body(event()), headers=auth)
    log = (await client.get("/_sandbox/requests")).json()
    assert log["count"] == 2
    ingest, token = log["requests"]
    assert token["route"] == "token" and token["status"] == 200
    assert token["project"] == "123456789012"
    assert ingest["route"] == "ingest" and ingest["events"] == 1 and ingest["request_id"]
    assert auth["Authorization"].split()[1] not in str(log)


async def test_reset(client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState) -> None:
    await client.post("/_sandbox/faults", json={"kind": "timeout", "delay": 0, "seconds": 1e9})
    await client.post(INGEST, json=body(event("a")), headers=auth)
    assert (await client.delete("/_sandbox/state")).json() == {"reset": True}
    assert state.events() == [] and state.summary()["totals"]["requests"] == 0
    assert len(state.faults) == 1
    # Issued tokens survive; dedup memory does not.
    assert (await client.post(INGEST, json=body(event("a")), headers=auth)).status_code == 200
    assert state.events()[0].status == "kept"
