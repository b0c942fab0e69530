"""SQLite reads a dataset's attribution evidence (:meth:`SQLiteStore.attribution_evidence`) on
a connection of its own in a worker thread, in one read transaction: the store's thread (every
ingest's commit) never waits on it, the read sees one state, and a cancelled read lets go at
once and is interrupted."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from signalyard.clock import FrozenClock
from signalyard.runtime import make_attributor
from signalyard.sources.ingest import Ingestor
from signalyard.store import _attribution_sql
from signalyard.store.base import AttributionEvidence
from signalyard.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio

DATASET = "5550001111"


@pytest.fixture
async def store(sqlite_url: str, clock: FrozenClock) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(sqlite_url)
    await s.open()
    await s.add_dataset(DATASET, name="Shop", default_country=None, now=clock.now())
    yield s
    await s.close()


async def add_order(store: SQLiteStore, clock: FrozenClock, order_id: str) -> None:
    """An order through the real ingest path, taken in as evidence."""
    clock.advance(60)
    event = {
        "event_name": "Purchase",
        "event_time": int(clock.now()),
        "event_id": f"purchase-{order_id}",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/thank-you",
        "user_data": {"fbp": f"fb.1.1.{order_id}", "client_ip_address": "203.0.113.7"},
        "custom_data": {"currency": "EUR", "value": 10.0, "order_id": order_id},
    }
    dataset = await store.get_dataset(DATASET)
    assert dataset is not None
    ingestor = Ingestor(store, clock, default_country=None, max_future_seconds=600)
    assert (await ingestor.ingest([event], dataset, source="graph_api")).stored == 1
    await make_attributor(store, clock).sync(DATASET)


def order_ids(evidence: AttributionEvidence) -> list[str]:
    return sorted(str(row[0]) for row in evidence.orders)


async def test_the_evidence_is_read_off_the_store_s_thread_in_one_transaction(
    store: SQLiteStore, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_order(store, clock, "1001")
    assert order_ids(await store.attribution_evidence(DATASET)) == ["1001"]
    entered, release = threading.Event(), threading.Event()
    seen: list[tuple[int, list[str]]] = []
    original = _attribution_sql.load_sqlite

    def held(conn: sqlite3.Connection, dataset_id: str) -> AttributionEvidence:
        before = original(conn, dataset_id)  # the read transaction has begun
        seen.append((threading.get_ident(), order_ids(before)))
        entered.set()
        assert release.wait(10), "never released"
        return original(conn, dataset_id)

    monkeypatch.setattr(_attribution_sql, "load_sqlite", held)
    read = asyncio.get_running_loop().create_task(store.attribution_evidence(DATASET))
    try:
        assert await asyncio.to_thread(entered.wait, 10)
        # while it reads, the store's thread commits: an ingest, its evidence, a dataset
        await asyncio.wait_for(add_order(store, clock, "1002"), 5)
        await asyncio.wait_for(
            store.add_dataset("5550002222", name="Other", default_country=None, now=clock.now()),
            5,
        )
        assert {d.id for d in await store.list_datasets()} == {DATASET, "5550002222"}
        store_thread = await store.run_job(lambda conn: threading.get_ident())
        assert not read.done()
    finally:
        release.set()
    evidence = await asyncio.wait_for(read, 5)
    [(thread, first)] = seen
    assert thread != store_thread
    # one state: the order committed meanwhile is not in this read, is in the next
    assert first == order_ids(evidence) == ["1001"]
    monkeypatch.undo()
    assert order_ids(await store.attribution_evidence(DATASET)) == ["1001", "1002"]


HELD = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)"
    " SELECT count(hold(x)) FROM c"
)
"""A read that stops at its first row until released (``hold``), then goes on: SQLite ends
it (``interrupted``) at its next step when it was interrupted meanwhile."""


async def test_a_cancelled_read_lets_go_at_once_and_is_interrupted(
    store: SQLiteStore, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_order(store, clock, "1001")
    entered, release, ended = threading.Event(), threading.Event(), threading.Event()
    outcome: list[Any] = []

    def hold(x: int) -> int:
        if x == 1:
            entered.set()
            release.wait(10)
        return x

    def held(conn: sqlite3.Connection, dataset_id: str) -> AttributionEvidence:
        conn.create_function("hold", 1, hold)
        try:
            outcome.append(conn.execute(HELD).fetchone())
        except BaseException as error:
            outcome.append(error)
            raise
        finally:
            ended.set()
        return AttributionEvidence([], [], [], [])

    monkeypatch.setattr(_attribution_sql, "load_sqlite", held)
    read = asyncio.get_running_loop().create_task(store.attribution_evidence(DATASET))
    try:
        assert await asyncio.to_thread(entered.wait, 10)
        cancelled_at = time.monotonic()
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        assert time.monotonic() - cancelled_at < 0.5  # not waiting for the thread
        assert not ended.is_set()  # which still holds
        # the store answers meanwhile
        await asyncio.wait_for(
            store.add_dataset("5550003333", name="x", default_country=None, now=clock.now()), 5
        )
    finally:
        release.set()
    assert await asyncio.to_thread(ended.wait, 10)
    [error] = outcome
    assert isinstance(error, sqlite3.OperationalError) and "interrupt" in str(error)
    # the store reads again as before
    monkeypatch.undo()
    assert order_ids(await store.attribution_evidence(DATASET)) == ["1001"]
