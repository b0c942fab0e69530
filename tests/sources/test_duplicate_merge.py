"""A richer server copy of an event the browser sent first (issue 9, item 12): the browser's
``/collect`` sends order-3000 with its fbp (and the request's address and agent); the shop's
server then sends the same event_id with the email and its own address and agent. Before
delivery the server's keys are merged into the stored copy (the browser's values are kept);
after delivery a richer copy is counted as "richer copy arrived late" on the dashboard. A page
(``/collect``, no key) can neither write into a stored copy nor learn anything about it."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.worker import Worker
from signalyard.event import AcceptedEvent
from signalyard.insights.views import dedup
from signalyard.sandbox.meta import SandboxState
from signalyard.sandbox.meta import create_app as create_sandbox
from signalyard.sandbox.registry import served
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings
from signalyard.sources.auth import new_key
from signalyard.sources.ingest import Ingestor
from signalyard.store.base import MergeResult
from signalyard.store.sqlite import SQLiteStore
from signalyard.transforms.user_data import MAX_VALUES_PER_KEY
from tests.dashboard.conftest import app_for, client_for, login, text_by_testid
from tests.sources.test_collect import CHROME, DATASET, FBP, gateway, post, stored

pytestmark = pytest.mark.anyio
EMAIL_HASH = hashlib.sha256(b"jane.doe@example.com").hexdigest()
PHONE_HASH = "5f" * 32
TOKEN = "EAAB" + "m" * 60


def order(clock: FrozenClock, **user_data: Any) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_id": "order-3000",
        "event_time": int(clock.now()) - 5,
        "action_source": "website",
        "event_source_url": "https://shop.example.com/thanks",
        "custom_data": {"value": 10, "currency": "EUR"},
        "user_data": user_data,
    }


@contextlib.asynccontextmanager
async def delivering(
    store: SQLiteStore, clock: FrozenClock
) -> AsyncIterator[tuple[Worker, SandboxState]]:
    sandbox = SandboxState(clock=clock)
    transport = httpx.ASGITransport(
        app=served({"meta": create_sandbox(clock=clock, state=sandbox)})
    )
    async with httpx.AsyncClient(transport=transport) as client:
        yield (
            Worker(
                store,
                DeliverySettings(),
                clock=clock,
                client=client,
                sandbox_url="http://sandbox",
            ),
            sandbox,
        )


async def server_post(
    client: httpx.AsyncClient, secret: str, event: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/v21.0/{DATASET}/events", json={"data": [event], "access_token": secret}
    )


async def test_the_server_copy_enriches_the_browser_copy_and_a_late_one_is_counted(
    sqlite_url: str, clock: FrozenClock
) -> None:
    async with gateway(sqlite_url, clock) as (client, store):
        key = new_key()
        await store.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="", now=0)
        r = await post(client, {"events": [order(clock, fbp=FBP)]})
        assert r.status_code == 200, r.text
        server = order(
            clock,
            em=["Jane.Doe@example.com"],
            client_ip_address="198.51.100.9",
            client_user_agent="ShopServer/1.0",
            fbp="fb.1.1799999000000.999",
        )
        r = await server_post(client, key.secret, server)
        assert r.status_code == 200, r.text
        messages = " ".join(r.json()["messages"])
        assert "merged into the copy received first" in messages
        assert "em" in messages and "jane" not in messages.lower()

        (meta,) = await store.list_destinations(DATASET)
        await store.set_secrets(meta.id, {"access_token": Secret(TOKEN)}, now=clock.now())
        async with delivering(store, clock) as (worker, sandbox):
            assert await worker.run_once() == 1
            (sent,) = sandbox.events(event_id="order-3000")
            user_data = sent.event["user_data"]
            assert user_data["em"] == [EMAIL_HASH]
            assert user_data["fbp"] == FBP  # the browser's values are kept
            assert user_data["client_ip_address"] == "203.0.113.7"
            assert user_data["client_user_agent"] == CHROME
            assert "_sources" not in sent.event

            # after delivery: a copy with a phone number the sent one lacked came too late
            r = await server_post(client, key.secret, order(clock, ph=[PHONE_HASH]))
            assert r.status_code == 200, r.text
            assert "already sent" in " ".join(r.json()["messages"])
            assert await worker.run_once() == 0
            assert len(sandbox.events(event_id="order-3000")) == 1
    # the app's statistics were flushed when it stopped
    store = SQLiteStore(sqlite_url)
    await store.open()
    try:
        (row,) = await dedup(store, DATASET, now=clock.now())
        assert (row.merged, row.late_richer, row.duplicates) == (1, 1, 2)
        async with client_for(app_for(store, clock)) as dash:
            assert (await login(dash)).status_code == 303
            page = await dash.get("/dashboard/dedup", params={"dataset": DATASET})
            assert page.status_code == 200
            cells = text_by_testid(page.text)
            assert cells["dedup-merged-Purchase"] == "1"
            assert cells["dedup-late-Purchase"] == "1"
            assert "richer copy arrived late" in page.text
    finally:
        await store.close()


async def keyed(store: SQLiteStore) -> str:
    key = new_key()
    await store.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="", now=0)
    return key.secret


async def test_a_page_cannot_write_into_a_server_copy_nor_learn_of_it(
    sqlite_url: str, clock: FrozenClock
) -> None:
    """The shop's server sent order-3000 with the email; anyone can post the same event id to
    /collect (no key) with their own browser ids: the stored copy must not gain them, and the
    answer must not say that the order exists, is not sent yet, or which keys it lacks."""
    async with gateway(sqlite_url, clock, peer="198.51.100.66") as (client, store):
        secret = await keyed(store)
        r = await server_post(client, secret, order(clock, em=["Jane.Doe@example.com"]))
        assert r.status_code == 200, r.text
        (before,) = await stored(store)
        attacker = order(
            clock, fbp="fb.1.1799999000000.666", fbc="fb.1.1799999000000.IwAR-attacker"
        )
        r = await post(client, {"events": [attacker]}, ua="Attacker/1.0")
        assert r.status_code == 200, r.text
        assert await stored(store) == [before]
        # answered exactly as an event id never seen before
        fresh = await post(
            client, {"events": [{**attacker, "event_id": "order-3001"}]}, ua="Attacker/1.0"
        )
        assert fresh.status_code == 200, fresh.text
        assert r.json()["messages"] == fresh.json()["messages"] == []
        assert r.json().keys() == fresh.json().keys()
        assert r.json()["events_received"] == fresh.json()["events_received"] == 1


async def test_values_beyond_the_per_key_cap_are_reported(
    sqlite_url: str, clock: FrozenClock
) -> None:
    """The merge keeps validation's cap (20 per key) and says which key was cut, never a
    value."""
    first = [f"{i:064x}" for i in range(15)]
    more = [f"{i + 100:064x}" for i in range(10)]
    async with gateway(sqlite_url, clock) as (client, store):
        secret = await keyed(store)
        assert (await server_post(client, secret, order(clock, em=first))).status_code == 200
        r = await server_post(client, secret, order(clock, em=more))
        assert r.status_code == 200, r.text
        messages = r.json()["messages"]
        (cut,) = [m for m in messages if "not merged" in m]
        assert cut.startswith("data[0]: ") and f"{MAX_VALUES_PER_KEY} values" in cut
        assert "user_data em" in cut
        assert not any(v in " ".join(messages) for v in more)
        (payload,) = await stored(store)
        assert payload["user_data"]["em"] == first + more[:5]


async def test_the_merge_is_done_before_delivery_is_woken(
    sqlite_url: str, clock: FrozenClock
) -> None:
    """A worker woken before the merge could claim the stored copy and make the merge late
    for no reason."""
    store = SQLiteStore(sqlite_url)
    await store.open()
    try:
        await store.add_dataset(DATASET, name="Shop", default_country="DE", now=clock.now())
        dataset = await store.get_dataset(DATASET)
        assert dataset is not None
        calls: list[str] = []
        merge = store.merge_duplicates

        async def recorded(events: Sequence[AcceptedEvent], *, now: float) -> list[MergeResult]:
            calls.append("merge")
            return await merge(events, now=now)

        store.merge_duplicates = recorded  # type: ignore[method-assign]
        ingestor = Ingestor(
            store,
            clock,
            default_country=None,
            max_future_seconds=600,
            on_stored=lambda: calls.append("wake"),
        )
        await ingestor.ingest([order(clock, fbp=FBP)], dataset, source="graph_api")
        assert calls == ["wake"]
        calls.clear()
        new = {**order(clock, fbp=FBP), "event_id": "order-3001"}
        await ingestor.ingest([new, order(clock, ph=[PHONE_HASH])], dataset, source="graph_api")
        assert calls == ["merge", "wake"]
    finally:
        await store.close()


async def test_a_failed_merge_still_answers_for_the_stored_events(
    sqlite_url: str, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The request's new events are committed when the merge runs: a merge error is logged
    (without personal data) and said in the messages, never a 500."""
    async with gateway(sqlite_url, clock) as (client, store):
        secret = await keyed(store)
        assert (await server_post(client, secret, order(clock, fbp=FBP))).status_code == 200

        async def broken(events: Sequence[AcceptedEvent], *, now: float) -> list[MergeResult]:
            raise RuntimeError(f"constraint failed: {events[0].payload['user_data']}")

        store.merge_duplicates = broken  # type: ignore[method-assign]
        caplog.set_level(logging.INFO, logger="signalyard")
        new = {**order(clock, fbp=FBP), "event_id": "order-3001"}
        r = await client.post(
            f"/v21.0/{DATASET}/events",
            json={"data": [new, order(clock, ph=[PHONE_HASH])], "access_token": secret},
        )
        assert r.status_code == 200, r.text
        assert r.json()["events_received"] == 2
        assert any(m.startswith("data[1]: could not be merged") for m in r.json()["messages"]), (
            r.json()
        )
        assert [p["event_id"] for p in await stored(store)] == ["order-3000", "order-3001"]
        (record,) = [r for r in caplog.records if "merge failed" in r.getMessage()]
        assert "RuntimeError" in record.getMessage()
        assert PHONE_HASH not in caplog.text and "constraint" not in caplog.text
