"""Deduplication by (rule, eventId) within 48 hours of the first receipt; no eventId, no
deduplication; both answered 201."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.linkedin import SPEC, SandboxState

from .factory import element, post

pytestmark = pytest.mark.anyio


async def test_the_same_event_id_is_deduplicated_within_48_hours(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await post(client, [element("a")])
    response = await post(client, [element("a")])
    assert response.json() == {"elements": [{"status": 201}]}  # LinkedIn answers the same
    first, second = reversed(state.events())
    assert first.dedup == "kept" and second.dedup == "deduplicated"
    assert second.dedup_of == first.seq
    assert SPEC.received(state) == ["a"]
    clock.advance(48 * 3600)
    await post(client, [element("a", age=60)])
    assert state.events()[0].dedup == "kept"
    assert state.summary()["conversion_rules"]["104012"]["deduplicated"] == 1


async def test_another_rule_or_no_event_id_is_not_deduplicated(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    other = "urn:lla:llaPartnerConversion:77"
    await post(client, [element("a"), element("a", conversion=other), element(None)])
    await post(client, [element(None)])
    assert [e.dedup for e in reversed(state.events())] == [
        "kept",
        "kept",
        "no_event_id",
        "no_event_id",
    ]
    assert SPEC.received(state) == ["a", "a"]
