"""Deduplication on (event_source_id, event, event_id) within 48 hours (reference §3), and
test events."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.tiktok import SandboxState

from .factory import PIXEL, answer, body, event, track

pytestmark = pytest.mark.anyio


def stats(state: SandboxState, name: str = "CompletePayment") -> dict[str, int]:
    out: dict[str, int] = state.summary()["event_sources"][PIXEL]["events"][name]
    return out


async def test_duplicates_within_48h(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    answer(await track(client, body(event("o1"), event("o2"))), 0)
    clock.advance(47 * 3600)
    out = answer(await track(client, body(event("o1"))), 0)  # answered as any other
    assert out["data"] == {}
    dup, first = state.events(event_id="o1")
    assert (first.dedup, dup.dedup, dup.dedup_of) == ("kept", "deduplicated", first.seq)
    s = stats(state)
    assert (s["received"], s["deduplicated"], s["distinct_event_ids"]) == (3, 1, 2)
    assert state.requests()[0].deduplicated == 1


async def test_the_window_runs_from_the_first_receipt(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    answer(await track(client, body(event("o1"))), 0)
    clock.advance(24 * 3600)
    answer(await track(client, body(event("o1"))), 0)  # deduplicated
    clock.advance(24 * 3600)  # 48 h after the first: a new event
    answer(await track(client, body(event("o1"))), 0)
    assert [e.dedup for e in state.events(event_id="o1")] == ["kept", "deduplicated", "kept"]


async def test_the_key_is_source_event_and_id(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    answer(await track(client, body(event("o1"))), 0)
    answer(await track(client, body(event("o1", name="PlaceAnOrder"))), 0)
    answer(await track(client, body(event("o1"), event_source_id="COTHERPIXEL0000000001")), 0)
    assert [e.dedup for e in state.events()] == ["kept", "kept", "kept"]
    answer(await track(client, body(event("o1"), event("o1"))), 0)  # within one request
    assert [e.dedup for e in state.events(limit=2)] == ["deduplicated", "deduplicated"]


async def test_events_without_event_id_are_never_deduplicated(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    answer(await track(client, body(event(None), event(None))), 0)
    assert [e.dedup for e in state.events()] == ["no_event_id", "no_event_id"]
    assert stats(state)["without_event_id"] == 2


async def test_test_events_are_recorded_as_test_and_kept_apart(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    answer(await track(client, body(event("o1"))), 0)
    answer(await track(client, body(event("o1"), test_event_code="TEST12345")), 0)
    answer(await track(client, body(event("o1"), test_event_code="TEST12345")), 0)
    live, *tests = state.events()[::-1]
    assert (live.is_test, live.dedup) == (False, "kept")
    assert [(e.is_test, e.test_event_code, e.dedup) for e in tests] == [
        (True, "TEST12345", "kept"),
        (True, "TEST12345", "deduplicated"),
    ]
    assert stats(state)["test_events"] == 2
    listed = (await client.get("/_sandbox/events", params={"test": "true"})).json()
    assert [e["test_event_code"] for e in listed["events"]] == ["TEST12345", "TEST12345"]
    assert state.requests()[0].test_event_code == "TEST12345"


async def test_a_test_event_code_inside_the_event_counts_too(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    answer(await track(client, body(event("o1", test_event_code="TEST999"), event("o2"))), 0)
    by_id = {e.event_id: e.test_event_code for e in state.events()}
    assert by_id == {"o1": "TEST999", "o2": None}


async def test_long_event_ids_still_deduplicate_exactly(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    long_id = "id-" + "7" * 20_000
    other = long_id[:-1] + "8"
    for event_id in (long_id, long_id, other):
        answer(await track(client, body(event(event_id))), 0)
    newest, second, first = state.events()
    assert (first.dedup, second.dedup, newest.dedup) == ("kept", "deduplicated", "kept")
    assert len(first.event_id or "") < 1100
