"""The Graph endpoint's dataset cache: a key holder asking for any number of dataset ids that
do not exist leaves nothing behind (misses are not kept), and the datasets kept are bounded
(least recently used first out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from signalyard.clock import FrozenClock
from signalyard.sources import graph_api
from signalyard.sources.auth import KeyChecker, new_key
from signalyard.sources.body import BodyReader
from signalyard.sources.graph_api import GraphEndpoint
from signalyard.sources.ingest import Ingestor
from signalyard.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio
DATASET = "1234567890"


@dataclass
class Rig:
    endpoint: GraphEndpoint
    client: httpx.AsyncClient
    store: SQLiteStore
    key: str


@pytest.fixture
async def rig(sqlite_url: str, clock: FrozenClock) -> AsyncIterator[Rig]:
    store = SQLiteStore(sqlite_url)
    await store.open()
    try:
        now = clock.now()
        await store.add_dataset(DATASET, name="Shop", default_country="US", now=now)
        key = new_key()
        await store.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="t", now=now)
        ingestor = Ingestor(store, clock, default_country=None, max_future_seconds=600)
        bodies = BodyReader.configured(
            in_flight_bytes=1 << 20, wait_seconds=0, read_timeout=5, largest_body=1 << 16
        )
        endpoint = GraphEndpoint(
            store,
            ingestor,
            KeyChecker(store, clock),
            clock,
            max_body_bytes=1 << 16,
            max_events=10,
            bodies=bodies,
        )
        route = Route("/{version}/{dataset_id}/events", endpoint.handle, methods=["POST"])
        app = Starlette(routes=[route])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield Rig(endpoint, client, store, key.secret)
    finally:
        await store.close()


async def post(r: Rig, dataset_id: str) -> httpx.Response:
    return await r.client.post(
        f"/v26.0/{dataset_id}/events", params={"access_token": r.key}, json={"data": []}
    )


async def test_missing_datasets_asked_with_a_valid_key_are_not_kept(rig: Rig) -> None:
    for i in range(300):
        answer = await post(rig, f"9{i:09d}")
        assert answer.status_code == 400
        assert answer.json()["error"]["error_subcode"] == 33
    assert len(rig.endpoint._datasets) == 0


async def test_a_dataset_added_after_a_miss_is_found_at_once(rig: Rig, clock: FrozenClock) -> None:
    assert (await post(rig, "5550001111")).status_code == 400
    await rig.store.add_dataset("5550001111", name="New", default_country=None, now=clock.now())
    # The key belongs to another dataset: the dataset is found, then the key is refused.
    assert (await post(rig, "5550001111")).json()["error"]["code"] == 190


async def test_the_datasets_kept_are_bounded(
    rig: Rig, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_api, "MAX_CACHED_DATASETS", 3)
    ids = [f"77700000{i:02d}" for i in range(8)]
    for dataset_id in ids:
        await rig.store.add_dataset(dataset_id, name="x", default_country=None, now=clock.now())
    for dataset_id in [DATASET, *ids]:
        await post(rig, dataset_id)
        assert len(rig.endpoint._datasets) <= 3
    assert list(rig.endpoint._datasets) == ids[-3:]  # the most recently used
