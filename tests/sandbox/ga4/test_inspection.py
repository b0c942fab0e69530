"""The control plane: events, requests and the summary (counts only, never a value that was
sent), reset."""

from __future__ import annotations

import httpx
import orjson
import pytest

from signalyard.sandbox.ga4 import SandboxState

from .factory import HEX, SECRET, body, collect, event, messages

pytestmark = pytest.mark.anyio


async def test_index(client: httpx.AsyncClient) -> None:
    index = (await client.get("/_sandbox")).json()
    assert index["sandbox"] == "ga4"
    assert "POST /mp/collect" in index["endpoints"]
    assert "POST /debug/mp/collect" in index["endpoints"]


async def test_events_and_their_filters(client: httpx.AsyncClient) -> None:
    await collect(client, body(event(event_id="a"), event("add_to_cart", "b")))
    await collect(client, body(event("session_start", "c")))
    listed = (await client.get("/_sandbox/events")).json()
    assert [e["event_id"] for e in listed["events"]] == ["c", "b", "a"]
    assert listed["events"][0]["status"] == "dropped"
    assert listed["events"][0]["validation_code"] == "NAME_RESERVED"
    data = listed["events"][1]["data"]
    assert data["client_id"] and data["event"]["name"] == "add_to_cart"
    only = (await client.get("/_sandbox/events", params={"name": "purchase"})).json()
    assert [e["event_id"] for e in only["events"]] == ["a"]
    accepted = (await client.get("/_sandbox/events", params={"status": "accepted"})).json()
    assert accepted["count"] == 2
    assert (await client.get("/_sandbox/events", params={"limit": "x"})).status_code == 400


async def test_requests_filtered_by_endpoint(client: httpx.AsyncClient) -> None:
    await messages(client, body(event("bad-name")))
    await collect(client, body())
    debug = (await client.get("/_sandbox/requests", params={"endpoint": "debug"})).json()
    (record,) = debug["requests"]
    assert record["status"] == 200 and record["validation_messages"] == 1
    collect_only = (await client.get("/_sandbox/requests", params={"endpoint": "collect"})).json()
    assert collect_only["requests"][0]["accepted"] == 1
    assert (await client.get("/_sandbox/requests", params={"endpoint": "x"})).status_code == 400


async def test_summary_counts_without_values(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await messages(client, body(event(event_id="v")))
    await collect(client, body(event(event_id="a"), event("session_start", "b")))
    await collect(client, body(event(event_id="c"), user_data=None, consent=None))
    summary = (await client.get("/_sandbox/summary")).json()
    assert summary["totals"]["received"] == 3 and summary["totals"]["accepted"] == 2
    stream = summary["streams"]["G-TEST12345"]
    assert stream["requests"] == {"collect 204": 2, "debug 200": 1}
    purchase = stream["events"]["purchase"]
    assert (purchase["received"], purchase["accepted"], purchase["validated"]) == (2, 2, 1)
    assert purchase["coverage"]["client_id"] == 1.0
    assert purchase["coverage"]["sha256_email_address"] == 0.5
    assert stream["events"]["session_start"]["dropped"] == {"NAME_RESERVED": 1}
    text = orjson.dumps(summary).decode()
    for value in (HEX, "203.0.113.7", "1234567890.1799990000", SECRET):
        assert value not in text


async def test_reset_keeps_faults(client: httpx.AsyncClient, state: SandboxState) -> None:
    await client.post("/_sandbox/faults", json={"kind": "throttle", "count": 5})
    await collect(client, body())
    assert (await client.delete("/_sandbox/state")).json() == {"reset": True}
    assert state.requests() == [] and state.events() == []
    assert state.summary()["streams"] == {}
    assert len(state.faults) == 1
