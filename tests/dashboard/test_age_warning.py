"""The delivery page warns when a destination's oldest queued event nears *its* platform's age
limit (a day before the spec's max_age_seconds), not Meta's 7 days for every kind."""

from __future__ import annotations

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.event import AcceptedEvent
from signalyard.sinks import REGISTRY
from signalyard.store.sqlite import SQLiteStore

from .conftest import DATASET
from .test_pages import page

pytestmark = pytest.mark.anyio
DAY = 86400


async def add(store: SQLiteStore, kind: str, now: float) -> None:
    example = REGISTRY[kind].example()
    await store.add_destination(
        DATASET,
        name=kind,
        kind=kind,
        options={**example.to_mapping(), **{k: "sandbox" for k in REGISTRY[kind].url_options}},
        secrets=example.to_secrets(),
        now=now,
    )


async def test_the_warning_follows_each_destinations_own_limit(
    authed: httpx.AsyncClient, store: SQLiteStore, clock: FrozenClock
) -> None:
    now = clock.now()
    await add(store, "meta", now)
    await add(store, "google", now)
    payload = {"event_name": "Purchase", "event_id": "old-1", "user_data": {}}
    event = AcceptedEvent(DATASET, "Purchase", "old-1", int(now - 6.5 * DAY), payload)
    assert await store.ingest([event], now=now) == [True]
    ids = await page(authed, "/delivery")
    assert ids["oldest-meta"].startswith("oldest queued event 6 d")
    assert "close to this platform's age limit (7 days)" in ids["destination-meta"]
    assert "6 d" in ids["oldest-google"] and "age limit" not in ids["destination-google"]
