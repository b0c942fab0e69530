"""Accepted requests: recording, validateOnly, dedup, request status, quota."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.google import SandboxState, create_app

from .factory import (
    ACTION,
    CUSTOMER,
    INGEST,
    STATUS,
    access_token,
    bearer,
    body,
    destination,
    event,
    full_event,
    refresh_form,
    stamp,
)
from .test_auth import error_info, google_error

pytestmark = pytest.mark.anyio


async def test_a_realistic_full_event_is_accepted(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    payload = {
        "destinations": [
            {
                "reference": "purchase",
                "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": CUSTOMER},
                "loginAccount": {"accountType": "GOOGLE_ADS", "accountId": "1112223334"},
                "productDestinationId": ACTION,
            }
        ],
        "events": [full_event()],
        "encoding": "HEX",
        "consent": {"adUserData": "CONSENT_DENIED", "adPersonalization": "CONSENT_DENIED"},
        "validateOnly": False,
    }
    r = await client.post(INGEST, json=payload, headers=auth)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"requestId"}
    [rec] = state.events()
    assert rec.request_id == r.json()["requestId"]
    assert rec.conversion_action == ACTION and rec.operating_account == CUSTOMER
    assert rec.transaction_id == "order-10042"
    assert rec.status == "kept"
    assert rec.keys == ("address", "email", "gclid", "phone")
    # The event's own consent overrides the request's.
    assert rec.ad_user_data == "CONSENT_GRANTED"
    assert rec.ad_personalization == "CONSENT_DENIED"
    assert rec.event["cartData"]["items"][1]["quantity"] == 1  # int64 sent as a string
    coverage = state.summary()["conversion_actions"][ACTION]["coverage"]
    assert coverage == {
        "email": 1.0,
        "phone": 1.0,
        "address": 1.0,
        "click_id": 1.0,
        "consent_granted": 1.0,
    }


async def test_validate_only_records_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    r = await client.post(INGEST, json=body(event(), validateOnly=True), headers=auth)
    assert r.status_code == 200
    request_id = r.json()["requestId"]
    assert state.events() == []
    summary = state.summary()["conversion_actions"][ACTION]
    assert summary["received"] == 0 and summary["validated_only"] == 1
    # Nothing was ingested, so there is no status to retrieve.
    status = await client.get(STATUS, params={"requestId": request_id}, headers=auth)
    assert error_info(google_error(status, 400, "INVALID_ARGUMENT"))["reason"] == (
        "INVALID_REQUEST_ID"
    )
    # The same transaction sent for real afterwards is not a duplicate.
    await client.post(INGEST, json=body(event()), headers=auth)
    assert state.events()[0].status == "kept"


async def test_validate_only_still_validates(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    r = await client.post(
        INGEST, json=body(event(eventTimestamp=None), validateOnly=True), headers=auth
    )
    assert r.status_code == 400


async def test_dedup_by_conversion_action_and_transaction_id(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    first = await client.post(INGEST, json=body(event("order-7")), headers=auth)
    again = await client.post(INGEST, json=body(event("order-7")), headers=auth)
    other_action = await client.post(
        INGEST, json=body(event("order-7"), destinations=[destination("111")]), headers=auth
    )
    assert {first.status_code, again.status_code, other_action.status_code} == {200}
    newest, middle, oldest = state.events()
    assert oldest.status == "kept"
    assert middle.status == "deduplicated" and middle.dedup_of == oldest.seq
    assert newest.status == "kept" and newest.conversion_action == "111"
    # Events without transactionId are never deduplicated.
    for _ in range(2):
        await client.post(INGEST, json=body(event(None)), headers=auth)
    assert [e.status for e in state.events(limit=2)] == ["kept", "kept"]
    assert state.summary()["conversion_actions"][ACTION]["deduplicated"] == 1


async def test_duplicates_within_one_request(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    r = await client.post(INGEST, json=body(event("dup"), event("dup")), headers=auth)
    assert r.status_code == 200
    assert [e.status for e in state.events()] == ["deduplicated", "kept"]


async def test_events_go_to_their_referenced_destinations(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    dests = [destination("1", reference="a"), destination("2", reference="b")]
    events = [event("both"), event("only-b", destinationReferences=["b"])]
    r = await client.post(INGEST, json=body(*events, destinations=dests), headers=auth)
    assert r.status_code == 200
    got = sorted((e.transaction_id or "", e.conversion_action) for e in state.events())
    assert got == [("both", "1"), ("both", "2"), ("only-b", "2")]


async def test_request_status_processing_then_per_destination(
    client: httpx.AsyncClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    await client.post(INGEST, json=body(event("seen")), headers=auth)
    dests = [destination(ACTION), destination("222")]
    events = [
        event("seen"),  # a duplicate for ACTION only
        event("denied", consent={"adUserData": "CONSENT_DENIED"}),
        event("old", eventTimestamp=stamp(91 * 86400)),
        event("fine"),
    ]
    r = await client.post(INGEST, json=body(*events, destinations=dests), headers=auth)
    request_id = r.json()["requestId"]
    status = await client.get(STATUS, params={"requestId": request_id}, headers=auth)
    assert status.status_code == 200
    per = status.json()["requestStatusPerDestination"]
    assert [p["requestStatus"] for p in per] == ["PROCESSING", "PROCESSING"]
    clock.advance(2)
    per = (await client.get(STATUS, params={"requestId": request_id}, headers=auth)).json()[
        "requestStatusPerDestination"
    ]
    assert per[0]["destination"]["productDestinationId"] == ACTION
    assert per[0]["requestStatus"] == "PARTIAL_SUCCESS"
    assert per[0]["eventsIngestionStatus"] == {"recordCount": "4"}
    assert per[0]["errorInfo"]["errorCounts"] == [
        {"recordCount": "1", "reason": "PROCESSING_ERROR_REASON_DENIED_CONSENT"},
        {"recordCount": "1", "reason": "PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID"},
        {"recordCount": "1", "reason": "PROCESSING_ERROR_REASON_EVENT_TOO_OLD"},
    ]
    assert per[1]["requestStatus"] == "PARTIAL_SUCCESS"
    assert len(per[1]["errorInfo"]["errorCounts"]) == 2


async def test_request_status_success_and_failed(
    client: httpx.AsyncClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    ok = (await client.post(INGEST, json=body(event("a")), headers=auth)).json()["requestId"]
    dup = (await client.post(INGEST, json=body(event("a")), headers=auth)).json()["requestId"]
    clock.advance(5)
    ok_status = await client.get(STATUS, params={"requestId": ok}, headers=auth)
    dup_status = await client.get(STATUS, params={"requestId": dup}, headers=auth)
    [one] = ok_status.json()["requestStatusPerDestination"]
    assert one["requestStatus"] == "SUCCESS" and "errorInfo" not in one
    assert dup_status.json()["requestStatusPerDestination"][0]["requestStatus"] == "FAILED"


async def test_request_status_needs_a_known_request_id(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    missing = await client.get(STATUS, headers=auth)
    assert google_error(missing, 400, "INVALID_ARGUMENT")["details"][0]["reason"] == (
        "REQUIRED_FIELD_MISSING"
    )
    unknown = await client.get(STATUS, params={"requestId": "nope"}, headers=auth)
    assert error_info(google_error(unknown, 400, "INVALID_ARGUMENT"))["reason"] == (
        "INVALID_REQUEST_ID"
    )


# --- quota -------------------------------------------------------------------------------------


async def test_quota_is_300_a_minute_per_project_by_default(
    client: httpx.AsyncClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    for i in range(300):
        r = await client.post(INGEST, json=body(event(f"q{i}")), headers=auth)
        assert r.status_code == 200, (i, r.text)
    over = await client.post(INGEST, json=body(event("q300")), headers=auth)
    err = google_error(over, 429, "RESOURCE_EXHAUSTED")
    info = error_info(err)
    assert info["reason"] == "RATE_LIMIT_EXCEEDED"
    assert info["metadata"]["quota_limit_value"] == "300"
    assert info["metadata"]["consumer"] == "projects/123456789012"
    # Another project has its own quota.
    other = await access_token(client, client_id="555-other.apps.googleusercontent.com")
    assert (
        await client.post(INGEST, json=body(event("p2")), headers=bearer(other))
    ).status_code == 200
    # A refused request consumes nothing; the minute slides on the injected clock.
    clock.advance(60)
    assert (await client.post(INGEST, json=body(event("q301")), headers=auth)).status_code == 200


async def test_quota_is_configurable(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock, quota_per_minute=2, quota_per_day=3)
    app = create_app(state=state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        headers = bearer((await c.post("/token", data=refresh_form())).json()["access_token"])
        codes = []
        for i in range(3):
            codes.append(
                (await c.post(INGEST, json=body(event(f"c{i}")), headers=headers)).status_code
            )
        assert codes == [200, 200, 429]
        clock.advance(61)
        assert (await c.post(INGEST, json=body(event("c3")), headers=headers)).status_code == 200
        clock.advance(61)
        day = await c.post(INGEST, json=body(event("c4")), headers=headers)
        assert day.status_code == 429
        assert "per day" in day.json()["error"]["message"]
    assert state.summary()["quota"] == {"per_minute": 2, "per_day": 3}


async def test_a_google_analytics_destination_takes_client_ids(
    client: httpx.AsyncClient, auth: dict[str, str], state: SandboxState
) -> None:
    ga4 = {
        "operatingAccount": {"accountType": "GOOGLE_ANALYTICS_PROPERTY", "accountId": "p-1"},
        "productDestinationId": "G-ABC123",
    }
    ev = event("ga-1", userData=None, adIdentifiers=None, eventSource=None)
    ev.update(clientId="1234.5678", eventName="purchase")
    r = await client.post(INGEST, json=body(ev, destinations=[ga4], encoding=None), headers=auth)
    assert r.status_code == 200, r.text
    assert state.events()[0].keys == ("clientId",)
