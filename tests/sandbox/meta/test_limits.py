"""The sandbox's memory is bounded by its limits, not by what senders post: a byte budget on
the recorded events, long strings cut in what it stores, a body limit with Graph's answer."""

from __future__ import annotations

import httpx
import orjson
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.bodies import MAX_CONTROL_BODY
from signalyard.sandbox.clip import MAX_STORED_EVENT, MAX_STRING, TRUNCATED_KEY
from signalyard.sandbox.meta import SandboxState, create_app
from signalyard.sandbox.meta.parse import MAX_BODY_BYTES
from signalyard.sandbox.meta.recorder import MAX_DATASETS, footprint
from signalyard.sandbox.meta.stats import MAX_NAMES, OTHER_NAMES

from .factory import DATASET, EVENTS_PATH, body, event

pytestmark = pytest.mark.anyio


def _client(
    state: SandboxState, clock: FrozenClock, max_body_bytes: int = MAX_BODY_BYTES
) -> httpx.AsyncClient:
    app = create_app(clock=clock, state=state, max_body_bytes=max_body_bytes)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


def _bulky(event_id: str, fields: int, size: int) -> dict[str, object]:
    """An event carrying ``fields`` custom strings of ``size`` characters (kept whole)."""
    custom = {f"note_{i}": "x" * size for i in range(fields)}
    return event(event_id, custom_data={"value": 1.0, "currency": "USD", **custom})


async def test_the_byte_budget_holds_while_events_keep_arriving(clock: FrozenClock) -> None:
    budget = 400_000
    state = SandboxState(clock=clock, max_bytes=budget)
    async with _client(state, clock) as c:
        for r in range(30):
            events = [_bulky(f"r{r}-{i}", fields=20, size=1000) for i in range(50)]
            answer = await c.post(EVENTS_PATH, json=body(*events))
            assert answer.status_code == 200, answer.text
            assert 0 < state.bytes_held <= budget
            held = state.events(limit=None)
            assert held[0].event_id == f"r{r}-49"  # the newest is kept, the oldest dropped
            assert state.bytes_held == sum(footprint(e) for e in held)
    # 1,500 events of about 20 KB each were accepted; far fewer fit in 400 KB.
    assert state.summary()["datasets"][DATASET]["events_received"] == 1500
    assert state.event_count < 30
    totals = state.summary()["totals"]
    assert totals["bytes_held"] == state.bytes_held and totals["max_bytes"] == budget


async def test_long_strings_are_cut_in_what_is_stored(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    ua = "Mozilla/5.0 " + "A" * 30_000
    ev = event("order-long")
    ev["user_data"]["client_user_agent"] = ua
    r = await client.post(EVENTS_PATH, json=body(ev))
    assert r.status_code == 200 and r.json()["events_received"] == 1
    (rec,) = state.events(limit=None)
    stored = rec.event
    kept = stored["user_data"]["client_user_agent"]
    assert kept.startswith(ua[:MAX_STRING]) and len(kept) < MAX_STRING + 40
    assert "more characters" in kept
    assert "1 string value(s) cut" in stored[TRUNCATED_KEY]
    assert stored["user_data"]["em"] == ev["user_data"]["em"]  # short values are untouched
    assert len(rec.payload) < 3000
    shown = (await client.get("/_sandbox/events")).json()["events"][0]["event"]
    assert shown == stored


async def test_an_event_too_large_once_cut_is_stored_as_a_placeholder(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    r = await client.post(EVENTS_PATH, json=body(_bulky("order-huge", fields=200, size=1000)))
    assert r.status_code == 200
    (rec,) = state.events(limit=None)
    assert len(rec.payload) < 1000
    stored = rec.event
    assert stored["event_id"] == "order-huge" and stored["event_name"] == "Purchase"
    assert f"up to {MAX_STORED_EVENT} bytes" in stored[TRUNCATED_KEY]


async def test_long_event_ids_still_deduplicate_exactly(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    long_id = "id-" + "7" * 20_000
    other = long_id[:-1] + "8"  # the same first 20,000 characters
    for event_id in (long_id, long_id, other):
        assert (await client.post(EVENTS_PATH, json=body(event(event_id)))).status_code == 200
    newest, second, first = state.events(limit=None)
    assert first.dedup == "kept" and second.dedup == "deduplicated"
    assert newest.dedup == "kept"
    assert len(first.event_id or "") < MAX_STRING + 40


async def test_distinct_event_names_and_datasets_are_bounded(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock)
    for i in range(MAX_NAMES + 50):
        state.record_browser_event(DATASET, f"Custom{i}-" + "n" * 500, f"e{i}")
    names = state.summary()["datasets"][DATASET]["events"]
    assert len(names) == MAX_NAMES + 1
    assert names[OTHER_NAMES]["browser_events"] == 50
    assert all(len(name) < 200 for name in names)
    for i in range(MAX_DATASETS + 10):
        state.record_browser_event(str(10**9 + i), "Lead", "e")
    assert len(state.summary()["datasets"]) == MAX_DATASETS + 1


async def test_a_body_over_the_limit_gets_graphs_error(clock: FrozenClock) -> None:
    state = SandboxState(clock=clock)
    async with _client(state, clock, max_body_bytes=2000) as c:
        small = await c.post(EVENTS_PATH, json=body(event("fits")))
        assert small.status_code == 200
        big = await c.post(EVENTS_PATH, json=body(_bulky("too-big", fields=3, size=1000)))
    assert big.status_code == 413
    error = big.json()["error"]
    assert error["code"] == 100 and "larger than 2000 bytes" in error["message"]
    assert error["fbtrace_id"]
    assert [e.event_id for e in state.events(limit=None)] == ["fits"]
    assert state.requests(limit=1)[0].status == 413


async def test_the_default_body_limit_is_the_gateways(client: httpx.AsyncClient) -> None:
    assert MAX_BODY_BYTES == 8 * 1024 * 1024
    padding = "p" * (MAX_BODY_BYTES + 1)
    r = await client.post(
        EVENTS_PATH,
        content=orjson.dumps(body(event("padded"), partner_agent=padding)),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == 100


async def test_control_bodies_are_bounded(client: httpx.AsyncClient) -> None:
    huge = [{"kind": "server_error", "note": "z" * 1000}] * (MAX_CONTROL_BODY // 1000)
    r = await client.post("/_sandbox/faults", json=huge)
    assert r.status_code == 413
    assert str(MAX_CONTROL_BODY) in r.json()["error"]


async def test_request_records_cut_what_the_path_carries(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    r = await client.post(f"/v26.0/{'9' * 5000}x/events", json=body(event()))
    assert r.status_code == 400
    (rec,) = state.requests(limit=None)
    assert len(rec.dataset_id) < 200
    assert rec.message is not None and len(rec.message) < MAX_STRING + 40
