"""``Worker.run``'s pruning (and the attribution intake before it) gives way to deliveries:
while a destination's claims come back full, a due pruning waits, at most
``prune_interval_seconds`` more; once the queue is drained it runs at the next poll.

The worker's clock is frozen and moved by the test (when pruning is due); its polls are
real asyncio time (``poll_seconds`` 0.01). Requests are held open with :class:`Gated`, so
that both slots stay busy with full claims (one event each)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.worker import Worker
from signalyard.store.sqlite import SQLiteStore
from tests.delivery.test_worker import setup
from tests.delivery.test_worker_slots import WAIT, Gated, counts, running, settings, until

pytestmark = pytest.mark.anyio

INTERVAL = 100.0


def counted_prunes(worker: Worker) -> list[float]:
    """The worker's pruning replaced by one that records the (monotonic) time of each."""
    at: list[float] = []

    async def prune() -> None:
        at.append(worker.clock.monotonic())

    worker.prune = prune  # type: ignore[method-assign]
    return at


async def behind(store: SQLiteStore, clock: FrozenClock) -> tuple[Worker, Gated, list[float]]:
    """A worker with four events queued whose first two requests (one event each, two
    slots) are held open: both of its claims were full."""
    sink = Gated()
    sink.hold("e0", "e1")
    worker = await setup(store, clock, sink, 4)
    worker.settings = settings(poll_seconds=0.01, prune_interval_seconds=INTERVAL)
    return worker, sink, counted_prunes(worker)


async def polls(n: int = 10) -> None:
    """Let the worker's loop run ``n`` polls or more."""
    await asyncio.sleep(0.01 * n)


async def test_pruning_waits_while_claims_come_back_full_then_runs_once_drained(
    sqlite_store: SQLiteStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    worker, sink, pruned = await behind(sqlite_store, clock)
    caplog.set_level(logging.INFO, "signalyard.delivery")
    async with running(worker, sink):
        await until(lambda: len(sink.started) == 2, "both slots take a full claim")
        clock.advance(61)  # the first pruning is due 60 s after the start
        await polls()
        assert pruned == [], "pruning ran while deliveries were behind"
        assert [r for r in caplog.records if "Pruning waits" in r.getMessage()]
        sink.let_go()
        await until(lambda: len(sink.delivered) == 4, "the queue drains")
        await until(lambda: len(pruned) == 1, "pruning runs once nothing more is due")
        assert await counts(sqlite_store, clock) == (4, 0)
    assert len(pruned) == 1


async def test_pruning_waits_through_a_drain_of_one_destination(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """Requests answering after 10 ms, 40 of them (400 events, 10 a batch, two slots), polls
    every 10 ms: pruning, due from the first request on, runs only once every request has
    been claimed. The destination stays behind while each of its claims runs, not only
    between them."""
    sink = Gated(max_batch=10, dwell=0.01)
    worker = await setup(sqlite_store, clock, sink, 400)
    worker.settings = settings(poll_seconds=0.01, prune_interval_seconds=INTERVAL)
    when_pruned: list[tuple[int, int]] = []  # (requests started, events delivered)

    async def prune() -> None:
        when_pruned.append((len(sink.started), len(sink.delivered)))

    worker.prune = prune  # type: ignore[method-assign]
    async with running(worker, sink):
        await until(lambda: len(sink.started) >= 1, "the drain starts")
        clock.advance(61)
        await until(lambda: len(when_pruned) == 1, "pruning runs after the drain", 10)
    # Every request claimed; the last one may still be in flight (its claim was full, the
    # next one found nothing: the destination is caught up).
    [(started, delivered)] = when_pruned
    assert started == 40 and delivered >= 390


async def test_pruning_waits_at_most_one_more_interval(
    sqlite_store: SQLiteStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    worker, sink, pruned = await behind(sqlite_store, clock)
    caplog.set_level(logging.INFO, "signalyard.delivery")
    async with running(worker, sink):
        await until(lambda: len(sink.started) == 2, "both slots take a full claim")
        clock.advance(60 + INTERVAL - 1)
        await until(
            lambda: any("Pruning waits" in r.getMessage() for r in caplog.records),
            "the due pruning is seen to wait",
        )
        await polls()
        assert pruned == [], "pruning ran before it had waited an interval"
        clock.advance(1)
        await until(lambda: len(pruned) == 1, "pruning runs after waiting an interval")
        assert pruned == [60 + INTERVAL]
        assert sink.delivered == []  # still behind: both requests held


async def test_pruning_does_not_wait_for_a_destination_that_is_not_behind(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """A request in flight is not a backlog: one event queued, two slots of one event each;
    the first claim came back full, the second found nothing, so the destination is caught
    up while e0 is still in flight."""
    sink = Gated()
    sink.hold("e0")
    worker = await setup(sqlite_store, clock, sink, 1)
    worker.settings = settings(poll_seconds=0.01, prune_interval_seconds=INTERVAL)
    pruned = counted_prunes(worker)
    async with running(worker, sink):
        await until(lambda: len(sink.started) == 1, "e0 is sent")
        clock.advance(61)
        await until(lambda: len(pruned) == 1, "pruning runs while e0 is in flight")
        assert sink.delivered == []


async def test_stopping_the_worker_cancels_a_pruning_in_progress(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """A pruning after a long backlog can take a minute (attribution's intake); a worker
    asked to stop cancels it instead of waiting for it."""
    sink = Gated()
    worker = await setup(sqlite_store, clock, sink, 0)
    worker.settings = settings(poll_seconds=0.01, prune_interval_seconds=INTERVAL)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def prune() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    worker.prune = prune  # type: ignore[method-assign]
    async with running(worker, sink) as (stop, task):
        await polls()  # the worker runs (its first pruning counted from its start)
        clock.advance(61)
        await asyncio.wait_for(started.wait(), WAIT)
        stop.set()
        done, _ = await asyncio.wait({task}, timeout=WAIT)
        assert done, "the worker waited for the pruning"
        assert cancelled.is_set()
        task.result()
