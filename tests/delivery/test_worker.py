"""The worker's own logic against a scripted sink: the fix of a paused destination, the age
limit, backoff, retention, an unusable configuration. What the platform's answers do
(batching, retries, bisection, throttling, an expired token, timeouts, consent actions, the
lease heartbeat) is tested against the Meta sandbox in ``test_worker_sandbox.py``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.backoff import backoff_delay
from signalyard.delivery.worker import Worker
from signalyard.event import AcceptedEvent, ServerEvent
from signalyard.outcome import Attempt, Delivered, Outcome, Paused, SendResult
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings
from signalyard.store.base import Destination
from signalyard.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


class ScriptedSink:
    kind = "fake"
    max_batch = 10
    max_age_seconds = 7 * 86400
    per_event = False

    def __init__(self, answer: Callable[[Sequence[ServerEvent]], Outcome]) -> None:
        self.answer = answer
        self.batches: list[list[str]] = []
        self.delivered: list[str] = []

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        ids = [e["event_id"] for e in events]
        self.batches.append(ids)
        outcome = self.answer(events)
        if isinstance(outcome, Delivered):
            self.delivered.extend(ids)
        return SendResult(
            Attempt(200 if isinstance(outcome, Delivered) else 400, trace_id="T"),
            (outcome,) * len(events),
        )

    async def healthcheck(self) -> SendResult:
        return SendResult(Attempt(200), ())


async def setup(
    store: SQLiteStore,
    clock: FrozenClock,
    sink: ScriptedSink,
    n: int,
    event_time: int | None = None,
) -> Worker:
    now = clock.now()
    await store.add_dataset("px", name="px", default_country=None, now=now)
    await store.add_destination(
        "px",
        name="fake",
        kind="fake",
        options={},
        secrets={"access_token": Secret("t")},
        now=now,
    )
    t = int(now) if event_time is None else event_time
    await store.ingest(
        [AcceptedEvent("px", "Purchase", f"e{i}", t, {"event_id": f"e{i}"}) for i in range(n)],
        now=now,
    )

    def factory(d: Destination) -> ScriptedSink:
        return sink

    return Worker(
        store,
        DeliverySettings(concurrency=2),
        clock=clock,
        client=httpx.AsyncClient(),
        sandbox_url="http://unused",
        sink_factory=factory,
    )


async def drain(worker: Worker, clock: FrozenClock, rounds: int = 50, step: float = 700) -> None:
    for _ in range(rounds):
        if not await worker.run_once():
            clock.advance(step)


async def test_auth_error_pauses_and_new_token_resumes(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    token_ok = {"ok": False}

    def answer(evs: Sequence[ServerEvent]) -> Outcome:
        if not token_ok["ok"]:
            return Paused(
                "the access token expired",
                "set a new token: `signalyard destinations set-token <destination>`",
                190,
                463,
            )
        return Delivered()

    sink = ScriptedSink(answer)
    worker = await setup(sqlite_store, clock, sink, 25)
    await worker.run_once()
    (d,) = await sqlite_store.list_destinations()
    assert d.state == "paused" and d.paused_reason == "the access token expired"
    # the fix names the destination: a command to run as written
    assert d.paused_fix == "set a new token: `signalyard destinations set-token fake`"
    clock.advance(3600)
    assert await worker.run_once() == 0
    (st,) = await sqlite_store.status(now=clock.now())
    assert st.queued == 25 and st.dead == 0
    token_ok["ok"] = True
    await sqlite_store.set_secrets(d.id, {"access_token": Secret("fresh")}, now=clock.now())
    await drain(worker, clock)
    assert sorted(sink.delivered) == sorted(f"e{i}" for i in range(25))


async def test_events_near_age_limit_are_dead_lettered(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    sink = ScriptedSink(lambda evs: Delivered())
    old = int(clock.now()) - 7 * 86400 + 60
    worker = await setup(sqlite_store, clock, sink, 2, event_time=old)
    await worker.run_once()
    assert sink.delivered == []
    dead = await sqlite_store.dead_letters()
    assert len(dead) == 2 and "7 days" in dead[0].reason


def test_backoff_is_jittered_exponential_and_capped() -> None:
    import random

    rng = random.Random(1)
    delays = [backoff_delay(a, base=1, cap=600, rng=rng) for a in range(12)]
    for a, d in enumerate(delays):
        ceiling = min(600, 2**a)
        assert ceiling / 2 <= d <= ceiling
    assert delays[-1] <= 600


async def test_worker_prunes_by_the_retention_setting(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    sink = ScriptedSink(lambda evs: Delivered())
    worker = await setup(sqlite_store, clock, sink, 5)
    await drain(worker, clock, rounds=2)
    clock.advance(6 * 86400)
    await worker.prune()
    assert (await sqlite_store.status(now=clock.now()))[0].delivered == 5
    clock.advance(2 * 86400)
    await worker.prune()
    assert (await sqlite_store.status(now=clock.now()))[0].delivered == 0
    assert await sqlite_store.event_count() == 0


async def test_worker_prunes_old_webhook_delivery_ids(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    from signalyard.sources import webhook_store as ws

    sink = ScriptedSink(lambda evs: Delivered())
    worker = await setup(sqlite_store, clock, sink, 1)
    source = await ws.add_source(sqlite_store, "px", "shopify", [Secret("s")], {}, now=clock.now())
    assert await ws.record_delivery(sqlite_store, source.id, ["d-1"], now=clock.now())
    clock.advance(8 * 86400)
    assert await ws.record_delivery(sqlite_store, source.id, ["d-2"], now=clock.now())
    await worker.prune()
    assert not await ws.delivery_seen(sqlite_store, source.id, ["d-1"])
    assert await ws.delivery_seen(sqlite_store, source.id, ["d-2"])


async def test_an_unusable_configuration_pauses_with_a_fix_naming_the_destination(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    def broken(d: Destination) -> ScriptedSink:
        raise ValueError("pixel_id is missing")

    await setup(sqlite_store, clock, ScriptedSink(lambda evs: Delivered()), 1)
    worker = Worker(
        sqlite_store,
        DeliverySettings(),
        clock=clock,
        client=httpx.AsyncClient(),
        sandbox_url="http://unused",
        sink_factory=broken,
    )
    await worker.run_once()
    (d,) = await sqlite_store.list_destinations()
    assert d.state == "paused" and "pixel_id is missing" in (d.paused_reason or "")
    assert "`signalyard destinations update fake --option KEY=VALUE`" in (d.paused_fix or "")
    assert "`signalyard destinations resume fake`" in (d.paused_fix or "")


async def test_a_slow_destination_does_not_hold_the_others_back(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """``run`` gives each destination its own loop: while one platform has not answered, the
    other's events keep being delivered, and when the worker stops, the cycle in flight
    finishes (nothing is left leased)."""
    import asyncio

    release = asyncio.Event()

    class Blocked(ScriptedSink):
        async def send(
            self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
        ) -> SendResult:
            await release.wait()
            return await super().send(events, test_event_code=test_event_code)

    fast = ScriptedSink(lambda evs: Delivered())
    slow = Blocked(lambda evs: Delivered())
    worker = await setup(sqlite_store, clock, fast, 3)
    await sqlite_store.add_destination(
        "px",
        name="slow",
        kind="fake",
        options={},
        secrets={"access_token": Secret("t")},
        now=clock.now(),
    )
    both = [
        AcceptedEvent("px", "Purchase", f"s{i}", int(clock.now()), {"event_id": f"s{i}"})
        for i in range(3)
    ]
    await sqlite_store.ingest(both, now=clock.now())  # queued for both destinations
    worker._sink_factory = lambda d: slow if d.name == "slow" else fast
    worker.settings = DeliverySettings(concurrency=2, poll_seconds=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(10):
            while len(fast.delivered) < 6:  # the fast one delivers while the slow one waits
                await asyncio.sleep(0.01)
            late = AcceptedEvent("px", "Purchase", "late", int(clock.now()), {"event_id": "x"})
            await sqlite_store.ingest([late], now=clock.now())
            worker.wake()
            while len(fast.delivered) < 7:  # and new events too
                await asyncio.sleep(0.01)
        assert slow.delivered == [] and not release.is_set()
    finally:
        stop.set()
        release.set()
        async with asyncio.timeout(10):
            await task
    # Stopped: the slow one's requests in flight finished and settled what they had claimed:
    # its first slot's batch, and "x", which its second slot took while the first waited.
    statuses = {s.destination.name: s for s in await sqlite_store.status(now=clock.now())}
    assert sorted(slow.delivered) == ["s0", "s1", "s2", "x"]
    assert (statuses["slow"].delivered, statuses["slow"].queued) == (4, 0)
    assert statuses["fake"].delivered == 7


async def test_a_removed_destination_s_loop_ends_and_an_added_one_s_starts(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    import asyncio

    sink = ScriptedSink(lambda evs: Delivered())
    worker = await setup(sqlite_store, clock, sink, 2)
    worker.settings = DeliverySettings(poll_seconds=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(10):
            while len(sink.delivered) < 2:
                await asyncio.sleep(0.01)
            (d,) = await sqlite_store.list_destinations()
            await sqlite_store.remove_destination(d.id, drop_queue=True)
            while worker._wakes:  # its loop saw the row gone and ended
                await asyncio.sleep(0.01)
            await sqlite_store.add_destination(
                "px",
                name="again",
                kind="fake",
                options={},
                secrets={"access_token": Secret("t")},
                now=clock.now(),
            )
            late = AcceptedEvent("px", "Purchase", "late", int(clock.now()), {"event_id": "y"})
            await sqlite_store.ingest([late], now=clock.now())
            while "y" not in sink.delivered:  # the new destination got a loop of its own
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
    assert worker._wakes == set()
