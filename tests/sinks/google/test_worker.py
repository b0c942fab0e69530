"""The worker delivering to the Google sandbox the way Google fails: the real sink, its real
token exchange, and the sandbox's own faults and error bodies (``server_error``,
``throttle``, ``expired_credential``, ``invalid_event``). What reached Google is counted at
the sandbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.worker import Worker
from signalyard.event import AcceptedEvent, Consent
from signalyard.sandbox.google import SandboxState, create_app
from signalyard.sandbox.registry import served
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings
from signalyard.store.sqlite import SQLiteStore

from .conftest import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, SANDBOX
from .events import EM_OTHER

pytestmark = pytest.mark.anyio
DATASET = "1234567890"
ACTION = "987654321"
FAST = DeliverySettings(concurrency=2, backoff_base_seconds=1.0, backoff_max_seconds=60.0)


def event(i: int, now: float, *, consent: str = "granted") -> AcceptedEvent:
    payload: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(now) - 10,
        "event_id": f"e{i}",
        "action_source": "website",
        "user_data": {
            "em": [EM_OTHER],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
        },
        "custom_data": {"currency": "USD", "value": 12.5},
        "_identity": {"em.gmail": {}},
        "_click_ids": {"gclid": f"Cj0-click-{i}"},
    }
    state = Consent(consent, "api", "US-CA")
    payload["_consent"] = state.to_json()
    return AcceptedEvent(DATASET, "Purchase", f"e{i}", int(now) - 10, payload, consent=state)


async def add_google(store: SQLiteStore, now: float, **secrets: str) -> int:
    given = secrets or {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
    d = await store.add_destination(
        DATASET,
        name="google",
        kind="google",
        options={
            "operating_account_id": "1234567890",
            "conversion_action_id": ACTION,
            "api_url": "sandbox",
            "token_url": "sandbox",
        },
        secrets={k: Secret(v) for k, v in given.items()},
        now=now,
    )
    return d.id


@contextlib.asynccontextmanager
async def in_process(
    store: SQLiteStore, clock: FrozenClock
) -> AsyncIterator[tuple[Worker, SandboxState]]:
    """A worker whose requests go to the Google sandbox in this process (the test's clock),
    served where ``sandbox`` options resolve."""
    sandbox = SandboxState(clock=clock)
    await store.add_dataset(DATASET, name="shop", default_country="US", now=clock.now())
    app = served({"google": create_app(clock=clock, state=sandbox)})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        yield Worker(store, FAST, clock=clock, client=client, sandbox_url=SANDBOX), sandbox


async def drain(worker: Worker, clock: FrozenClock, rounds: int = 40, step: float = 61) -> None:
    for _ in range(rounds):
        if not await worker.run_once():
            clock.advance(step)


def kept(sandbox: SandboxState) -> list[str]:
    return sorted(str(e.transaction_id) for e in sandbox.events(status="kept"))


async def test_batches_of_2000_delivered_once(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_google(sqlite_store, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(2100)], now=clock.now())
        assert await worker.run_once() == 2100
        assert kept(sandbox) == sorted(f"e{i}" for i in range(2100))
        assert len(sandbox.events()) == 2100  # none sent twice
        sizes = sorted(r.events or 0 for r in sandbox.requests() if r.route == "ingest")
        assert sizes == [100, 2000]
        assert [r.route for r in sandbox.requests()].count("token") == 1  # token cached
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered, st.dead) == (0, 2100, 0)


async def test_server_errors_are_retried(sqlite_store: SQLiteStore, clock: FrozenClock) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_google(sqlite_store, clock.now())
        sandbox.faults.add({"kind": "server_error", "status": 503, "count": 3}, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(5)], now=clock.now())
        await worker.run_once()
        assert await worker.run_once() == 0  # not due again straight away
        await drain(worker, clock)
        assert kept(sandbox) == [f"e{i}" for i in range(5)]
        outcomes = [a.outcome for a in reversed(await sqlite_store.attempts())]
        assert outcomes == ["retry", "retry", "retry", "delivered"]


async def test_throttling_holds_the_destination(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_google(sqlite_store, clock.now())
        sandbox.faults.add({"kind": "throttle", "retry_after": 30, "count": 1}, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(3)], now=clock.now())
        await worker.run_once()
        (d,) = await sqlite_store.list_destinations()
        assert d.throttled_until == clock.now() + 30
        clock.advance(29)
        assert await worker.run_once() == 0
        clock.advance(2)
        assert await worker.run_once() == 3
        assert kept(sandbox) == ["e0", "e1", "e2"]
        (st,) = await sqlite_store.status(now=clock.now())
        assert st.dead == 0


async def test_a_throttle_without_a_hint_waits_a_minute(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_google(sqlite_store, clock.now())
        sandbox.faults.add({"kind": "throttle", "count": 1}, clock.now())
        await sqlite_store.ingest([event(0, clock.now())], now=clock.now())
        await worker.run_once()
        (d,) = await sqlite_store.list_destinations()
        assert d.throttled_until == clock.now() + 60


async def test_a_revoked_credential_pauses_and_a_new_one_resumes(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        destination = await add_google(sqlite_store, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(3)], now=clock.now())
        await worker.run_once()  # a token is issued and cached
        sandbox.faults.add(
            {"kind": "expired_credential", "refresh_token": REFRESH_TOKEN}, clock.now()
        )
        await sqlite_store.ingest([event(i, clock.now()) for i in range(3, 25)], now=clock.now())
        await worker.run_once()  # 401 with the cached token, then invalid_grant at /token
        (d,) = await sqlite_store.list_destinations()
        assert d.state == "paused" and "expired or revoked" in (d.paused_reason or "")
        assert "signalyard destinations set-secret google refresh_token" in (d.paused_fix or "")
        clock.advance(3600)
        assert await worker.run_once() == 0
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.dead) == (22, 0)
        fresh = {
            "client_id": Secret(CLIENT_ID),
            "client_secret": Secret(CLIENT_SECRET),
            "refresh_token": Secret("1//0a-new-refresh-token"),
        }
        await sqlite_store.set_secrets(destination, fresh, now=clock.now())
        await drain(worker, clock)
        assert kept(sandbox) == sorted(f"e{i}" for i in range(25))
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered, st.dead) == (0, 25, 0)


async def test_an_invalid_event_is_bisected_out_and_dead_lettered_alone(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_google(sqlite_store, clock.now())
        sandbox.faults.add({"kind": "invalid_event", "transaction_ids": ["e7"]}, clock.now())
        await sqlite_store.ingest([event(i, clock.now()) for i in range(10)], now=clock.now())
        await drain(worker, clock)
        assert kept(sandbox) == sorted(f"e{i}" for i in range(10) if i != 7)
        assert len(sandbox.events()) == 9  # fail-fast: refused requests kept nothing
        (dead,) = await sqlite_store.dead_letters()
        assert dead.event_id == "e7"
        assert "INVALID_EVENT" in dead.reason and "events[0]" in dead.reason
        (st,) = await sqlite_store.status(now=clock.now())
        assert (st.queued, st.delivered, st.dead) == (0, 9, 1)


async def test_an_event_without_identifiers_is_dead_lettered_without_a_request(
    sqlite_store: SQLiteStore, clock: FrozenClock
) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_google(sqlite_store, clock.now())
        bad = event(3, clock.now())
        bad.payload["user_data"] = {"client_user_agent": "Mozilla/5.0"}
        del bad.payload["_click_ids"]
        batch = [event(i, clock.now()) for i in range(3)] + [bad]
        await sqlite_store.ingest(batch, now=clock.now())
        await drain(worker, clock)
        assert kept(sandbox) == ["e0", "e1", "e2"]
        assert len(sandbox.events()) == 3
        (dead,) = await sqlite_store.dead_letters()
        assert dead.event_id == "e3" and "NO_IDENTIFIERS_PROVIDED" in dead.reason


async def test_consent_reaches_google(sqlite_store: SQLiteStore, clock: FrozenClock) -> None:
    async with in_process(sqlite_store, clock) as (worker, sandbox):
        await add_google(sqlite_store, clock.now())
        now = clock.now()
        await sqlite_store.ingest(
            [event(1, now, consent="granted"), event(2, now, consent="denied")], now=now
        )
        await worker.run_once()
        by_id = {e.transaction_id: e for e in sandbox.events()}
        assert by_id["e1"].ad_user_data == "CONSENT_GRANTED"
        assert by_id["e2"].ad_user_data == "CONSENT_DENIED"
        assert by_id["e2"].status == "denied_consent"
