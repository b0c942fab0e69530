"""The control plane: events, requests, summary, reset, and no plaintext kept."""

from __future__ import annotations

import httpx
import pytest

from signalyard.sandbox.pinterest import SandboxState

from .factory import ACCOUNT, EVENTS, HEADERS, TOKEN, body, event, sha

pytestmark = pytest.mark.anyio


async def test_index_events_requests_summary_and_reset(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    index = (await client.get("/_sandbox")).json()
    assert index["sandbox"] == "pinterest" and any("ad_accounts" in k for k in index["endpoints"])
    await client.post(EVENTS, json=body(event("a"), event("b", event_name="lead")), headers=HEADERS)
    await client.post(EVENTS + "?test=true", json=body(event("c")), headers=HEADERS)
    listed = (await client.get("/_sandbox/events", params={"event_name": "lead"})).json()
    assert listed["count"] == 1 and listed["events"][0]["event_id"] == "b"
    assert listed["events"][0]["data"]["event_name"] == "lead"
    tests = (await client.get("/_sandbox/events", params={"test": "true"})).json()
    assert [e["event_id"] for e in tests["events"]] == ["c"]
    bad = await client.get("/_sandbox/events", params={"test": "maybe"})
    assert bad.status_code == 400
    requests = (await client.get("/_sandbox/requests")).json()
    assert requests["count"] == 2 and TOKEN not in str(requests)
    summary = (await client.get("/_sandbox/summary")).json()
    assert summary["totals"]["processed"] == 3 and summary["totals"]["requests"] == 2
    checkout = summary["ad_accounts"][ACCOUNT]["events"]["checkout"]
    coverage = checkout["match_key_coverage"]["keys"]
    assert coverage["em"] == 1.0 and coverage["ip_ua"] == 1.0 and coverage["click_id"] == 0.0
    assert (await client.delete("/_sandbox/state")).json() == {"reset": True}
    assert state.events() == [] and state.summary()["totals"]["requests"] == 0


async def test_plaintext_is_kept_only_as_sent(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    user = {"em": [sha("jane@example.com")], "client_ip_address": "203.0.113.7"}
    hashed = event("h", user_data={**user, "client_user_agent": "UA"})
    await client.post(EVENTS, json=body(hashed), headers=HEADERS)
    summary = str((await client.get("/_sandbox/summary")).json())
    assert "jane@example.com" not in summary and "203.0.113.7" not in summary
