"""``Worker.run``'s request slots: each destination keeps up to ``concurrency`` cycles of one
request each in flight and claims again as soon as one ends (not when all of them have); a
wake with every slot busy is not waited for; a failing cycle waits a poll; stop lets the
cycles in flight finish, cancelling cancels them; rows of other batches than the one a cycle
sends are released; the request quota is counted when claimed; a late Paused answer never
re-pauses a resumed destination; a throttle only ever moves later.

The sends are sequenced with events (a held request waits until the test lets it go). The
clock is frozen: rows claimed stay leased (30 s) and retries are not due again, while the
worker's ``poll_seconds`` waits are real asyncio time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.worker import Worker
from signalyard.event import AcceptedEvent, ServerEvent
from signalyard.outcome import Delivered, Outcome, Paused, Retry, SendResult
from signalyard.settings import DeliverySettings
from signalyard.sinks import REGISTRY
from signalyard.store.base import Destination
from signalyard.store.sqlite import SQLiteStore
from tests.delivery.test_worker import ScriptedSink, setup

pytestmark = pytest.mark.anyio

WAIT = 2.0
"""How long a test waits for something that should happen at once (fails past it)."""


def delivered(events: Sequence[ServerEvent]) -> Outcome:
    return Delivered()


class Gated(ScriptedSink):
    """A scripted sink that records each request as it starts and ends. A request whose
    first event is held (:meth:`hold`) waits until it is let go (:meth:`let_go`); with
    ``go`` set up, every request waits for it. ``in_flight`` counts the requests started
    and not ended; ``most_in_flight`` the most at once."""

    def __init__(
        self,
        answer: Callable[[Sequence[ServerEvent]], Outcome] = delivered,
        *,
        max_batch: int = 1,
        clock: FrozenClock | None = None,
        dwell: float = 0.0,
    ) -> None:
        super().__init__(answer)
        self.max_batch = max_batch
        self.clock = clock
        self.dwell = dwell
        self.gates: dict[str, asyncio.Event] = {}
        self.go: asyncio.Event | None = None
        self.started: list[list[str]] = []
        self.codes: list[str | None] = []
        self.started_at: list[float] = []
        self.ended: list[str] = []
        self.cancelled: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0

    def hold(self, *event_ids: str) -> None:
        for event_id in event_ids:
            self.gates[event_id] = asyncio.Event()

    def let_go(self, *event_ids: str) -> None:
        for event_id in event_ids or tuple(self.gates):
            self.gates[event_id].set()
        if not event_ids and self.go is not None:
            self.go.set()

    def first_ids(self) -> list[str]:
        return [ids[0] for ids in self.started]

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        ids = [e["event_id"] for e in events]
        self.started.append(ids)
        self.codes.append(test_event_code)
        if self.clock is not None:
            self.started_at.append(self.clock.monotonic())
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            gate = self.gates.get(ids[0])
            if gate is not None:
                await gate.wait()
            if self.go is not None:
                await self.go.wait()
            if self.dwell:
                await asyncio.sleep(self.dwell)
            return await super().send(events, test_event_code=test_event_code)
        except asyncio.CancelledError:
            self.cancelled.append(ids[0])
            raise
        finally:
            self.in_flight -= 1
            self.ended.append(ids[0])


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {what}") from None


async def destination(store: SQLiteStore) -> Destination:
    (d,) = await store.list_destinations()
    return d


async def until_destination(
    store: SQLiteStore, condition: Callable[[Destination], bool], what: str
) -> Destination:
    try:
        async with asyncio.timeout(WAIT):
            while not condition(d := await destination(store)):
                await asyncio.sleep(0.005)
            return d
    except TimeoutError:
        raise AssertionError(f"not within {WAIT} s: {what}") from None


async def counts(store: SQLiteStore, clock: FrozenClock) -> tuple[int, int]:
    """The destination's (delivered, queued) rows."""
    (status,) = await store.status(now=clock.now())
    return status.delivered, status.queued


@contextlib.asynccontextmanager
async def running(
    worker: Worker, sink: Gated, stop: asyncio.Event | None = None
) -> AsyncIterator[tuple[asyncio.Event, asyncio.Task[None]]]:
    """Run the worker; on the way out, stop it, let every held request go and wait for
    ``run`` to end (a test may stop or cancel it itself first)."""
    stop = stop or asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield stop, task
    finally:
        stop.set()
        sink.let_go()
        if not task.done():
            done, _ = await asyncio.wait({task}, timeout=WAIT)
            if not done:
                task.cancel()
                await asyncio.wait({task}, timeout=WAIT)
                raise AssertionError("run did not end after stop")
        if not task.cancelled() and task.exception() is not None:
            raise AssertionError("run failed") from task.exception()


async def ended(task: asyncio.Task[None]) -> None:
    """Wait for ``run`` to end by itself (stopped), without cancelling it on a timeout."""
    await asyncio.wait({task}, timeout=WAIT)
    assert task.done(), "run did not end after stop"
    task.result()


def settings(**changes: Any) -> DeliverySettings:
    """No poll or wake comes by itself during a test unless it says so (30 s)."""
    return DeliverySettings(**{"concurrency": 2, "poll_seconds": 30.0, **changes})


def ingest(
    store: SQLiteStore, clock: FrozenClock, ids: Sequence[str], code: str | None = None
) -> Any:
    return store.ingest(
        [
            AcceptedEvent(
                "px", "Purchase", i, int(clock.now()), {"event_id": i}, test_event_code=code
            )
            for i in ids
        ],
        now=clock.now(),
    )


async def test_a_freed_slot_is_refilled_while_another_request_is_still_blocked(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """No wake and no poll (30 s): the end of e1's request alone lets e2 be claimed and
    sent while e0's request has not answered. (Claiming two rows, sending both and waiting
    for both, e2 would wait for e0.)"""
    sink = Gated()
    sink.hold("e0", "e1")
    worker = await setup(sqlite_store, clock, sink, 3)
    worker.settings = settings()
    async with running(worker, sink):
        await until(lambda: len(sink.started) == 2, "both slots take a request")
        assert sink.first_ids() == ["e0", "e1"]
        sink.let_go("e1")
        await until(lambda: "e2" in sink.delivered, "e2 is sent in the slot e1 freed")
        assert "e0" not in sink.ended  # still blocked
        assert sink.delivered == ["e1", "e2"]
    assert sorted(sink.delivered) == ["e0", "e1", "e2"]
    assert await counts(sqlite_store, clock) == (3, 0)


async def test_with_every_slot_busy_a_wake_reads_nothing(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """Waking a loop whose slots are all busy makes it read nothing (no ``get_destination``
    per wake): it waits for a slot to free. A freed slot then reads the destination again."""
    sink = Gated()
    sink.hold("e0", "e1")
    worker = await setup(sqlite_store, clock, sink, 3)
    worker.settings = settings()
    reads = 0
    read = worker._destination

    async def counted(destination_id: int) -> Destination | None:
        nonlocal reads
        reads += 1
        return await read(destination_id)

    worker._destination = counted  # type: ignore[method-assign]
    async with running(worker, sink):
        await until(lambda: len(sink.started) == 2, "both slots take a request")
        before = reads
        assert before >= 1
        for _ in range(30):
            worker.wake()
            await asyncio.sleep(0.003)
        await asyncio.sleep(0.05)
        assert reads == before, "a wake with every slot busy read the destination"
        assert len(sink.started) == 2
        sink.let_go("e1")
        await until(lambda: "e2" in sink.delivered, "the freed slot claims e2")
        assert reads > before


async def test_a_wake_fills_a_free_slot_while_another_request_is_blocked(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """One slot busy, one free with nothing due: a wake (no poll: 30 s) lets the free slot
    claim what was just queued, while the busy one still waits."""
    sink = Gated()
    sink.hold("e0")
    worker = await setup(sqlite_store, clock, sink, 1)
    worker.settings = settings()
    async with running(worker, sink):
        await until(lambda: sink.first_ids() == ["e0"], "e0 is sent")
        await asyncio.sleep(0.02)  # the loop waits with one slot free
        await ingest(sqlite_store, clock, ["late"])
        worker.wake()
        await until(lambda: "late" in sink.delivered, "the woken loop sends the new event")
        assert "e0" not in sink.ended
    assert await counts(sqlite_store, clock) == (2, 0)


async def test_a_failing_cycle_waits_a_poll_before_claiming_again(
    sqlite_store: SQLiteStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A sink whose send always raises, with 200 rows due and wakes all the time: over about
    1 s with ``poll_seconds=0.3`` the loop makes a few rounds of (at most 2) requests, one
    per poll, not a request per row or per wake. (Claiming again at once, or on a wake,
    would make dozens.)"""

    def boom(events: Sequence[ServerEvent]) -> Outcome:
        raise RuntimeError("the platform client broke")

    sink = Gated(boom)
    worker = await setup(sqlite_store, clock, sink, 200)
    worker.settings = settings(poll_seconds=0.3)
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.ERROR, logger="signalyard.delivery"):
        async with running(worker, sink):
            end = loop.time() + 1.0
            while loop.time() < end:
                worker.wake()
                await asyncio.sleep(0.01)
    requests = len(sink.started)
    assert 3 <= requests <= 10, f"{requests} requests in 1 s"  # ~4 rounds of 2
    assert sink.delivered == []
    assert any("Delivery cycle failed" in r.getMessage() for r in caplog.records)
    # the rows of the failed requests stay leased (due once the lease ends); none is lost
    assert await counts(sqlite_store, clock) == (0, 200)


async def test_cancelling_run_cancels_the_requests_in_flight(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """Cancelled with two requests blocked in flight: both are cancelled (nothing keeps
    running after ``run`` ends, nothing is sent or settled later when they would have
    answered), their rows are released (due again at once), and no row was settled twice."""
    sink = Gated()
    sink.hold("e1", "e2")
    worker = await setup(sqlite_store, clock, sink, 4)
    worker.settings = settings()
    settled: Counter[int] = Counter()
    for name in ("settle_delivered", "settle_retry", "settle_dead", "release"):
        method = getattr(sqlite_store, name)

        async def counting(ids: Sequence[int], *a: Any, _m: Any = method, **kw: Any) -> int:
            settled.update(ids)
            return int(await _m(ids, *a, **kw))

        setattr(sqlite_store, name, counting)
    before = asyncio.all_tasks()  # the test's own and its runner's
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        # e0 answers at once, its slot then takes e2: e1 and e2 are blocked in flight
        await until(
            lambda: sink.delivered == ["e0"] and sink.first_ids() == ["e0", "e1", "e2"],
            "e1 and e2 in flight",
        )
        task.cancel()
        # not ``await task`` in a timeout: a timeout would cancel it again
        await asyncio.wait({task}, timeout=WAIT)
        assert task.done(), "run did not end when cancelled"
        assert task.cancelled()
    finally:
        if not task.done():  # a wrong worker: do not leave it running
            task.cancel()
    assert sorted(sink.cancelled) == ["e1", "e2"]
    assert sink.in_flight == 0
    for _ in range(3):
        await asyncio.sleep(0)  # a task cancelled without being awaited ends here
    left = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert left == [], f"still running after run was cancelled: {left}"
    sink.let_go()  # had they kept running, they would answer now
    await asyncio.sleep(0.05)
    assert sink.delivered == ["e0"] and len(sink.started) == 3
    assert settled and max(settled.values()) == 1, f"settled twice: {settled}"
    # e0 delivered; the cancelled requests' rows (e1, e2) released once each, due again at
    # once for any worker (not held until their lease ends); e3 was never claimed
    assert sorted(settled) == [1, 2, 3]
    assert await counts(sqlite_store, clock) == (1, 3)
    again = await sqlite_store.claim(1, owner="other", limit=10, now=clock.now(), lease_seconds=30)
    assert [c.payload["event_id"] for c in again] == ["e1", "e2", "e3"]


async def test_cancelling_run_just_after_stop_still_cancels_the_requests_in_flight(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """Stop set and ``run`` cancelled at once (a shutdown that gives up waiting at once, or
    whose deadline passes before ``run`` saw the stop), with two requests blocked: the
    cancellation still cancels them, ``run`` ends."""
    sink = Gated()
    sink.hold("e0", "e1")
    worker = await setup(sqlite_store, clock, sink, 2)
    worker.settings = settings()
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await until(lambda: len(sink.started) == 2, "both requests in flight")
        stop.set()
        task.cancel()
        await asyncio.wait({task}, timeout=WAIT)
        assert task.done(), "run kept waiting for the requests in flight though cancelled"
        assert task.cancelled()
        assert sorted(sink.cancelled) == ["e0", "e1"]
    finally:
        if not task.done():  # let the wrong worker end: the requests answer
            sink.let_go()
            await asyncio.wait({task}, timeout=WAIT)


async def test_on_stop_the_requests_in_flight_finish_and_nothing_more_is_claimed(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """Stop set while two requests are blocked: when they answer, their rows are settled
    (delivered) and ``run`` ends; the slot e0 frees takes nothing (e2, due before the stop,
    and an event queued and announced after it stay queued)."""
    sink = Gated()
    sink.hold("e0", "e1")
    worker = await setup(sqlite_store, clock, sink, 3)
    worker.settings = settings()
    async with running(worker, sink) as (stop, task):
        await until(lambda: len(sink.started) == 2, "both slots take a request")
        stop.set()
        await ingest(sqlite_store, clock, ["late"])
        worker.wake()
        await asyncio.sleep(0.02)
        sink.let_go("e0")
        await until(lambda: "e0" in sink.delivered, "e0 answers")
        await asyncio.sleep(0.05)
        assert sink.first_ids() == ["e0", "e1"], "claimed after stop"
        assert not task.done()  # e1 is still in flight: run waits for it
        sink.let_go("e1")
        await ended(task)
    assert sorted(sink.delivered) == ["e0", "e1"]
    assert len(sink.started) == 2
    assert await counts(sqlite_store, clock) == (2, 2)  # e2 and "late" stay queued


async def test_stop_set_while_claiming_fills_no_more_slots(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """Stop set while the loop claims for its first slot (two free, three rows due): the
    other slot is not filled; the request claimed is sent and settled, then ``run`` ends."""
    sink = Gated()
    sink.hold("e0")
    worker = await setup(sqlite_store, clock, sink, 3)
    worker.settings = settings()
    claim = worker._claim
    claims = 0
    stop = asyncio.Event()

    async def stopping(*args: Any, **kwargs: Any) -> Any:
        nonlocal claims
        claims += 1
        cycle = await claim(*args, **kwargs)
        stop.set()  # the operator stops the worker while it claims
        return cycle

    worker._claim = stopping  # type: ignore[method-assign]
    async with running(worker, sink, stop) as (_, task):
        await until(lambda: sink.first_ids() == ["e0"], "e0 is sent")
        await asyncio.sleep(0.05)
        assert claims == 1 and len(sink.started) == 1, "claimed after stop"
        assert not task.done()
        sink.let_go("e0")
        await ended(task)
    assert sink.delivered == ["e0"]
    assert await counts(sqlite_store, clock) == (1, 2)


async def test_test_event_codes_are_sent_one_request_at_a_time_with_one_slot(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """Rows of two ``test_event_code`` values, ``concurrency=1``: the claim takes all six
    rows (up to ``max_batch``), sends one code's batch and releases the other's rows for
    the next cycle. Each request carries one code only, never two requests are in flight,
    and every row is delivered once."""
    sink = Gated(max_batch=10, dwell=0.02)
    worker = await setup(sqlite_store, clock, sink, 0)
    worker.settings = settings(concurrency=1)
    code_of: dict[str, str] = {}
    for i in range(3):
        await ingest(sqlite_store, clock, [f"a{i}"], "TEST_A")
        await ingest(sqlite_store, clock, [f"b{i}"], "TEST_B")
        code_of.update({f"a{i}": "TEST_A", f"b{i}": "TEST_B"})
    async with running(worker, sink):
        await until(lambda: len(sink.delivered) == 6, "every row delivered")
        await asyncio.sleep(0.05)
    for ids, code in zip(sink.started, sink.codes, strict=True):
        assert {code_of[i] for i in ids} == {code}, f"{ids} sent with {code}"
    assert sink.codes == ["TEST_A", "TEST_B"]
    assert sink.most_in_flight == 1
    assert sorted(sink.delivered) == sorted(code_of)
    assert await counts(sqlite_store, clock) == (6, 0)


async def test_run_never_starts_more_requests_than_the_quota(
    sqlite_store: SQLiteStore, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spec with ``max_requests_per_minute=3``, ``concurrency=4`` and 10 batches due:
    the slots claim 3 requests only (each counted when claimed, before it is sent), no more
    while the minute lasts, however often the loop polls; 3 more once it has passed."""
    limited = dataclasses.replace(REGISTRY["meta"], kind="fake", max_requests_per_minute=3)
    monkeypatch.setitem(REGISTRY, "fake", limited)
    sink = Gated(max_batch=10, clock=clock)
    sink.go = asyncio.Event()  # every request waits until the test lets them go
    worker = await setup(sqlite_store, clock, sink, 100)
    worker.settings = settings(concurrency=4, poll_seconds=0.02)
    async with running(worker, sink):
        await until(lambda: len(sink.started) == 3, "the quota's 3 requests")
        await asyncio.sleep(0.15)  # several polls with a slot free
        assert len(sink.started) == 3
        sink.go.set()
        await until(lambda: len(sink.delivered) == 30, "the 3 requests answered")
        await asyncio.sleep(0.15)
        assert len(sink.started) == 3  # the minute has not passed
        clock.advance(61)
        await until(lambda: len(sink.started) == 6, "3 more once the minute passed")
        await asyncio.sleep(0.15)
        assert len(sink.started) == 6
    times = sink.started_at
    for t in times:
        assert sum(1 for u in times if t - 60 < u <= t) <= 3
    assert len(set(sink.delivered)) == len(sink.delivered) == 60


def token_expired(events: Sequence[ServerEvent]) -> Outcome:
    return Paused("the access token expired", "set a new token", 190, 463)


async def test_a_late_paused_answer_does_not_pause_a_resumed_destination(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """Two requests in flight with the old token: the first answer (Paused) pauses the
    destination; the operator resumes it; the second answer (Paused too, to a request sent
    before the resume) leaves it active."""
    sink = Gated(token_expired)
    sink.hold("e0", "e1")
    worker = await setup(sqlite_store, clock, sink, 2)
    worker.settings = settings()
    read = (await destination(sqlite_store)).updated_at
    async with running(worker, sink) as (stop, task):
        await until(lambda: len(sink.started) == 2, "both requests in flight")
        clock.advance(1)
        sink.let_go("e0")
        d = await until_destination(
            sqlite_store, lambda d: d.state == "paused", "the first Paused answer pauses"
        )
        assert d.paused_reason == "the access token expired"
        clock.advance(1)
        await sqlite_store.resume(d.id, now=clock.now())
        assert (await destination(sqlite_store)).updated_at > read
        stop.set()  # nothing more is claimed: only the answer in flight is left
        sink.let_go("e1")
        await ended(task)
    assert sink.ended == ["e0", "e1"] and len(sink.started) == 2
    d = await destination(sqlite_store)
    assert d.state == "active", f"re-paused by a late answer: {d.paused_reason}"
    assert d.paused_reason is None
    assert await counts(sqlite_store, clock) == (0, 2)  # both rows released, queued


async def test_a_shorter_throttle_answered_later_does_not_shorten_the_hold(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """Two requests in flight answered throttled: after=600 first, after=60 five seconds
    later. The destination is held back until the later of the two (now + 600)."""

    def throttled(events: Sequence[ServerEvent]) -> Outcome:
        after = 600.0 if events[0]["event_id"] == "e0" else 60.0
        return Retry("too many requests", after=after, throttled=True)

    sink = Gated(throttled)
    sink.hold("e0", "e1")
    worker = await setup(sqlite_store, clock, sink, 2)
    worker.settings = settings()
    start = clock.now()
    async with running(worker, sink) as (stop, task):
        await until(lambda: len(sink.started) == 2, "both requests in flight")
        sink.let_go("e0")
        d = await until_destination(
            sqlite_store, lambda d: d.throttled_until is not None, "the first throttle"
        )
        assert d.throttled_until == start + 600
        clock.advance(5)
        stop.set()
        sink.let_go("e1")
        await ended(task)
    assert sink.ended == ["e0", "e1"]
    d = await destination(sqlite_store)
    assert d.throttled_until == start + 600, f"{d.throttled_until - start} s, not 600"
    assert await counts(sqlite_store, clock) == (0, 2)


async def test_a_failed_cycle_releases_its_rows(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """A cycle that fails gives its rows back at once (due again now, not when their lease
    ends) while another slot's request is still in flight."""

    def boom(events: Sequence[ServerEvent]) -> Outcome:
        if events[0]["event_id"] == "e0":
            raise RuntimeError("the platform client broke")
        return Delivered()

    sink = Gated(boom)
    sink.hold("e0", "e1")  # e1: a slow request of another slot stays in flight meanwhile
    worker = await setup(sqlite_store, clock, sink, 2)
    worker.settings = settings()
    async with running(worker, sink) as (stop, task):
        await until(lambda: len(sink.started) == 2, "both in flight")
        sink.let_go("e0")
        await until(lambda: "e0" in sink.ended, "e0 failed")
        leased = await sqlite_store._db.run(
            lambda c: [
                r[0]
                for r in c.execute(
                    "SELECT o.id FROM outbox o WHERE o.lease_owner IS NOT NULL ORDER BY o.id"
                )
            ]
        )
        assert leased == [2], "only e1's row (in flight) is leased; e0's was released"
        stop.set()
        sink.let_go("e1")
        await ended(task)
    assert await counts(sqlite_store, clock) == (1, 1)


async def test_a_paused_answer_pauses_before_its_rows_are_queued_again(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """The pause is written before the Paused request's rows go back to the queue, so no
    other slot claims them in between and sends them with the dead token."""
    states: list[str] = []
    release = sqlite_store.release

    async def recording(ids: Sequence[int], *, owner: str) -> int:
        states.append((await destination(sqlite_store)).state)
        return await release(ids, owner=owner)

    sqlite_store.release = recording  # type: ignore[method-assign]
    sink = Gated(token_expired)
    worker = await setup(sqlite_store, clock, sink, 1)
    worker.settings = settings()
    async with running(worker, sink) as (stop, task):
        await until_destination(sqlite_store, lambda d: d.state == "paused", "paused")
        stop.set()
        await ended(task)
    assert states == ["paused"]
    assert len(sink.started) == 1


async def test_the_loop_renews_the_leases_of_the_requests_in_flight(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """One heartbeat for the destination's loop renews, by id, the rows of the requests in
    flight: past their first lease, another worker still cannot claim them."""
    sink = Gated()
    sink.hold("e0")
    worker = await setup(sqlite_store, clock, sink, 1)
    worker.settings = settings(concurrency=1, lease_seconds=0.3)  # a beat every 0.1 s
    renewed: list[tuple[list[int], float]] = []
    extend = sqlite_store.extend_lease

    async def recording(ids: Sequence[int], *, owner: str, until: float) -> int:
        renewed.append((list(ids), until))
        return await extend(ids, owner=owner, until=until)

    sqlite_store.extend_lease = recording  # type: ignore[method-assign]
    async with running(worker, sink) as (stop, task):
        await until(lambda: len(sink.started) == 1, "e0 in flight")
        clock.advance(0.25)
        after = clock.now() + 0.3  # a beat after the advance renews until then
        await until(lambda: any(u >= after for _, u in renewed), "a heartbeat")
        clock.advance(0.2)  # past the first lease (0.3 s), within the renewed one
        other = await sqlite_store.claim(1, owner="w2", limit=10, now=clock.now(), lease_seconds=9)
        assert other == []
        stop.set()
        sink.let_go()
        await ended(task)
    assert renewed[-1][0] == [1]
    assert await counts(sqlite_store, clock) == (1, 0)


async def test_run_once_cancels_a_cycles_other_requests_when_one_fails(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """``run_once`` sends a cycle's batches together; when one of them fails, the others'
    requests are cancelled before the cycle releases its rows, so no request goes on with
    rows another worker may already have claimed."""

    def boom(events: Sequence[ServerEvent]) -> Outcome:
        raise RuntimeError("the platform client broke")

    sink = Gated(boom)
    sink.hold("e1")
    worker = await setup(sqlite_store, clock, sink, 2)
    worker.settings = settings(concurrency=2)
    with pytest.raises(BaseExceptionGroup):
        async with asyncio.timeout(WAIT):
            await worker.run_once()
    assert sink.cancelled == ["e1"]
    assert await counts(sqlite_store, clock) == (0, 2)
    again = await sqlite_store.claim(1, owner="w2", limit=10, now=clock.now(), lease_seconds=9)
    assert sorted(c.payload["event_id"] for c in again) == ["e0", "e1"]  # released, due now
