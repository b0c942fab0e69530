"""The control plane: events, requests, summary, reset; no token nor plaintext shown."""

from __future__ import annotations

import httpx
import orjson
import pytest

from signalyard.sandbox.reddit import SandboxState

from .factory import ACCOUNT, TOKEN, body, event, post, user

pytestmark = pytest.mark.anyio


async def test_index_events_and_filters(client: httpx.AsyncClient) -> None:
    index = (await client.get("/_sandbox")).json()
    assert index["sandbox"] == "reddit" and any(
        "conversions/events" in k for k in index["endpoints"]
    )
    await post(client, body(event("a"), event("b", tracking_type="Lead")))
    await post(client, body(event("c"), test_mode=True))
    listed = (await client.get("/_sandbox/events", params={"event": "Lead"})).json()
    assert listed["count"] == 1 and listed["events"][0]["conversion_id"] == "b"
    tests = (await client.get("/_sandbox/events", params={"test": "true"})).json()
    assert [e["conversion_id"] for e in tests["events"]] == ["c"]
    one = (await client.get("/_sandbox/events", params={"limit": 1})).json()
    assert one["count"] == 1 and one["events"][0]["data"]["event_metadata"]["conversion_id"] == "c"
    bad = await client.get("/_sandbox/events", params={"test": "maybe"})
    assert bad.status_code == 400


async def test_summary_counts_and_coverage(client: httpx.AsyncClient) -> None:
    await post(client, body(event("a"), event("b", user=user(email=None, uuid=None))))
    await post(client, body(event("c", age=10**6)))  # refused: too old
    summary = (await client.get("/_sandbox/summary")).json()
    account = summary["ad_accounts"][ACCOUNT]
    assert account["requests"] == {"total": 2, "ok": 1, "rejected": 1, "errors": {"400": 1}}
    purchase = account["events"]["Purchase"]
    assert (purchase["received"], purchase["accepted"], purchase["invalid"]) == (3, 2, 1)
    keys = purchase["match_key_coverage"]["keys"]
    assert keys["email"] == 0.5 and keys["ip_ua"] == 1.0 and keys["click_id"] == 1.0
    assert keys["uuid"] == 0.5 and keys["phone_number"] == 0.0


async def test_requests_hold_no_token_and_reset(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await post(client, body(event()))
    requests = (await client.get("/_sandbox/requests", params={"ad_account_id": ACCOUNT})).json()
    assert requests["count"] == 1 and TOKEN not in orjson.dumps(requests).decode()
    assert (await client.delete("/_sandbox/state")).json() == {"reset": True}
    assert state.events() == [] and state.summary()["totals"]["requests"] == 0


async def test_the_summary_never_holds_what_events_carry(client: httpx.AsyncClient) -> None:
    plain = event("p", user=user(email="jane.doe@example.com", ip_address="198.51.100.9"))
    await post(client, body(plain))
    await post(client, body({**plain, "event_at": "bad"}))
    summary = orjson.dumps((await client.get("/_sandbox/summary")).json()).decode()
    requests = orjson.dumps((await client.get("/_sandbox/requests")).json()).decode()
    for text in (summary, requests):
        assert "jane.doe@example.com" not in text and "198.51.100.9" not in text
