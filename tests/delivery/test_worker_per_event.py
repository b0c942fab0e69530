"""A platform that answers each event on its own (``Sink.per_event``): the worker settles each
row by its own outcome, never bisects, and never sends a delivered event again. On SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.worker import Worker
from signalyard.event import AcceptedEvent, ServerEvent
from signalyard.outcome import Attempt, Delivered, Outcome, Paused, Rejected, Retry, SendResult
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings
from signalyard.store.base import Destination, Store

pytestmark = pytest.mark.anyio

Answer = Callable[[str], Outcome]


class PerEventSink:
    """Answers each event by its id, as a platform with per-event answers does."""

    kind = "fake"
    max_batch = 10
    max_age_seconds = 7 * 86400

    def __init__(self, answer: Answer, *, per_event: bool = True) -> None:
        self.answer = answer
        self.per_event = per_event
        self.batches: list[list[str]] = []

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        ids = [str(e["event_id"]) for e in events]
        self.batches.append(ids)
        outcomes = tuple(self.answer(i) for i in ids)
        if not self.per_event:  # a whole-batch platform: the worst answer for all
            worst = next((o for o in outcomes if not isinstance(o, Delivered)), Delivered())
            outcomes = (worst,) * len(ids)
        return SendResult(Attempt(200, trace_id="T"), outcomes)

    async def healthcheck(self) -> SendResult:
        return SendResult(Attempt(200), ())

    def sent(self) -> list[str]:
        return [i for batch in self.batches for i in batch]


async def setup(store: Store, clock: FrozenClock, sink: PerEventSink, n: int) -> Worker:
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
    await store.ingest(
        [
            AcceptedEvent("px", "Purchase", f"e{i}", int(now), {"event_id": f"e{i}"})
            for i in range(n)
        ],
        now=now,
    )

    def factory(d: Destination) -> PerEventSink:
        return sink

    return Worker(
        store,
        DeliverySettings(concurrency=1),
        clock=clock,
        client=httpx.AsyncClient(),
        sandbox_url="http://unused",
        sink_factory=factory,
    )


def _answers(table: dict[str, Outcome]) -> Answer:
    return lambda event_id: table.get(event_id, Delivered())


async def test_each_event_is_settled_by_its_own_outcome(
    backend_store: Store, clock: FrozenClock
) -> None:
    bad = Rejected("e3: content_id is not a valid string", code=40002)
    flaky = {"e5": True}

    def answer(event_id: str) -> Outcome:
        if event_id == "e3":
            return bad
        if event_id == "e5" and flaky["e5"]:
            return Retry("e5: internal error, retry")
        return Delivered()

    sink = PerEventSink(answer)
    worker = await setup(backend_store, clock, sink, 10)
    assert await worker.run_once() == 10
    assert sink.batches == [[f"e{i}" for i in range(10)]]  # one request, nothing bisected
    (dead,) = await backend_store.dead_letters()
    assert (dead.event_id, dead.reason, dead.code) == ("e3", bad.reason, 40002)
    (status,) = await backend_store.status(now=clock.now())
    assert (status.delivered, status.dead, status.queued) == (8, 1, 1)

    flaky["e5"] = False
    clock.advance(3600)
    assert await worker.run_once() == 1
    assert sink.batches[1] == ["e5"]  # only the retried event is sent again
    (status,) = await backend_store.status(now=clock.now())
    assert (status.delivered, status.dead, status.queued) == (9, 1, 0)
    assert sorted(sink.sent()) == sorted([f"e{i}" for i in range(10)] + ["e5"])


async def test_a_whole_batch_platform_still_bisects(
    backend_store: Store, clock: FrozenClock
) -> None:
    """The same answers from a platform that refuses a batch whole: the batch is split until
    the bad event is alone, and the others are delivered."""
    sink = PerEventSink(_answers({"e3": Rejected("bad event", code=100)}), per_event=False)
    worker = await setup(backend_store, clock, sink, 8)
    await worker.run_once()
    assert len(sink.batches) > 1 and ["e3"] in sink.batches
    (dead,) = await backend_store.dead_letters()
    assert dead.event_id == "e3"
    (status,) = await backend_store.status(now=clock.now())
    assert (status.delivered, status.dead) == (7, 1)


async def test_a_throttled_event_waits_and_holds_the_destination_back(
    backend_store: Store, clock: FrozenClock
) -> None:
    sink = PerEventSink(_answers({"e1": Retry("too many requests", after=120, throttled=True)}))
    worker = await setup(backend_store, clock, sink, 3)
    await worker.run_once()
    (d,) = await backend_store.list_destinations()
    assert d.throttled_until is not None and d.throttled_until >= clock.now() + 120
    (status,) = await backend_store.status(now=clock.now())
    assert (status.delivered, status.queued) == (2, 1)
    clock.advance(60)
    assert await worker.run_once() == 0  # held back
    sink.answer = _answers({})
    clock.advance(120)
    assert await worker.run_once() == 1
    assert sink.batches[-1] == ["e1"]


async def test_a_paused_answer_keeps_the_undelivered_and_settles_the_delivered(
    backend_store: Store, clock: FrozenClock
) -> None:
    expired = Paused("the access token expired", "set a new token", code=40001)
    sink = PerEventSink(_answers({"e2": expired}))
    worker = await setup(backend_store, clock, sink, 4)
    await worker.run_once()
    (d,) = await backend_store.list_destinations()
    assert d.state == "paused" and d.paused_reason == "the access token expired"
    (status,) = await backend_store.status(now=clock.now())
    assert (status.delivered, status.queued, status.dead) == (3, 1, 0)


async def test_an_answer_of_the_wrong_length_is_taken_as_the_batch_s(
    backend_store: Store, clock: FrozenClock
) -> None:
    """A per-event sink that (wrongly) answers with one outcome for a batch of several is
    handled as a whole-batch answer: nothing is settled by a guess."""

    class OneAnswer(PerEventSink):
        async def send(
            self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
        ) -> SendResult:
            self.batches.append([str(e["event_id"]) for e in events])
            return SendResult(Attempt(503), (Retry("server error"),))

    sink = OneAnswer(_answers({}))
    worker = await setup(backend_store, clock, sink, 3)
    await worker.run_once()
    (status,) = await backend_store.status(now=clock.now())
    assert (status.delivered, status.queued) == (0, 3)


async def test_a_per_event_refusal_of_the_whole_batch_is_bisected(
    backend_store: Store, clock: FrozenClock
) -> None:
    """A per-event platform that refuses a batch for an event it does not name (every event
    rejected with the same reason): the batch is bisected, the bad event dead-lettered alone
    with the platform's reason, the others delivered."""
    refused = Rejected("Batch: Not a valid string", code=40002)

    class NamesNobody(PerEventSink):
        async def send(
            self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
        ) -> SendResult:
            ids = [str(e["event_id"]) for e in events]
            self.batches.append(ids)
            if "e5" in ids:
                return SendResult(Attempt(200), (refused,) * len(ids))
            return SendResult(Attempt(200), (Delivered(),) * len(ids))

    sink = NamesNobody(_answers({}))
    worker = await setup(backend_store, clock, sink, 8)
    await worker.run_once()
    assert ["e5"] in sink.batches and len(sink.batches) > 1
    (dead,) = await backend_store.dead_letters()
    assert (dead.event_id, dead.reason) == ("e5", refused.reason)
    (status,) = await backend_store.status(now=clock.now())
    assert (status.delivered, status.dead) == (7, 1)
