"""The ASGI app: health, readiness, the mounted Meta sandbox, and the whole flow through it."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from signalyard.app import create_app
from signalyard.clock import FrozenClock, SystemClock
from signalyard.samples import sample_purchase
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings, Settings
from signalyard.sources.auth import new_key
from signalyard.store.base import Dataset
from signalyard.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio
SUMMARY = "/sandbox/meta/_sandbox/summary"


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        yield client


def make(sqlite_url: str, clock: FrozenClock, **settings: Any) -> Starlette:
    config = Settings(database_url=sqlite_url, **settings)
    return create_app(config, SQLiteStore(sqlite_url), clock=clock, run_worker=False)


async def test_healthz(sqlite_url: str, clock: FrozenClock) -> None:
    async with running(make(sqlite_url, clock)) as client:
        r = await client.get("/healthz")
        assert r.status_code == 200
        assert r.json() == {"status": "ok"}


async def test_readyz_when_the_store_answers(sqlite_url: str, clock: FrozenClock) -> None:
    async with running(make(sqlite_url, clock)) as client:
        r = await client.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "ready"}


class BrokenStore(SQLiteStore):
    broken = False

    async def list_datasets(self) -> list[Dataset]:
        if self.broken:
            raise OSError("disk I/O error")
        return await super().list_datasets()


async def test_readyz_is_503_when_the_store_fails(sqlite_url: str, clock: FrozenClock) -> None:
    store = BrokenStore(sqlite_url)
    app = create_app(Settings(database_url=sqlite_url), store, clock=clock, run_worker=False)
    async with running(app) as client:
        assert (await client.get("/readyz")).status_code == 200
        store.broken = True
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "store unavailable"}
        assert (await client.get("/healthz")).status_code == 200  # alive, not ready


async def test_lifespan_opens_the_store(sqlite_url: str, clock: FrozenClock) -> None:
    store = SQLiteStore(sqlite_url)
    app = create_app(Settings(database_url=sqlite_url), store, clock=clock, run_worker=False)
    async with app.router.lifespan_context(app):
        assert await store.list_datasets() == []


async def test_store_used_after_shutdown_fails_fast(sqlite_url: str, clock: FrozenClock) -> None:
    store = SQLiteStore(sqlite_url)
    app = create_app(Settings(database_url=sqlite_url), store, clock=clock, run_worker=False)
    async with app.router.lifespan_context(app):
        pass
    with anyio.move_on_after(1) as scope, pytest.raises(Exception):  # noqa: B017 - any error
        await store.list_datasets()
    assert not scope.cancelled_caught, "store.list_datasets() hung after close()"


async def test_sandbox_is_mounted_when_enabled(sqlite_url: str, clock: FrozenClock) -> None:
    async with running(make(sqlite_url, clock, sandbox=True)) as client:
        r = await client.get(SUMMARY)
        assert r.status_code == 200
        body = r.json()
        assert body["totals"]["events_received"] == 0
        assert body["datasets"] == {}
        # the sandbox's own Graph endpoint sits under the mount, apart from ingest
        r = await client.post("/sandbox/meta/v26.0/123/events", json={"data": []})
        assert r.status_code in (400, 401)
        assert "error" in r.json()


async def test_sandbox_is_absent_when_disabled(sqlite_url: str, clock: FrozenClock) -> None:
    async with running(make(sqlite_url, clock, sandbox=False)) as client:
        assert (await client.get(SUMMARY)).status_code == 404
        assert (await client.post("/sandbox/meta/v26.0/123/events", json={})).status_code == 404
        assert (await client.get("/healthz")).status_code == 200
        # ingest is still there
        r = await client.post("/v26.0/123/events", json={"data": []})
        assert r.status_code == 400


async def test_ingest_route_answers_post_only(sqlite_url: str, clock: FrozenClock) -> None:
    async with running(make(sqlite_url, clock)) as client:
        assert (await client.get("/v26.0/123/events")).status_code == 405


async def test_event_flows_from_ingest_to_the_mounted_sandbox(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Ingest, the worker in the lifespan, the Meta sink and the mounted sandbox, together;
    no plaintext personal data in any log line at any level on the way."""
    caplog.set_level(logging.DEBUG)
    clock = SystemClock()
    now = clock.now()
    setup = SQLiteStore(sqlite_url)
    await setup.open()
    key = new_key()
    try:
        await setup.add_dataset("1234567890", name="Demo", default_country="US", now=now)
        await setup.add_key("1234567890", key_id=key.id, key_hash=key.key_hash, label="", now=now)
        await setup.add_destination(
            "1234567890",
            name="meta-sandbox",
            kind="meta",
            options={"pixel_id": "1234567890", "graph_url": "sandbox"},
            secrets={"access_token": Secret("sandbox-token")},
            now=now,
        )
    finally:
        await setup.close()

    transport = httpx.ASGITransport(app=Starlette())  # pointed at the gateway below
    settings = Settings(
        database_url=sqlite_url,
        sandbox=True,
        delivery=DeliverySettings(poll_seconds=0.05),
    )
    async with httpx.AsyncClient(transport=transport) as worker_client:
        app = create_app(
            settings,
            SQLiteStore(sqlite_url),
            clock=clock,
            http_client=worker_client,
            run_worker=True,
        )
        transport.app = app
        async with running(app) as client:
            event = sample_purchase(now)
            r = await client.post(
                "/v26.0/1234567890/events",
                params={"access_token": key.secret},
                json={"data": [event]},
            )
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + 10
            summary: dict[str, Any] = {}
            while time.monotonic() < deadline:
                summary = (await client.get(SUMMARY)).json()
                if summary["totals"]["events_received"]:
                    break
                await anyio.sleep(0.05)
            assert summary["totals"]["events_received"] == 1, summary
            assert summary["totals"]["rejected"] == 0
            assert "1234567890" in summary["datasets"]
            received = (await client.get("/sandbox/meta/_sandbox/events")).text
            assert event["event_id"] in received
            assert "jane.doe@example.com" not in received.lower()  # hashed before delivery
            # a refused event whose personal data the error must not echo either
            bad = dict(event, event_id="bad-1", custom_data={"value": 1})
            r = await client.post(
                "/v26.0/1234567890/events",
                params={"access_token": key.secret},
                json={"data": [bad]},
            )
            assert r.status_code == 400
            assert "jane" not in r.text.lower() and "555" not in r.text
    # every record but those of this test's own client (its URLs carry the key it sends)
    lines = [r.getMessage() for r in caplog.records if "http://gw/" not in r.getMessage()]
    assert any("signalyard" in r.name for r in caplog.records)  # the gateway's logs were seen
    logged = "\n".join(lines)
    for personal in ("jane.doe@example.com", "jane", "doe", "6505551212", "menlo", "94025"):
        assert personal not in logged.lower(), personal
    assert key.secret not in logged and "sandbox-token" not in logged


async def test_the_event_s_own_click_and_browser_ids_are_kept_with_it_a_sender_s_are_not(
    sqlite_url: str, clock: FrozenClock
) -> None:
    """``click_ids`` go to the ledger and stay with the stored event as ``_click_ids`` (for the
    platforms that take a click id); a sender cannot write ``_click_ids`` itself."""
    import sqlite3

    import orjson

    store = SQLiteStore(sqlite_url)
    await store.open()
    key = new_key()
    try:
        await store.add_dataset("1234567890", name="Demo", default_country="US", now=clock.now())
        await store.add_key(
            "1234567890", key_id=key.id, key_hash=key.key_hash, label="", now=clock.now()
        )
    finally:
        await store.close()
    event = sample_purchase(clock.now())
    event["click_ids"] = {"ttclid": "E.C.P.abc", "gclid": {"id": "Cj0K", "at": 1}}
    event["browser_ids"] = {
        "ttp": " 2Qm3ttp ",
        "ga": "GA1.1.1234567890.1700000000",
        "scid": "scid-1",
        "rdt_uuid": "1700000000000.rdt",
    }
    forged = dict(sample_purchase(clock.now()), event_id="forged-1")
    forged["_click_ids"] = {"gclid": "forged"}
    forged["_browser_ids"] = {"ttp": "forged"}
    unknown = dict(sample_purchase(clock.now()), event_id="unknown-1")
    unknown["browser_ids"] = {"_ga": "GA1.1.1.1"}
    async with running(make(sqlite_url, clock)) as client:
        r = await client.post(
            "/v26.0/1234567890/events",
            params={"access_token": key.secret},
            json={"data": [unknown]},
        )
        assert r.status_code == 400 and "data[0].browser_ids" in r.text, r.text
        r = await client.post(
            "/v26.0/1234567890/events",
            params={"access_token": key.secret},
            json={"data": [event, forged]},
        )
        assert r.status_code == 200, r.text
    path = sqlite_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = dict(conn.execute("SELECT event_id, payload FROM events").fetchall())
    kept = orjson.loads(rows[event["event_id"]])
    assert kept["_click_ids"] == {"ttclid": "E.C.P.abc", "gclid": "Cj0K"}
    assert kept["_browser_ids"] == {
        "ttp": "2Qm3ttp",
        "ga": "GA1.1.1234567890.1700000000",
        "scid": "scid-1",
        "rdt_uuid": "1700000000000.rdt",
    }
    assert "_click_ids" not in orjson.loads(rows["forged-1"])
    assert "_browser_ids" not in orjson.loads(rows["forged-1"])
