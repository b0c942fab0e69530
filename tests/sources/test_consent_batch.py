"""A request's consent decisions reach the store in one call, with the request's events: a page
of 1000 events, each from its own browser with consent granted, costs one transaction for
the events and their decisions, not one per decision nor a second commit (the ingest of such
events was 2.8 times slower than without consent: docs/performance.md)."""

from __future__ import annotations

from typing import Any

import pytest

from signalyard.clock import FrozenClock
from signalyard.sources.ingest import Ingestor
from signalyard.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio
DATASET = "1234567890"


def event(i: int, now: float, state: str = "granted") -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(now) - 10,
        "event_id": f"order-{i}",
        "action_source": "website",
        "event_source_url": "https://shop.example/",
        "user_data": {
            "fbp": f"fb.1.1700000000000.{1000 + i}",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
        },
        "custom_data": {"currency": "USD", "value": 10.0},
        "consent": state,
    }


async def test_one_consent_call_per_request_and_each_subject_once(
    sqlite_store: SQLiteStore, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sqlite_store.add_dataset(DATASET, name="shop", default_country="US", now=clock.now())
    dataset = await sqlite_store.get_dataset(DATASET)
    assert dataset is not None
    calls: list[int] = []
    real = sqlite_store.ingest_recording

    async def counted(events: Any, decisions: Any, *, now: float) -> Any:
        calls.append(len(decisions))
        return await real(events, decisions, now=now)

    async def separately(decisions: Any, *, now: float) -> Any:
        raise AssertionError("decisions recorded in a transaction of their own")

    monkeypatch.setattr(sqlite_store, "ingest_recording", counted)
    monkeypatch.setattr(sqlite_store, "update_consents", separately)
    ingestor = Ingestor(sqlite_store, clock, default_country="US", max_future_seconds=600)
    raw = [event(i, clock.now()) for i in range(300)] + [event(0, clock.now())]
    await ingestor.ingest(raw, dataset, source="graph_api")
    assert calls == [300]  # one call, with the events; the repeated browser decided once
    # Decisions this process already recorded are not sent again; a change is.
    await ingestor.ingest(
        [event(1, clock.now()), event(2, clock.now(), "denied")], dataset, source="graph_api"
    )
    assert calls == [300, 1]
