"""A running gateway (the real app, its lifespan, a SQLite file) for the ingest tests."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from signalyard.app import create_app
from signalyard.clock import FrozenClock
from signalyard.settings import Settings
from signalyard.sources.auth import new_key
from signalyard.store.sqlite import SQLiteStore

DATASET = "1234567890"
OTHER_DATASET = "5550001"
V = "v26.0"
EVENTS_PATH = f"/{V}/{DATASET}/events"

# Personal data sent in the tests: none of it may be stored, logged back or echoed.
EMAIL = "Jane.Doe@Example.com"
PHONE = "+1 (650) 555-1212"
FIRST_NAME = "Jannelle"
LAST_NAME = "Quixotic"
CITY = "Menlo Park"
ZIP = "94025"
EXTERNAL_ID = "customer-1042"
PLAINTEXT = (
    EMAIL,
    EMAIL.lower(),
    "6505551212",
    "650) 555-1212",
    FIRST_NAME,
    FIRST_NAME.lower(),
    LAST_NAME,
    LAST_NAME.lower(),
    CITY,
    "menlopark",
    EXTERNAL_ID,
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def purchase(now: float, event_id: str = "order-1", **overrides: Any) -> dict[str, Any]:
    """A valid website Purchase carrying every kind of personal data."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(now) - 60,
        "event_id": event_id,
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout/thank-you",
        "user_data": {
            "em": [EMAIL],
            "ph": [PHONE],
            "fn": FIRST_NAME,
            "ln": LAST_NAME,
            "ct": CITY,
            "st": "CA",
            "zp": ZIP,
            "country": "us",
            "external_id": EXTERNAL_ID,
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
            "fbp": "fb.1.1700000000000.1234567890",
        },
        "custom_data": {"currency": "usd", "value": 129.5, "order_id": "ORDER-1042"},
    }
    event.update(overrides)
    return event


def lead(now: float, event_id: str = "lead-1") -> dict[str, Any]:
    return {
        "event_name": "Lead",
        "event_time": int(now) - 30,
        "event_id": event_id,
        "action_source": "email",
        "user_data": {"em": EMAIL},
    }


@dataclass
class Gateway:
    """The app under test, started, with a dataset, its key, and a key of another dataset."""

    client: httpx.AsyncClient
    store: SQLiteStore
    """The app's own store (opened by its lifespan)."""
    clock: FrozenClock
    key: str
    key_id: str
    other_key: str
    db_path: Path
    settings: Settings

    async def post(
        self,
        path: str = EVENTS_PATH,
        *,
        token: str | None = "default",
        **kwargs: Any,
    ) -> httpx.Response:
        """POST to the gateway; ``token`` goes in the query (``None``: no token at all)."""
        params = dict(kwargs.pop("params", None) or {})
        if token is not None:
            params["access_token"] = self.key if token == "default" else token
        return await self.client.post(path, params=params, **kwargs)

    async def post_json(
        self, events: list[Any], token: str | None = "default", **kwargs: Any
    ) -> httpx.Response:
        return await self.post(
            content=orjson.dumps({"data": events}),
            headers={"content-type": "application/json"},
            token=token,
            **kwargs,
        )

    def stored(self) -> list[dict[str, Any]]:
        """Every stored event row, read from the SQLite file by another connection."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT dataset_id, event_name, event_id, event_time, source, test_event_code,"
                " payload FROM events ORDER BY pk"
            ).fetchall()
        finally:
            conn.close()
        return [
            {
                "dataset_id": r[0],
                "event_name": r[1],
                "event_id": r[2],
                "event_time": r[3],
                "source": r[4],
                "test_event_code": r[5],
                "payload": orjson.loads(r[6]),
                "raw_payload": bytes(r[6]),
            }
            for r in rows
        ]

    def raw_database_bytes(self) -> bytes:
        """The database file and its WAL/SHM companions, as bytes on disk."""
        out = b""
        for suffix in ("", "-wal", "-shm", "-journal"):
            path = Path(f"{self.db_path}{suffix}")
            if path.exists():
                out += path.read_bytes()
        return out


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(
    sqlite_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[GatewayFactory]:
    """Start the app (``create_app`` + its lifespan) with the given Settings overrides."""
    stack = contextlib.AsyncExitStack()
    started = False

    async def start(**settings_overrides: Any) -> Gateway:
        nonlocal started
        assert not started, "one gateway per test"
        started = True
        setup = SQLiteStore(sqlite_url)
        await setup.open()
        try:
            now = clock.now()
            await setup.add_dataset(DATASET, name="Shop", default_country="US", now=now)
            await setup.add_dataset(OTHER_DATASET, name="Other", default_country=None, now=now)
            key = new_key()
            await setup.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="t", now=now)
            other = new_key()
            await setup.add_key(
                OTHER_DATASET, key_id=other.id, key_hash=other.key_hash, label="o", now=now
            )
        finally:
            await setup.close()
        settings = Settings(database_url=sqlite_url, sandbox=False, worker=False)
        if settings_overrides:
            settings = replace(settings, **settings_overrides)
        store = SQLiteStore(sqlite_url)
        app = create_app(settings, store, clock=clock, run_worker=False)
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        )
        return Gateway(
            client=client,
            store=store,
            clock=clock,
            key=key.secret,
            key_id=key.id,
            other_key=other.secret,
            db_path=tmp_path / "signalyard.db",
            settings=settings,
        )

    async with stack:
        yield start


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> Gateway:
    return await make_gateway()
