"""Deduplication on ``(asset, event_name, event_id)`` within 48 hours, and what
``/_sandbox`` shows of what was received."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.snapchat import SPEC, SandboxState

from .factory import VALIDATE, body, event, post, sha, user

pytestmark = pytest.mark.anyio


async def test_a_repeat_within_48_hours_is_deduplicated(
    clock: FrozenClock, client: httpx.AsyncClient, state: SandboxState
) -> None:
    await post(client, body(event("o1")))
    await post(client, body(event("o1"), event("o1", name="SIGN_UP"), event(None)))
    statuses = [(e.event_name, e.dedup) for e in reversed(state.events())]
    assert statuses == [("PURCHASE", "kept"), ("PURCHASE", "deduplicated"),
                        ("SIGN_UP", "kept"), ("PURCHASE", "no_event_id")]  # fmt: skip
    assert state.events()[2].dedup_of == state.events()[3].seq
    clock.advance(48 * 3600 + 1)
    await post(client, body(event("o1", age=10)))
    assert state.events()[0].dedup == "kept"
    assert SPEC.received(state) == ["o1"] * 3  # two PURCHASE windows and the SIGN_UP


async def test_received_lists_live_kept_events_oldest_first(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await post(client, body(event("a"), event("b")))
    await post(client, body(event("a")))
    await post(client, body(event("c")), path=VALIDATE)
    assert SPEC.received(state) == ["a", "b"]


async def test_test_events_are_deduplicated_only_among_themselves(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await post(client, body(event("x")))
    await post(client, body(event("x")), path=VALIDATE)
    await post(client, body(event("x")), path=VALIDATE)
    assert [e.dedup for e in reversed(state.events())] == ["kept", "kept", "deduplicated"]


async def test_events_filters_and_summary(client: httpx.AsyncClient, state: SandboxState) -> None:
    await post(client, body(event("a"), event("b", name="SIGN_UP", user_data=user(em=None))))
    r = await client.get("/_sandbox/events", params={"event_name": "SIGN_UP"})
    (only,) = r.json()["events"]
    assert only["event_id"] == "b" and only["data"]["event_name"] == "SIGN_UP"
    assert (await client.get("/_sandbox/events", params={"test": "maybe"})).status_code == 400
    assert (await client.get("/_sandbox/events", params={"test": "true"})).json()["count"] == 0
    summary = (await client.get("/_sandbox/summary")).json()
    assert summary["totals"]["accepted"] == 2 and summary["totals"]["valid"] == 1
    (asset,) = summary["assets"].values()
    purchase = asset["events"]["PURCHASE"]["match_key_coverage"]["keys"]
    assert purchase["em"] == 1.0 and purchase["ip_ua"] == 1.0 and purchase["sc_cookie1"] == 1.0
    assert asset["events"]["SIGN_UP"]["match_key_coverage"]["keys"]["em"] == 0.0
    assert sha("john_smith@gmail.com") not in str(summary)  # no identifiers in a summary
    assert (await client.delete("/_sandbox/state")).json() == {"reset": True}
    assert state.events() == [] and state.summary()["totals"]["requests"] == 0


async def test_index_lists_the_endpoints(client: httpx.AsyncClient) -> None:
    out = (await client.get("/_sandbox")).json()
    assert out["sandbox"] == "snapchat"
    assert "POST /v3/{asset_id}/events/validate" in out["endpoints"]
