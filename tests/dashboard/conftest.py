"""The dashboard under test: mounted at ``/dashboard`` as the gateway mounts it, a SQLite
store seeded through the real ingest path (cleaning, hashing, the store, the statistics
recorder), and a client that can log in."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.clock import FrozenClock
from signalyard.dashboard import create_dashboard
from signalyard.insights.alert_log import raise_alert
from signalyard.insights.recorder import StatsRecorder
from signalyard.secret import Secret
from signalyard.settings import DashboardSettings
from signalyard.sources.ingest import Ingestor
from signalyard.store.sqlite import SQLiteStore

PASSWORD = "correct horse battery staple"
DATASET = "1234567890"
BASE = "http://dash.test"
CANARY_EMAIL = "privacy.canary@example.org"
CANARY_PHONE = "+1 650 555 0199"
PAGES = ("/", "/quality", "/dedup", "/delivery", "/diagnostics", "/alerts")


def app_for(store: SQLiteStore, clock: FrozenClock, **settings: Any) -> Starlette:
    config = DashboardSettings(password=Secret(settings.pop("password", PASSWORD)), **settings)
    return Starlette(routes=[Mount("/dashboard", app=create_dashboard(store, clock, config))])


@contextlib.asynccontextmanager
async def client_for(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def login(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/dashboard/login")
    return await client.post(
        "/dashboard/login", data={"csrf": csrf_of(page.text), "password": password, "next": ""}
    )


@pytest.fixture
async def store(sqlite_url: str, clock: FrozenClock) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(sqlite_url)
    await s.open()
    await s.add_dataset(DATASET, name="Shop", default_country="US", now=clock.now())
    yield s
    await s.close()


@pytest.fixture
async def client(store: SQLiteStore, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app_for(store, clock)) as c:
        yield c


@pytest.fixture
async def authed(client: httpx.AsyncClient) -> httpx.AsyncClient:
    assert (await login(client)).status_code == 303
    return client


def _event(name: str, event_id: str | None, now: float, **user: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": name,
        "event_time": int(now),
        "action_source": "website",
        "event_source_url": "https://shop.example.com/",
        "user_data": {
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            **user,
        },
    }
    if event_id is not None:
        event["event_id"] = event_id
    if name == "Purchase":
        event["custom_data"] = {"currency": "USD", "value": 42.0}
    return event


@dataclass
class Seeded:
    meta: int
    backup: int
    dead_ids: list[int]
    """The invalid dead letter (not replayable), then the replayable one."""
    user_values: set[str] = field(default_factory=set)
    """Every user_data value stored (hashes and plaintext fields): none may reach a page."""


async def seed(store: SQLiteStore, clock: FrozenClock) -> Seeded:
    """A day of a small shop's traffic, through the real ingest path:

    - 2 Purchase from the browser script (ids p-0, p-1), then 10 Purchase from the server API
      (p-0..p-9: two pair with the browser's and are dropped as duplicates), each with the
      canary email and phone, no fbc;
    - 4 PageView from the browser with fbp and fbc, one sent 2 hours late; 1 Lead without an
      event_id;
    - 1 Purchase refused for its value; 7 delivered to "meta"; two dead letters there: p-3
      refused by the platform as invalid (code 100, not replayable), p-4 refused with an
      HTTP 400 without a Graph error (a proxy: replayable); the
      destination "backup" paused because its token expired; one alert firing."""
    now = clock.now()
    meta = await store.add_destination(
        DATASET,
        name="meta",
        kind="meta",
        options={"pixel_id": DATASET},
        secrets={"access_token": Secret("EAAB-meta-token")},
        now=now,
    )
    backup = await store.add_destination(
        DATASET,
        name="backup",
        kind="meta",
        options={"pixel_id": DATASET},
        secrets={"access_token": Secret("EAAB-backup-token")},
        now=now,
    )
    recorder = StatsRecorder(store)
    ingestor = Ingestor(
        store, clock, default_country=None, max_future_seconds=600, recorder=recorder
    )
    dataset = await store.get_dataset(DATASET)
    assert dataset is not None
    personal = {"em": CANARY_EMAIL, "ph": CANARY_PHONE, "fbp": "fb.1.1700000000000.111"}
    await ingestor.ingest(
        [_event("Purchase", f"p-{i}", now, **personal) for i in range(2)],
        dataset,
        source="browser",
    )
    result = await ingestor.ingest(
        [_event("Purchase", f"p-{i}", now, **personal) for i in range(10)],
        dataset,
        source="graph_api",
    )
    assert (result.stored, result.duplicates) == (8, 2)
    browser_ids = {"fbp": "fb.1.1700000000000.222", "fbc": "fb.1.1700000000000.IwAR-click"}
    await ingestor.ingest(
        [_event("PageView", f"pv-{i}", now, **browser_ids) for i in range(3)]
        + [_event("PageView", "pv-3", now - 7200, **browser_ids)],
        dataset,
        source="browser",
    )
    await ingestor.ingest([_event("Lead", None, now)], dataset, source="graph_api")
    recorder.rejected(
        DATASET,
        "graph_api",
        "data[0].custom_data.value",
        "required for Purchase events",
        now=now,
    )
    recorder.delivered(meta.id, [now - 5] * 7, now=now)
    recorder.dead(meta.id, 1, now=now)
    recorder.request(meta.id, ok=True, now=now)
    await recorder.flush()

    claimed = await store.claim(meta.id, owner="t", limit=100, now=now, lease_seconds=60)
    values: set[str] = set()
    for c in claimed:
        for value in c.payload.get("user_data", {}).values():
            values.update(value if isinstance(value, list) else [str(value)])
    invalid = [c.outbox_id for c in claimed if c.payload["event_id"] == "p-3"]
    refused = [c.outbox_id for c in claimed if c.payload["event_id"] == "p-4"]
    dead = invalid + refused
    await store.settle_dead(
        invalid,
        owner="t",
        reason="Invalid parameter: the value of custom_data.value is invalid",
        code=100,
        subcode=2804019,
        now=now,
    )
    await store.settle_dead(
        refused, owner="t", reason="Meta answered HTTP 400", code=None, subcode=None, now=now
    )
    await store.release([c.outbox_id for c in claimed if c.outbox_id not in dead], owner="t")
    await store.pause(
        backup.id,
        reason="the access token expired",
        fix="replace it: signalyard destinations set-token backup",
        now=now,
    )
    await raise_alert(
        store,
        "destination_paused",
        f"destination:{backup.id}",
        "backup is paused: the access token expired",
        now=now,
    )
    return Seeded(meta.id, backup.id, dead, values)


@pytest.fixture
async def seeded(store: SQLiteStore, clock: FrozenClock) -> Seeded:
    return await seed(store, clock)


class _TestIds(HTMLParser):
    """The text of every element with a ``data-testid`` (nested ones included)."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str | None]] = []
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        testid = dict(attrs).get("data-testid")
        self.open.append((tag, testid))
        if testid is not None:
            self.text.setdefault(testid, [])

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            opened, _ = self.open.pop()
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, testid in self.open:
            if testid is not None:
                self.text[testid].append(data)


VOID = frozenset(("input", "meta", "link", "br", "img", "hr", "source", "wbr"))


def text_by_testid(html: str) -> dict[str, str]:
    parser = _TestIds()
    parser.feed(html)
    return {k: " ".join(" ".join(v).split()) for k, v in parser.text.items()}
