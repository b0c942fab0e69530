"""The worker against the Meta sandbox, the way Meta fails: the real sink, the real
classification of the sandbox's own error bodies (``server_error``, ``timeout``, ``throttle``,
``expired_token``, ``invalid_event``: :mod:`signalyard.sandbox.meta.faults`), the consent
actions applied at delivery, and the lease heartbeat that keeps a slow platform from causing
double sends. What reached the platform is counted at the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock, SystemClock
from signalyard.delivery.worker import Worker
from signalyard.event import AcceptedEvent, Consent
from signalyard.sandbox.meta import SandboxState, create_app
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings
from signalyard.store.base import Store
from signalyard.store.sqlite import SQLiteStore
from signalyard.transforms.consent import parse_rule, policy_to_json

pytestmark = pytest.mark.anyio
DATASET = "1234567890"
TOKEN = "EAAB" + "m" * 60
EM = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
FBP = "fb.1.1799999000000.1234567890"
FAST = DeliverySettings(concurrency=2, backoff_base_seconds=1.0, backoff_max_seconds=60.0)


def event(i: int, now: float, *, consent: Consent | None = None) -> AcceptedEvent:
    payload: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(now) - 10,
        "event_id": f"e{i}",
        "action_source": "website",
        "event_source_url": "https://shop.example/thanks",
        "user_data": {
            "em": [EM],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
            "fbp": FBP,
        },
        "custom_data": {"currency": "USD", "value": 12.5},
    }
    if consent is not None:
        payload["_consent"] = consent.to_json()
    return AcceptedEvent(DATASET, "Purchase", f"e{i}", int(now) - 10, payload, consent=consent)


async def add_meta(
    store: Store, url: str, now: float, *, name: str = "meta", pixel: str = DATASET, **options: Any
) -> int:
    d = await store.add_destination(
        DATASET,
        name=name,
        kind="meta",
        options={"pixel_id": pixel, "graph_url": url, **options},
        secrets={"access_token": Secret(TOKEN)},
        now=now,
    )
    return d.id


@contextlib.asynccontextmanager
async def in_process(
    store: Store, clock: FrozenClock, settings: DeliverySettings = FAST
) -> AsyncIterator[tuple[Worker, SandboxState]]:
    """A worker whose requests go to the sandbox app in this process (on the test's clock)."""
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


async def test_batches_and_delivers_everything_once(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_meta(sqlite_store, "http://sandbox", clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(2100)], now=clock.now())
        assert await worker.run_once() == 2000  # concurrency 2 x Meta's 1,000 per request
        await drain(worker, clock)
        assert ids(sandbox) == sorted(f"e{i}" for i in range(2100))
        assert ids(sandbox, dedup="kept") == ids(sandbox)  # none sent twice
        assert sorted(r.events for r in sandbox.requests()) == [100, 1000, 1000]
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered, st.dead) == (0, 2100, 0)
        assert len(await sqlite_store.attempts()) == 3


async def test_an_invalid_event_is_bisected_out_and_dead_lettered_alone(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_meta(sqlite_store, "http://sandbox", clock.now())
        sandbox.faults.add({"kind": "invalid_event", "event_ids": ["e7"]}, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(10)], now=clock.now())
        await drain(worker, clock)
        assert ids(sandbox) == sorted(f"e{i}" for i in range(10) if i != 7)
        (dead,) = await sqlite_store.dead_letters()
        assert (dead.event_id, dead.code, dead.subcode) == ("e7", 100, 2804019)
        assert "Invalid parameter" in dead.reason


async def test_server_errors_are_retried_with_backoff(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_meta(sqlite_store, "http://sandbox", clock.now())
        sandbox.faults.add({"kind": "server_error", "status": 503, "count": 3}, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(5)], now=clock.now())
        await worker.run_once()
        assert await worker.run_once() == 0  # not due again straight away
        await drain(worker, clock)
        assert ids(sandbox) == [f"e{i}" for i in range(5)]
        outcomes = [a.outcome for a in reversed(await sqlite_store.attempts())]
        assert outcomes == ["retry", "retry", "retry", "delivered"]
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered, st.dead) == (0, 5, 0)


async def test_throttling_holds_the_destination_for_the_time_meta_says(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_meta(sqlite_store, "http://sandbox", clock.now())
        sandbox.faults.add(
            {"kind": "throttle", "code": 80004, "regain_minutes": 5, "count": 1}, clock.now()
        )
        await sqlite_store.ingest([event(i, clock.now()) for i in range(3)], now=clock.now())
        await worker.run_once()
        (d,) = await sqlite_store.list_destinations()
        assert d.throttled_until == clock.now() + 300
        clock.advance(299)
        assert await worker.run_once() == 0
        assert ids(sandbox) == []
        clock.advance(2)
        assert await worker.run_once() == 3
        assert ids(sandbox) == ["e0", "e1", "e2"]


async def test_an_expired_token_pauses_and_a_new_token_resumes(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_meta(sqlite_store, "http://sandbox", clock.now())
        sandbox.faults.add({"kind": "expired_token", "token": TOKEN}, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(25)], now=clock.now())
        await worker.run_once()
        (d,) = await sqlite_store.list_destinations()
        assert d.state == "paused" and "expired" in (d.paused_reason or "")
        assert "signalyard destinations set-token meta" in (d.paused_fix or "")
        clock.advance(3600)
        assert await worker.run_once() == 0
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.dead) == (25, 0)
        fresh = {"access_token": Secret("EAAB" + "n" * 60)}
        await sqlite_store.set_secrets(d.id, fresh, now=clock.now())
        await drain(worker, clock)
        assert ids(sandbox) == sorted(f"e{i}" for i in range(25))


async def test_consent_actions_are_applied_to_what_is_sent(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    """``ldu`` sends Meta's Limited Data Use fields; ``no_pii`` sends no personal keys."""
    now = clock.now()
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        for name, pixel, action in (("ldu", "111", "ldu"), ("no-pii", "222", "no_pii")):
            await add_meta(
                sqlite_store,
                "http://sandbox",
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
        by_pixel = {
            (e.dataset_id, e.event_id): e.event
            for e in sandbox.events()
            if e.dataset_id in ("111", "222")
        }
        assert len(by_pixel) == 4
        ldu = by_pixel[("111", "e1")]
        assert ldu["data_processing_options"] == ["LDU"]
        assert (ldu["data_processing_options_country"], ldu["data_processing_options_state"]) == (
            1,
            1000,
        )
        assert ldu["user_data"]["em"] == [EM]  # LDU limits processing, it keeps the keys
        no_pii = by_pixel[("222", "e1")]
        assert set(no_pii["user_data"]) == {"fbp", "client_user_agent"}
        assert "data_processing_options" not in no_pii
        for pixel in ("111", "222"):  # granted: sent in full, no LDU
            full = by_pixel[(pixel, "e2")]
            assert full["user_data"]["em"] == [EM]
            assert full["user_data"]["client_ip_address"] == "203.0.113.7"
            assert "data_processing_options" not in full
        assert all("_consent" not in e for e in by_pixel.values())


async def test_a_timeout_is_retried_and_meta_deduplicates_the_retry(
    sqlite_store: SQLiteStore, serve: Callable[[Any], str]
) -> None:
    """The sandbox records the events, then answers too late: the worker retries, and the
    platform sees the retry as a duplicate (same event_id) rather than a second purchase."""
    clock = SystemClock()
    sandbox = SandboxState(clock=clock)
    url = serve(create_app(clock=clock, state=sandbox))
    now = clock.now()
    await sqlite_store.add_dataset(DATASET, name="shop", default_country="US", now=now)
    await add_meta(sqlite_store, url, now, timeout_seconds=0.2)
    sandbox.faults.add({"kind": "timeout", "delay": 1.0, "count": 1}, now)
    await sqlite_store.ingest([event(i, now) for i in range(3)], now=now)
    settings = DeliverySettings(backoff_base_seconds=0.0, backoff_max_seconds=0.0)
    async with httpx.AsyncClient() as client:
        worker = Worker(sqlite_store, settings, clock=clock, client=client, sandbox_url="unused")
        await worker.run_once()
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered) == (3, 0)
        await worker.run_once()
    (st,) = await sqlite_store.status(now=clock.now())
    assert (st.queued, st.delivered, st.dead) == (0, 3, 0)
    assert ids(sandbox, dedup="kept") == ["e0", "e1", "e2"]
    assert ids(sandbox, dedup="deduplicated") == ["e0", "e1", "e2"]


async def test_a_slow_platform_never_makes_a_second_worker_send_the_batch_again(
    backend_store: Store, serve: Callable[[Any], str]
) -> None:
    """Meta takes longer than ``lease_seconds`` to answer; the first worker's heartbeat keeps
    its lease, so a second worker polling meanwhile claims nothing."""
    clock = SystemClock()
    sandbox = SandboxState(clock=clock)
    url = serve(create_app(clock=clock, state=sandbox))
    now = clock.now()
    await backend_store.add_dataset(DATASET, name="shop", default_country="US", now=now)
    await add_meta(backend_store, url, now, timeout_seconds=10)
    sandbox.faults.add({"kind": "timeout", "delay": 1.5, "count": 1}, now)
    await backend_store.ingest([event(i, now) for i in range(20)], now=now)
    settings = DeliverySettings(lease_seconds=0.3)
    async with httpx.AsyncClient() as client_a, httpx.AsyncClient() as client_b:
        first = Worker(backend_store, settings, clock=clock, client=client_a, sandbox_url="x")
        second = Worker(backend_store, settings, clock=clock, client=client_b, sandbox_url="x")
        sending = asyncio.create_task(first.run_once())
        await asyncio.sleep(0.1)
        claimed_by_second = 0
        while not sending.done():  # 1.5 s: five leases' worth
            claimed_by_second += await second.run_once()
            await asyncio.sleep(0.05)
        assert await sending == 20
    assert claimed_by_second == 0
    assert len(sandbox.requests()) == 1
    assert ids(sandbox) == sorted(f"e{i}" for i in range(20))  # each recorded once
    (st,) = await backend_store.status(now=clock.now())
    assert (st.queued, st.delivered) == (0, 20)
