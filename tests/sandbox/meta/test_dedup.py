"""Deduplication simulation (reference §5) and test-event tagging (§10)."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.meta import SandboxState

from .factory import DATASET, EVENTS_PATH, NOW, body, event

pytestmark = pytest.mark.anyio


def purchase_stats(state: SandboxState) -> dict[str, object]:
    stats: dict[str, object] = state.summary()["datasets"][DATASET]["events"]["Purchase"]
    return stats


async def test_server_duplicates_within_48h(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await client.post(EVENTS_PATH, json=body(event("o1"), event("o2")))
    clock.advance(3600)
    r = await client.post(EVENTS_PATH, json=body(event("o1", age=10)))
    # Meta answers the same for duplicates: received, not an error.
    assert r.json()["events_received"] == 1
    first, dup = state.events(event_id="o1", limit=None)[::-1]
    assert (first.dedup, dup.dedup) == ("kept", "deduplicated")
    assert dup.dedup_of == first.seq
    assert dup.dedup_pair == "server/server"
    stats = purchase_stats(state)
    assert stats["received"] == 3
    assert stats["deduplicated"] == 1
    assert stats["distinct_event_ids"] == 2
    assert stats["dedup_pairs"] == {"server/server": 1}
    assert state.requests()[0].deduplicated == 1


async def test_window_is_48h_from_first_receipt(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await client.post(EVENTS_PATH, json=body(event("o1")))
    clock.advance(48 * 3600 - 1)
    await client.post(EVENTS_PATH, json=body(event("o1")))
    clock.advance(2)
    await client.post(EVENTS_PATH, json=body(event("o1")))
    statuses = [e.dedup for e in state.events(event_id="o1")][::-1]
    assert statuses == ["kept", "deduplicated", "kept"]


async def test_key_includes_event_name_and_dataset(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await client.post(EVENTS_PATH, json=body(event("x"), event("x", name="Lead")))
    await client.post("/v26.0/999/events", json=body(event("x")))
    assert all(e.dedup == "kept" for e in state.events())


async def test_no_event_id_never_deduplicated(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await client.post(EVENTS_PATH, json=body(event(None), event(None)))
    assert [e.dedup for e in state.events()] == ["no_event_id", "no_event_id"]
    assert purchase_stats(state)["without_event_id"] == 2


async def test_browser_first_then_server(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    state.record_browser_event(DATASET, "Purchase", "o1", NOW - 3600)
    await client.post(EVENTS_PATH, json=body(event("o1")))
    server = state.events(source="server")[0]
    assert server.dedup == "deduplicated"
    assert server.dedup_pair == "browser/server"
    stats = purchase_stats(state)
    assert stats["browser_events"] == 1
    assert stats["dedup_pairs"] == {"browser/server": 1}


async def test_browser_within_5_minutes_after_server_is_preferred(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await client.post(EVENTS_PATH, json=body(event("o1")))
    clock.advance(120)
    browser = state.record_browser_event(DATASET, "Purchase", "o1")
    server = state.events(source="server")[0]
    assert browser.dedup == "kept"
    assert server.dedup == "deduplicated"
    assert server.dedup_of == browser.seq
    assert server.dedup_pair == "server/browser"


async def test_browser_long_after_server_is_dropped(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await client.post(EVENTS_PATH, json=body(event("o1")))
    clock.advance(3600)
    browser = state.record_browser_event(DATASET, "Purchase", "o1")
    assert browser.dedup == "deduplicated"
    assert state.events(source="server")[0].dedup == "kept"


async def test_browser_events_over_http(client: httpx.AsyncClient, state: SandboxState) -> None:
    r = await client.post(
        "/_sandbox/browser-events",
        json=[{"dataset_id": DATASET, "event_name": "Purchase", "event_id": "o1", "time": NOW}],
    )
    assert r.status_code == 201
    assert r.json()["events"][0]["source"] == "browser"
    bad = await client.post("/_sandbox/browser-events", json={"dataset_id": DATASET})
    assert bad.status_code == 400


async def test_test_events_are_recorded_and_tagged(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await client.post(EVENTS_PATH, json=body(event("t1"), test_event_code="TEST123"))
    await client.post(EVENTS_PATH, json=body(event("p1")))
    tagged = state.events(test_event_code="TEST123")
    assert [e.event_id for e in tagged] == ["t1"]
    assert tagged[0].is_test
    assert purchase_stats(state)["test_events"] == 1
    listed = (await client.get("/_sandbox/events", params={"test_event_code": "TEST123"})).json()
    assert listed["count"] == 1
    assert listed["events"][0]["test"] is True


async def test_dedup_memory_is_bounded(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock, max_dedup_keys=2, max_events=3)
    for event_id in ("a", "b", "c"):
        state.record_browser_event(DATASET, "Purchase", event_id)
    # "a" was forgotten by the dedup memory, so it is not a duplicate any more.
    assert state.record_browser_event(DATASET, "Purchase", "a").dedup == "kept"
    assert state.record_browser_event(DATASET, "Purchase", "c").dedup == "deduplicated"
    assert state.event_count == 3
