"""Some events accepted, some not: the 20001 partial answer (its body is the sandbox's
assumption, see signalyard/sandbox/tiktok/answer.py), and what is recorded."""

from __future__ import annotations

import httpx
import pytest

from signalyard.sandbox.tiktok import SandboxState

from .factory import PIXEL, answer, body, event, track

pytestmark = pytest.mark.anyio


async def test_partial_success_names_the_failed_events(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    bad_time = event("o2", event_time="yesterday")
    bad_content = event("o4", properties={"contents": [{"content_id": 1}]})
    payload = body(event("o1"), bad_time, event("o3"), bad_content)
    out = answer(await track(client, payload), 20001)
    assert out["message"] == (
        "Partial success: 2 of 4 events failed. Batch.1.event_time: Not a valid integer"
    )
    assert out["data"] == {
        "events_received": 4,
        "events_accepted": 2,
        "events_failed": 2,
        "failed_events": [
            {
                "index": 1,
                "event_id": "o2",
                "code": 40002,
                "message": "Batch.1.event_time: Not a valid integer",
            },
            {
                "index": 3,
                "event_id": "o4",
                "code": 40002,
                "message": "Batch.3.properties.contents.0.content_id: Not a valid string",
            },
        ],
    }
    # Every event is recorded with whether it was accepted.
    recorded = {e.event_id: (e.status, e.error) for e in state.events()}
    assert recorded == {
        "o1": ("accepted", None),
        "o2": ("invalid", "Batch.1.event_time: Not a valid integer"),
        "o3": ("accepted", None),
        "o4": ("invalid", "Batch.3.properties.contents.0.content_id: Not a valid string"),
    }
    invalid = (await client.get("/_sandbox/events", params={"status": "invalid"})).json()
    assert [e["event_id"] for e in invalid["events"]] == ["o4", "o2"]
    assert invalid["events"][0]["dedup"]["status"] is None
    stats = state.summary()["event_sources"][PIXEL]
    assert stats["requests"]["partial"] == 1
    name = stats["events"]["CompletePayment"]
    assert (name["received"], name["accepted"], name["invalid"]) == (4, 2, 2)
    (logged,) = state.requests()
    assert (logged.code, logged.accepted, logged.invalid) == (20001, 2, 2)


async def test_an_event_without_an_object_or_a_name_is_still_listed(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    out = answer(await track(client, body(event("ok"), 17, {"event_time": 1})), 20001)
    assert [f["index"] for f in out["data"]["failed_events"]] == [1, 2]
    stored = {e.seq: e.event for e in state.events(status="invalid")}
    assert {"_sandbox_not_an_object": 17} in stored.values()
    names = state.summary()["event_sources"][PIXEL]["events"]
    assert names["(no event name)"]["invalid"] == 2


async def test_every_event_invalid_refuses_the_request_and_records_nothing(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    out = answer(
        await track(client, body(event(None) | {"event_id": 1}, event("b", event=2))), 40002
    )
    assert out["message"] == "Batch.0.event_id: Not a valid string"
    assert out["data"] == {}
    assert state.events() == []
    stats = state.summary()["event_sources"][PIXEL]
    assert stats["requests"]["errors"] == {"200/40002": 1}
    assert stats["events"]["CompletePayment"]["invalid"] == 1
    assert stats["events"]["(no event name)"]["invalid"] == 1


async def test_invalid_events_are_never_deduplicated(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    answer(await track(client, body(event("o1"), event("o1", event_time="x"))), 20001)
    answer(await track(client, body(event("o2"), event("o1"))), 0)
    newest = state.events(event_id="o1")
    assert [(e.status, e.dedup) for e in newest] == [
        ("accepted", "deduplicated"),
        ("invalid", None),
        ("accepted", "kept"),
    ]
