"""The /_sandbox control plane: events and their filters, summary with match-key coverage,
requests, reset."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from signalyard.sandbox.tiktok import SandboxState

from .factory import PIXEL, answer, body, event, sha, track

pytestmark = pytest.mark.anyio
OTHER = "COTHERPIXEL0000000001"


async def test_events_listing_and_filters(client: httpx.AsyncClient) -> None:
    answer(await track(client, body(event("a"), event("b", name="Lead"))), 0)
    answer(await track(client, body(event("c"), event_source_id=OTHER)), 0)
    answer(await track(client, body(event("a"), test_event_code="TEST1")), 0)
    everything = (await client.get("/_sandbox/events")).json()
    assert [e["event_id"] for e in everything["events"]] == ["a", "c", "b", "a"]
    first = everything["events"][-1]
    assert first["received_at"] == 1_800_000_000
    assert first["status"] == "accepted" and first["error"] is None
    assert first["dedup"] == {"status": "kept", "of": None}
    assert first["data"]["user"]["ttp"] == "2cFzPqv0xKo8w3qYzdLnJbqXtSe"
    assert first["event_source"] == "web" and first["event_source_id"] == PIXEL
    assert first["request_id"]

    async def ids(**params: Any) -> list[str]:
        r = await client.get("/_sandbox/events", params=params)
        assert r.status_code == 200, r.text
        return [e["event_id"] for e in r.json()["events"]]

    assert await ids(event_source_id=PIXEL) == ["a", "b", "a"]
    assert await ids(event="Lead") == ["b"]
    assert await ids(event_id="a") == ["a", "a"]
    assert await ids(test="false") == ["c", "b", "a"]
    assert await ids(test="true") == ["a"]
    assert await ids(test_event_code="TEST1") == ["a"]
    assert await ids(status="accepted", limit=2) == ["a", "c"]
    assert await ids(dedup="kept") == ["a", "c", "b", "a"]
    assert await ids(status="invalid") == []
    for bad in ({"limit": "x"}, {"limit": "0"}, {"test": "maybe"}):
        assert (await client.get("/_sandbox/events", params=bad)).status_code == 400


async def test_summary_counts(client: httpx.AsyncClient) -> None:
    answer(await track(client, body(event("a"), event("b"), event("c", name="Lead"))), 0)
    answer(await track(client, body(event("a"))), 0)
    answer(await track(client, body(event("d"), event("e", event_time="x"))), 20001)
    answer(await track(client, body(event("x")), token=None), 40104)  # no event source yet
    summary = (await client.get("/_sandbox/summary")).json()
    assert summary["totals"] | {"events_held": 0, "bytes_held": 0} == {
        "requests": 3,
        "ok": 2,
        "partial": 1,
        "rejected": 0,
        "events_received": 6,
        "accepted": 5,
        "invalid": 1,
        "deduplicated": 1,
        "events_held": 0,
        "max_events": 200_000,
        "bytes_held": 0,
        "max_bytes": 256 * 1024 * 1024,
    }
    source = summary["event_sources"][PIXEL]
    assert source["event_source"] == "web"
    assert source["requests"] == {"total": 3, "ok": 2, "partial": 1, "rejected": 0, "errors": {}}
    assert source["batch_sizes"] == {"min": 1, "max": 3}
    purchase = source["events"]["CompletePayment"]
    assert {k: purchase[k] for k in ("received", "accepted", "invalid", "deduplicated")} == {
        "received": 5,
        "accepted": 4,
        "invalid": 1,
        "deduplicated": 1,
    }
    assert (purchase["requests"], purchase["distinct_event_ids"]) == (3, 3)
    assert source["events"]["Lead"]["received"] == 1


async def coverage(client: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, Any]:
    await client.delete("/_sandbox/state")
    answer(await track(client, body(event("q", name="Lead", user=user))), 0)
    summary = (await client.get("/_sandbox/summary")).json()
    out: dict[str, Any] = summary["event_sources"][PIXEL]["events"]["Lead"]["match_key_coverage"]
    return out


async def test_match_key_coverage(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"email": sha("a@b.c")}, {"email"}),
        ({"phone": [sha("+15551234567")]}, {"phone"}),
        ({"external_id": sha("77")}, {"external_id"}),
        ({"ip": "203.0.113.7"}, set()),
        ({"ip": "203.0.113.7", "user_agent": "UA"}, {"ip_ua"}),
        ({"ttclid": "E.C.P.abc"}, {"ttclid"}),
        ({"ttp": "2cFzPqv0xKo8w3qYzdLnJbqXtSe"}, {"ttp"}),
        ({"email": "plain@example.com", "ttp": sha("hashed-cookie")}, set()),
    ]
    for user, keys in cases:
        got = await coverage(client, user)
        assert {k for k, share in got["keys"].items() if share} == keys, user
        assert got["with_any_key"] == (1.0 if keys else 0.0)
        assert got["events"] == 1


async def test_coverage_is_a_share(client: httpx.AsyncClient) -> None:
    events = [
        event("1", name="Lead", user={"email": sha("a")}),
        event("2", name="Lead", user={"email": sha("b"), "ttclid": "E.C.P.x"}),
        event("3", name="Lead", user={"ttclid": "E.C.P.y"}),
        event("4", name="Lead", user={"locale": "en"}),
    ]
    answer(await track(client, body(*events)), 0)
    summary = (await client.get("/_sandbox/summary")).json()
    got = summary["event_sources"][PIXEL]["events"]["Lead"]["match_key_coverage"]
    assert got["keys"]["email"] == 0.5 and got["keys"]["ttclid"] == 0.5
    assert got["with_any_key"] == 0.75


async def test_limited_data_use_is_counted(client: httpx.AsyncClient, state: SandboxState) -> None:
    answer(await track(client, body(event("a", limited_data_use=True), event("b"))), 0)
    assert [e.limited_data_use for e in state.events()] == [False, True]
    summary = state.summary()
    assert summary["event_sources"][PIXEL]["events"]["CompletePayment"]["limited_data_use"] == 1


async def test_requests_listing(client: httpx.AsyncClient) -> None:
    answer(await track(client, body(event("a"), partner_name="Signalyard")), 0)
    answer(await track(client, body(event("b"), event_source_id=OTHER)), 0)
    listed = (await client.get("/_sandbox/requests")).json()["requests"]
    assert [r["event_source_id"] for r in listed] == [OTHER, PIXEL]
    assert listed[1]["partner_name"] == "Signalyard"
    assert listed[1]["status"] == 200 and listed[1]["code"] == 0 and listed[1]["events"] == 1
    only = (await client.get("/_sandbox/requests", params={"event_source_id": PIXEL})).json()
    assert only["count"] == 1
    assert (await client.get("/_sandbox/requests", params={"limit": "-1"})).status_code == 400


async def test_reset(client: httpx.AsyncClient, state: SandboxState) -> None:
    answer(await track(client, body(event("a"))), 0)
    assert (await client.delete("/_sandbox/state")).json() == {"reset": True}
    assert state.events() == [] and state.requests() == []
    assert (await client.get("/_sandbox/summary")).json()["event_sources"] == {}
    answer(await track(client, body(event("a"))), 0)  # the dedup memory went too
    assert state.events()[0].dedup == "kept"
