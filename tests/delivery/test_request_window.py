"""A platform's request quota is honoured before it is hit: the worker starts at most the
spec's ``max_requests_per_minute`` requests in any 60 seconds for a destination, and sends the
rest once the window frees a slot; nothing is lost or sent twice."""

from __future__ import annotations

import dataclasses

import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.request_window import RequestWindow
from signalyard.outcome import Delivered
from signalyard.sinks import REGISTRY
from signalyard.store.sqlite import SQLiteStore
from tests.delivery.test_worker import ScriptedSink, setup

pytestmark = pytest.mark.anyio


def test_at_most_limit_in_any_period() -> None:
    window = RequestWindow(3, period=60)
    assert window.free(0) == 3
    for t in (0, 1, 2):
        window.take(t)
    assert window.free(2) == 0
    assert window.free(59.9) == 0
    assert window.free(60.0) == 1  # the request of t=0 left the window
    assert window.free(62.0) == 3
    with pytest.raises(ValueError):
        RequestWindow(0)


def test_the_window_holds_at_most_limit_times() -> None:
    window = RequestWindow(2, period=1)
    for t in range(1000):
        window.take(t * 0.01)
    assert len(window._sent) <= 101  # only the last period's


async def test_the_worker_starts_no_more_requests_than_the_quota(
    sqlite_store: SQLiteStore, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = dataclasses.replace(REGISTRY["meta"], kind="fake", max_requests_per_minute=3)
    monkeypatch.setitem(REGISTRY, "fake", limited)
    sink = ScriptedSink(lambda events: Delivered())
    worker = await setup(sqlite_store, clock, sink, 100)  # 10 batches of 10, 2 at a time
    for _ in range(5):
        await worker.run_once()
    assert len(sink.batches) == 3  # the quota, though concurrency and events allow more
    clock.advance(59)
    await worker.run_once()
    assert len(sink.batches) == 3
    clock.advance(1.5)  # the first requests leave the window
    await worker.run_once()
    assert len(sink.batches) == 5  # concurrency 2 per cycle
    for _ in range(10):
        clock.advance(61)
        await worker.run_once()
    assert sorted(sink.delivered) == sorted(f"e{i}" for i in range(100))  # each once
    assert len(sink.batches) == 10


async def test_without_a_quota_nothing_waits(sqlite_store: SQLiteStore, clock: FrozenClock) -> None:
    sink = ScriptedSink(lambda events: Delivered())
    worker = await setup(sqlite_store, clock, sink, 100)
    for _ in range(5):
        await worker.run_once()
    assert len(sink.batches) == 10
