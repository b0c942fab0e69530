"""Deduplication by conversion_id, per ad account and event name, 48 hours, test apart."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.sandbox.reddit import SandboxState

from .factory import body, event, post

pytestmark = pytest.mark.anyio


async def test_a_second_copy_is_deduplicated(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await post(client, body(event("o-1")))
    await post(client, body(event("o-1"), event("o-1", tracking_type="Lead")))
    first, dup, lead = sorted(state.events(), key=lambda e: e.seq)
    assert first.dedup == "kept" and lead.dedup == "kept"
    assert dup.dedup == "deduplicated" and dup.dedup_of == first.seq
    assert state.summary()["totals"]["deduplicated"] == 1


async def test_the_window_and_test_mode(
    client: httpx.AsyncClient, state: SandboxState, clock: FrozenClock
) -> None:
    await post(client, body(event("o-2")))
    await post(client, body(event("o-2"), test_mode=True))  # test events apart
    clock.advance(48 * 3600)
    await post(client, body(event("o-2")))  # after the window: kept again
    assert [e.dedup for e in sorted(state.events(), key=lambda e: e.seq)] == ["kept"] * 3


async def test_without_conversion_id_nothing_is_deduplicated(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    await post(client, body(event(None), event(None)))
    assert {e.dedup for e in state.events()} == {"no_conversion_id"}
