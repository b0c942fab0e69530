"""A richer server copy of an event the browser sent first (issue 9, item 12): the browser's
``/collect`` sends order-3000 with its fbp (and the request's address and agent); the shop's
server then sends the same event_id with the email and its own address and agent. Before
delivery the server's keys are merged into the stored copy (the browser's values are kept);
after delivery a richer copy is counted as "richer copy arrived late" on the dashboard."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from signalyard.clock import FrozenClock
from signalyard.delivery.worker import Worker
from signalyard.insights.views import dedup
from signalyard.sandbox.meta import SandboxState
from signalyard.sandbox.meta import create_app as create_sandbox
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings
from signalyard.sources.auth import new_key
from signalyard.store.sqlite import SQLiteStore
from tests.dashboard.conftest import app_for, client_for, login, text_by_testid
from tests.sources.test_collect import CHROME, DATASET, FBP, gateway, post

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
    transport = httpx.ASGITransport(app=create_sandbox(clock=clock, state=sandbox))
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
        await store.set_token(meta.id, Secret(TOKEN), now=clock.now())
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
