"""The worker against the TikTok sandbox, the way TikTok fails: the real sink, the real
classification of the sandbox's own answers and faults (``server_error``, ``throttle``,
``expired_token``, ``invalid_event`` with and without ``partial``), the consent actions as
sent. What reached the platform is counted at the sandbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.worker import Worker
from signalyard.event import AcceptedEvent, Consent
from signalyard.sandbox.tiktok import SandboxState, create_app
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings
from signalyard.store.base import Store
from signalyard.store.sqlite import SQLiteStore
from signalyard.transforms.consent import parse_rule, policy_to_json

from . import events

pytestmark = pytest.mark.anyio
DATASET = "1234567890"
PIXEL = "CABC123DEF456GHI789J"
TOKEN = "tiktok-token-" + "m" * 40
FAST = DeliverySettings(concurrency=2, backoff_base_seconds=1.0, backoff_max_seconds=60.0)


def event(i: int, now: float, *, consent: Consent | None = None) -> AcceptedEvent:
    payload = events.full()
    del payload["_consent"]
    payload["event_time"] = int(now) - 10
    payload["event_id"] = f"e{i}"
    if consent is not None:
        payload["_consent"] = consent.to_json()
    return AcceptedEvent(DATASET, "Purchase", f"e{i}", int(now) - 10, payload, consent=consent)


async def add_tiktok(
    store: Store, now: float, *, name: str = "tiktok", pixel: str = PIXEL, **options: Any
) -> int:
    d = await store.add_destination(
        DATASET,
        name=name,
        kind="tiktok",
        options={"pixel_code": pixel, "api_url": "http://sandbox", **options},
        secrets={"access_token": Secret(TOKEN)},
        now=now,
    )
    return d.id


@contextlib.asynccontextmanager
async def in_process(
    store: Store, clock: FrozenClock, settings: DeliverySettings = FAST
) -> AsyncIterator[tuple[Worker, SandboxState]]:
    """A worker whose requests go to the TikTok sandbox app in this process (on the test's
    clock)."""
    sandbox = SandboxState(clock=clock)
    await store.add_dataset(DATASET, name="shop", default_country="US", now=clock.now())
    transport = httpx.ASGITransport(app=create_app(clock=clock, state=sandbox))
    async with httpx.AsyncClient(transport=transport) as client:
        yield Worker(store, settings, clock=clock, client=client, sandbox_url="unused"), sandbox


async def drain(worker: Worker, clock: FrozenClock, rounds: int = 40, step: float = 61) -> None:
    for _ in range(rounds):
        if not await worker.run_once():
            clock.advance(step)


def ids(sandbox: SandboxState, **filters: Any) -> list[str]:
    return sorted(str(e.event_id) for e in sandbox.events(**filters))


def sent(sandbox: SandboxState) -> int:
    """Events the sandbox received in requests it answered (accepted or not)."""
    return sum(r.events or 0 for r in sandbox.requests())


async def test_batches_and_delivers_everything_once(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_tiktok(sqlite_store, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(2100)], now=clock.now())
        assert await worker.run_once() == 2000  # concurrency 2 x TikTok's 1,000 per request
        await drain(worker, clock)
        assert ids(sandbox) == sorted(f"e{i}" for i in range(2100))
        assert ids(sandbox, dedup="kept") == ids(sandbox)  # none sent twice
        assert sorted(r.events or 0 for r in sandbox.requests()) == [100, 1000, 1000]
        assert all(not e.diagnostics for e in sandbox.events())
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered, st.dead) == (0, 2100, 0)


async def test_server_errors_are_retried_with_backoff(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_tiktok(sqlite_store, clock.now())
        sandbox.faults.add({"kind": "server_error", "status": 503, "count": 2}, clock.now())
        sandbox.faults.add({"kind": "server_error", "json": True, "count": 1}, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(5)], now=clock.now())
        await worker.run_once()
        assert await worker.run_once() == 0  # not due again straight away
        await drain(worker, clock)
        assert ids(sandbox) == [f"e{i}" for i in range(5)]
        outcomes = [a.outcome for a in reversed(await sqlite_store.attempts())]
        assert outcomes == ["retry", "retry", "retry", "delivered"]
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered, st.dead) == (0, 5, 0)


async def test_throttling_holds_the_destination(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    settings = DeliverySettings(backoff_base_seconds=1.0, throttle_default_seconds=120.0)
    async with in_process(sqlite_store, clock, settings) as (worker, sandbox):
        await add_tiktok(sqlite_store, clock.now())
        sandbox.faults.add({"kind": "throttle", "count": 1}, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(3)], now=clock.now())
        await worker.run_once()
        (d,) = await sqlite_store.list_destinations()
        assert d.throttled_until == clock.now() + 120
        clock.advance(119)
        assert await worker.run_once() == 0
        assert ids(sandbox) == []
        clock.advance(2)
        assert await worker.run_once() == 3
        assert ids(sandbox) == ["e0", "e1", "e2"]
        (attempt, *_) = await sqlite_store.attempts()
        assert attempt.outcome == "delivered"
        throttled = (await sqlite_store.attempts())[-1]
        assert throttled.attempt.code == 40100


async def test_an_expired_token_pauses_and_a_new_token_resumes_with_nothing_lost(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_tiktok(sqlite_store, clock.now())
        sandbox.faults.add({"kind": "expired_token", "token": TOKEN}, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(25)], now=clock.now())
        await worker.run_once()
        (d,) = await sqlite_store.list_destinations()
        assert d.state == "paused" and "40001" in (d.paused_reason or "")
        assert "signalyard destinations set-secret tiktok access_token" in (d.paused_fix or "")
        clock.advance(3600)
        assert await worker.run_once() == 0
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.dead) == (25, 0)
        fresh = {"access_token": Secret("tiktok-token-" + "n" * 40)}
        await sqlite_store.set_secrets(d.id, fresh, now=clock.now())
        await drain(worker, clock)
        assert ids(sandbox) == sorted(f"e{i}" for i in range(25))
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered, st.dead) == (0, 25, 0)


async def test_one_invalid_event_is_dead_lettered_alone_with_tiktok_s_reason(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """The request is refused whole (40002 naming the event): the named event is
    dead-lettered, the others are sent again without it."""
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_tiktok(sqlite_store, clock.now())
        sandbox.faults.add({"kind": "invalid_event", "event_ids": ["e7"]}, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(10)], now=clock.now())
        await drain(worker, clock)
        assert ids(sandbox) == sorted(f"e{i}" for i in range(10) if i != 7)
        assert ids(sandbox, dedup="kept") == ids(sandbox)
        (dead,) = await sqlite_store.dead_letters()
        assert (dead.event_id, dead.code) == ("e7", 40002)
        assert "Batch.7.event_id" in dead.reason and "Invalid event 'e7'" in dead.reason
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered, st.dead) == (0, 9, 1)


async def test_a_partial_answer_never_resends_delivered_events(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_tiktok(sqlite_store, clock.now())
        sandbox.faults.add(
            {"kind": "invalid_event", "event_ids": ["e3"], "partial": True}, clock.now()
        )
        await sqlite_store.ingest([event(i, clock.now()) for i in range(10)], now=clock.now())
        await drain(worker, clock)
        assert len(sandbox.requests()) == 1  # one request; nothing sent again
        assert sent(sandbox) == 10
        assert ids(sandbox, status="accepted") == sorted(f"e{i}" for i in range(10) if i != 3)
        (dead,) = await sqlite_store.dead_letters()
        assert (dead.event_id, dead.code) == ("e3", 40002)
        assert "Batch.3.event_id" in dead.reason
        (attempt,) = await sqlite_store.attempts()
        assert attempt.attempt.code == 20001 and attempt.attempt.trace_id
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered, st.dead) == (0, 9, 1)


async def test_consent_actions_are_applied_to_what_is_sent(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """``ldu`` sends ``limited_data_use``; ``no_pii`` sends no personal keys."""
    now = clock.now()
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        for name, pixel, action in (("ldu", "CLDU", "ldu"), ("no-pii", "CNOPII", "no_pii")):
            await add_tiktok(
                sqlite_store,
                now,
                name=name,
                pixel=pixel,
                consent_policy=policy_to_json([parse_rule(f"*:denied={action}")]),
            )
        denied = Consent("denied", "api", "US-CA")
        granted = Consent("granted", "api", "US-CA")
        await sqlite_store.ingest(
            [event(1, now, consent=denied), event(2, now, consent=granted)], now=now
        )
        await drain(worker, clock, rounds=3)
        by_pixel = {(e.event_source_id, e.event_id): e.event for e in sandbox.events()}
        assert len(by_pixel) == 4
        ldu = by_pixel[("CLDU", "e1")]
        assert ldu["limited_data_use"] is True
        assert ldu["user"]["email"] == events.EM  # LDU limits processing, it keeps the keys
        no_pii = by_pixel[("CNOPII", "e1")]
        assert set(no_pii["user"]) <= {"user_agent", "ttclid"}
        assert "limited_data_use" not in no_pii
        for pixel in ("CLDU", "CNOPII"):  # granted: sent in full, no LDU
            full = by_pixel[(pixel, "e2")]
            assert full["user"]["email"] == events.EM and full["user"]["ip"] == "2001:db8::7"
            assert "limited_data_use" not in full
