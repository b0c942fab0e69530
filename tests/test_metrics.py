"""``GET /metrics``: ingest and delivery counters, queue gauges read from the store (cached),
bounded labels, no personal data, and the multiprocess mode of ``serve --workers N``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from signalyard.app import create_app
from signalyard.clock import FrozenClock, SystemClock
from signalyard.delivery.worker import Worker
from signalyard.metrics import REQUEST_BUCKETS, Metrics
from signalyard.sandbox.meta import create_app as create_meta_sandbox
from signalyard.sandbox.registry import served
from signalyard.secret import Secret
from signalyard.settings import DeliverySettings, Settings
from signalyard.sources.auth import new_key
from signalyard.store.base import Destination
from signalyard.store.sqlite import SQLiteStore
from tests.sources.conftest import DATASET, EMAIL, PLAINTEXT, purchase
from tests.test_app import running

pytestmark = pytest.mark.anyio
EVENTS = f"/v26.0/{DATASET}/events"
SANDBOX = "http://sandbox.test"
IP = "203.0.113.7"
ALLOWED_LABELS = {"dataset", "destination", "destination_id", "kind", "source", "endpoint"}
ALLOWED_LABELS |= {"status", "outcome", "state", "le"}


class Scrape:
    """One ``/metrics`` answer, parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def value(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples carrying ``labels`` (0 if none)."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and want <= ls)

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.samples)


async def scrape(client: httpx.AsyncClient) -> Scrape:
    r = await client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return Scrape(r.text)


async def seed(url: str, now: float, *, destination: bool = True) -> str:
    """The dataset, an ingest key (returned) and a Meta destination at the sandbox."""
    store = SQLiteStore(url)
    await store.open()
    key = new_key()
    try:
        await store.add_dataset(DATASET, name="Shop", default_country="US", now=now)
        await store.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="", now=now)
        if destination:
            await store.add_destination(
                DATASET,
                name="meta-sandbox",
                kind="meta",
                options={"pixel_id": DATASET, "graph_url": "sandbox"},
                secrets={"access_token": Secret("sandbox-token")},
                now=now,
            )
    finally:
        await store.close()
    return key.secret


@dataclass
class Rig:
    """The gateway (no worker of its own), its metrics and store, a worker sharing them, and a
    standalone sandbox on the same frozen clock."""

    client: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    metrics: Metrics
    store: SQLiteStore
    worker: Worker
    clock: FrozenClock
    key: str

    async def send(self, events: list[dict[str, Any]], **params: str) -> httpx.Response:
        return await self.client.post(
            EVENTS, params={"access_token": self.key, **params}, json={"data": events}
        )

    async def scrape(self) -> Scrape:
        self.clock.advance(10)  # past the queue cache
        return await scrape(self.client)


@contextlib.asynccontextmanager
async def rig(sqlite_url: str, store: SQLiteStore | None = None) -> AsyncIterator[Rig]:
    clock = FrozenClock(start=float(int(time.time())))
    key = await seed(sqlite_url, clock.now())
    store = store or SQLiteStore(sqlite_url)
    metrics = Metrics()
    settings = Settings(database_url=sqlite_url, sandbox=False, sandbox_url=SANDBOX)
    app = create_app(settings, store, clock=clock, run_worker=False, metrics=metrics)
    sandbox_app = create_meta_sandbox(clock=clock)
    transport = httpx.ASGITransport(app=served({"meta": sandbox_app}))
    async with (
        running(app) as client,
        httpx.AsyncClient(transport=transport, base_url=SANDBOX) as sandbox,
    ):
        worker = Worker(
            store,
            DeliverySettings(backoff_base_seconds=1, backoff_max_seconds=2),
            clock=clock,
            client=sandbox,
            sandbox_url=SANDBOX,
            metrics=metrics,
        )
        yield Rig(client, sandbox, metrics, store, worker, clock, key)


async def test_graph_ingest_counts_stored_duplicates_and_rejected(sqlite_url: str) -> None:
    async with rig(sqlite_url) as r:
        now = r.clock.now()
        first = [purchase(now, "order-1"), purchase(now, "order-2")]
        assert (await r.send(first)).status_code == 200
        assert (await r.send([purchase(now, "order-2")])).status_code == 200  # a duplicate
        bad = purchase(now, "order-3", event_name="")
        assert (await r.send([purchase(now, "order-4"), bad])).status_code == 400
        m = await r.scrape()
        labels = {"dataset": DATASET, "source": "graph_api"}
        assert m.value("signalyard_ingest_events_received_total", **labels) == 5
        assert m.value("signalyard_ingest_events_stored_total", **labels) == 2
        assert m.value("signalyard_ingest_events_duplicates_total", **labels) == 1
        assert m.value("signalyard_ingest_events_rejected_total", **labels) == 2  # refused whole
        # requests refused before a dataset is known count only as requests
        assert (await r.client.post(EVENTS, params={"access_token": "nope"})).status_code >= 400
        m = await r.scrape()
        assert m.value("signalyard_ingest_events_received_total") == 5
        latency = "signalyard_ingest_request_duration_seconds_count"
        assert m.value(latency, endpoint="graph_api", status="2xx") == 2
        assert m.value(latency, endpoint="graph_api", status="4xx") == 2
        assert m.value("signalyard_ingest_request_duration_seconds_sum", endpoint="graph_api") > 0
        # the store's view: two queued events, the oldest 60 s before `now` (and 20 s of scrapes)
        q = {"dataset": DATASET, "destination": "meta-sandbox"}
        assert m.value("signalyard_destination_queued_events", **q) == 2
        assert m.value("signalyard_destination_due_events", **q) == 2
        assert m.value("signalyard_destination_held_events", **q) == 0
        assert m.value("signalyard_destination_dead_letters", **q) == 0
        assert m.value("signalyard_destination_oldest_queued_event_age_seconds", **q) == 80
        assert m.value("signalyard_destination_state", state="active", **q) == 1
        assert m.value("signalyard_destination_state", state="paused", **q) == 0
        assert m.value("signalyard_destination_info", destination_id="1", kind="meta", **q) == 1
        assert m.value("signalyard_store_up") == 1


async def test_delivery_counters_after_the_worker_delivered_to_the_sandbox(
    sqlite_url: str,
) -> None:
    async with rig(sqlite_url) as r:
        now = r.clock.now()
        assert (await r.send([purchase(now, "a-1"), purchase(now, "a-2")])).status_code == 200
        r.clock.advance(3)
        assert await r.worker.run_once() == 2
        summary = (await r.sandbox.get("/sandbox/meta/_sandbox/summary")).json()
        assert summary["totals"]["events_received"] == 2
        m = await r.scrape()
        d = {"dataset": DATASET, "destination": "meta-sandbox"}
        assert m.value("signalyard_delivery_requests_total", outcome="delivered", **d) == 1
        assert m.value("signalyard_delivery_events_total", outcome="delivered", **d) == 2
        assert m.value("signalyard_delivery_latency_seconds_count", **d) == 2
        assert m.value("signalyard_delivery_latency_seconds_sum", **d) == 6  # 3 s each
        assert m.value("signalyard_delivery_latency_seconds_bucket", le="1.0", **d) == 0
        assert m.value("signalyard_delivery_latency_seconds_bucket", le="5.0", **d) == 2
        assert m.value("signalyard_destination_queued_events", **d) == 0
        # every outcome's series starts at 0, so a first dead letter shows in rate()/increase()
        zero = frozenset({**d, "outcome": "rejected"}.items())
        assert m.samples[("signalyard_delivery_events_total", zero)] == 0

        # a transient failure: retried
        await r.sandbox.post(
            "/sandbox/meta/_sandbox/faults", json={"kind": "server_error", "count": 1}
        )
        assert (await r.send([purchase(now, "b-1")])).status_code == 200
        await r.worker.run_once()
        m = await r.scrape()
        assert m.value("signalyard_delivery_requests_total", outcome="retry", **d) == 1
        assert m.value("signalyard_delivery_events_total", outcome="retry", **d) == 1
        assert m.value("signalyard_destination_queued_events", **d) == 1
        await r.worker.run_once()  # due again after the backoff (scraping moved the clock)
        m = await r.scrape()
        assert m.value("signalyard_delivery_events_total", outcome="delivered", **d) == 3

        # throttled: held back, not an attempt
        throttle = {"kind": "throttle", "code": 17, "count": 1}
        await r.sandbox.post("/sandbox/meta/_sandbox/faults", json=throttle)
        assert (await r.send([purchase(now, "c-1")])).status_code == 200
        await r.worker.run_once()
        m = await r.scrape()
        assert m.value("signalyard_delivery_requests_total", outcome="throttled", **d) == 1
        assert m.value("signalyard_delivery_events_total", outcome="throttled", **d) == 1
        r.clock.advance(3600)
        await r.worker.run_once()

        # one invalid event in a batch: bisected, only it is dead-lettered
        await r.sandbox.post(
            "/sandbox/meta/_sandbox/faults", json={"kind": "invalid_event", "event_ids": ["x-2"]}
        )
        batch = [purchase(r.clock.now(), f"x-{i}") for i in range(4)]
        assert (await r.send(batch)).status_code == 200
        await r.worker.run_once()
        m = await r.scrape()
        assert m.value("signalyard_delivery_events_total", outcome="rejected", **d) == 1
        assert m.value("signalyard_delivery_requests_total", outcome="rejected", **d) >= 2
        assert m.value("signalyard_destination_dead_letters", **d) == 1

        # an expired token: the destination pauses, its events stay queued
        await r.sandbox.post("/sandbox/meta/_sandbox/faults", json={"kind": "expired_token"})
        assert (await r.send([purchase(r.clock.now(), "p-1")])).status_code == 200
        await r.worker.run_once()
        m = await r.scrape()
        assert m.value("signalyard_delivery_requests_total", outcome="paused", **d) == 1
        assert m.value("signalyard_delivery_events_total", outcome="paused", **d) == 1
        assert m.value("signalyard_destination_state", state="paused", **d) == 1
        assert m.value("signalyard_destination_state", state="active", **d) == 0
        assert m.value("signalyard_destination_queued_events", **d) == 1


async def test_events_too_old_for_the_platform_count_as_expired(sqlite_url: str) -> None:
    async with rig(sqlite_url) as r:
        now = r.clock.now()
        assert (await r.send([purchase(now, "old-1")])).status_code == 200
        r.clock.advance(7 * 86400)
        await r.worker.run_once()
        m = await r.scrape()
        d = {"dataset": DATASET, "destination": "meta-sandbox"}
        assert m.value("signalyard_delivery_events_total", outcome="expired", **d) == 1
        assert m.value("signalyard_delivery_requests_total", **d) == 0
        assert m.value("signalyard_destination_dead_letters", **d) == 1


async def test_the_worker_of_the_app_counts_its_deliveries(sqlite_url: str) -> None:
    """The app's own worker (``run_worker=True``) reports to the app's ``/metrics``."""
    clock = SystemClock()
    key = await seed(sqlite_url, clock.now())
    transport = httpx.ASGITransport(app=Starlette())  # pointed at the gateway below
    settings = Settings(
        database_url=sqlite_url, sandbox=True, delivery=DeliverySettings(poll_seconds=0.05)
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
            event = purchase(clock.now(), "flow-1")
            r = await client.post(EVENTS, params={"access_token": key}, json={"data": [event]})
            assert r.status_code == 200, r.text
            delivered = "signalyard_delivery_events_total"
            deadline = time.monotonic() + 10
            m = await scrape(client)
            while time.monotonic() < deadline and not m.value(delivered, outcome="delivered"):
                await anyio.sleep(0.05)
                m = await scrape(client)
            assert m.value(delivered, outcome="delivered", destination="meta-sandbox") == 1
            assert m.value("signalyard_delivery_latency_seconds_count") == 1
            assert m.value("signalyard_ingest_events_stored_total", source="graph_api") == 1


async def test_labels_are_bounded_and_carry_no_personal_data(sqlite_url: str) -> None:
    async with rig(sqlite_url) as r:
        now = r.clock.now()
        assert (await r.send([purchase(now, "warm-up")])).status_code == 200
        await r.worker.run_once()
        before = set((await r.scrape()).samples)
        ids: list[str] = []
        for request in range(10):
            events = []
            for i in range(100):
                n = request * 100 + i
                event = purchase(now, f"evt-{n:04d}-{os.urandom(4).hex()}")
                event["user_data"] = {
                    **event["user_data"],
                    "em": [f"person{n}@example.org"],
                    "client_ip_address": f"198.51.{n // 250}.{n % 250}",
                }
                events.append(event)
                ids.append(event["event_id"])
            assert (await r.send(events)).status_code == 200
        # refused requests, with made-up dataset ids and tokens, and a refused event
        for n in range(50):
            await r.client.post(f"/v26.0/{9_000_000 + n}/events", params={"access_token": f"k{n}"})
        bad = purchase(now, "refused-1", event_name="")
        assert (await r.send([bad])).status_code == 400
        await r.worker.run_once()
        m = await r.scrape()
        new = {name for name, _ in set(m.samples) - before}
        # the only new series: the refusals' status class (4xx) of the Graph endpoint
        assert new <= {
            "signalyard_ingest_request_duration_seconds_bucket",
            "signalyard_ingest_request_duration_seconds_count",
            "signalyard_ingest_request_duration_seconds_sum",
            "signalyard_ingest_request_duration_seconds_created",
        }, new
        assert len(set(m.samples) - before) <= len(REQUEST_BUCKETS) + 4
        assert m.value("signalyard_ingest_events_stored_total") == 1001
        assert m.value("signalyard_delivery_events_total", outcome="delivered") == 1001
        for name, labels in m.samples:
            if name.startswith("signalyard_"):
                assert {k for k, _ in labels} <= ALLOWED_LABELS, (name, labels)
        text = m.text.lower()
        for personal in (*PLAINTEXT, EMAIL, IP, "198.51.", "example.org", "person1", "jane"):
            assert personal.lower() not in text, personal
        assert not any(i in m.text for i in ids[::50])
        assert "evt-" not in m.text and "9000001" not in m.text and r.key not in m.text


async def test_the_queues_are_read_once_per_few_seconds(sqlite_url: str) -> None:
    async with rig(sqlite_url) as r:
        queues = r.metrics.queues
        assert queues is not None
        await scrape(r.client)
        assert queues.reads == 1
        await asyncio.gather(*(scrape(r.client) for _ in range(20)))  # a scrape storm
        assert queues.reads == 1
        r.clock.advance(4)
        await scrape(r.client)
        assert queues.reads == 1
        r.clock.advance(2)
        await scrape(r.client)
        assert queues.reads == 2


class FlakyStore(SQLiteStore):
    broken = False

    async def list_destinations(self, dataset_id: str | None = None) -> list[Destination]:
        if self.broken:
            raise OSError("disk I/O error")
        return await super().list_destinations(dataset_id)


async def test_a_failing_store_still_serves_the_counters(sqlite_url: str) -> None:
    store = FlakyStore(sqlite_url)
    async with rig(sqlite_url, store) as r:
        assert (await r.send([purchase(r.clock.now())])).status_code == 200
        store.broken = True
        m = await r.scrape()
        assert m.value("signalyard_store_up") == 0
        assert not m.has("signalyard_destination_queued_events")
        assert m.value("signalyard_ingest_events_stored_total") == 1
        assert "disk" not in m.text
        store.broken = False
        m = await r.scrape()
        assert m.value("signalyard_store_up") == 1
        assert m.value("signalyard_destination_queued_events") == 1


async def test_apps_in_one_process_keep_their_own_metrics(tmp_path: Path) -> None:
    """Each app has its own registry: building many never collides, counts never mix."""
    from signalyard.store import migrate

    urls = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        migrate.upgrade(url)
        urls.append(url)
    clock = FrozenClock(start=float(int(time.time())))
    keys = [await seed(url, clock.now(), destination=False) for url in urls]
    apps = [
        create_app(Settings(database_url=u), SQLiteStore(u), clock=clock, run_worker=False)
        for u in urls
    ]
    async with running(apps[0]) as a, running(apps[1]) as b:
        event = purchase(clock.now())
        assert (
            await a.post(EVENTS, params={"access_token": keys[0]}, json={"data": [event]})
        ).status_code == 200
        assert (await scrape(a)).value("signalyard_ingest_events_stored_total") == 1
        assert (await scrape(b)).value("signalyard_ingest_events_stored_total") == 0


async def test_a_failing_handler_is_timed_as_5xx() -> None:
    metrics = Metrics(timer=iter([1.0, 1.25, 2.0, 2.5]).__next__)

    async def fails(request: Request) -> Response:
        raise RuntimeError("boom")

    async def answers(request: Request) -> Response:
        return Response(status_code=204)

    request = Request({"type": "http", "method": "POST", "headers": []})
    with pytest.raises(RuntimeError):
        await metrics.timed("graph_api", fails)(request)
    await metrics.timed("graph_api", answers)(request)
    app = Starlette()
    app.add_route("/metrics", metrics.endpoint)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as c:
        m = await scrape(c)
    count = "signalyard_ingest_request_duration_seconds_count"
    assert m.value(count, endpoint="graph_api", status="5xx") == 1
    assert m.value(count, endpoint="graph_api", status="2xx") == 1
    assert m.value("signalyard_ingest_request_duration_seconds_sum", status="5xx") == 0.25
    assert m.value("signalyard_ingest_request_duration_seconds_sum", status="2xx") == 0.5
    assert not m.has("signalyard_store_up")  # no store watched


async def test_openmetrics_is_served_when_asked(sqlite_url: str) -> None:
    async with rig(sqlite_url) as r:
        accept = "application/openmetrics-text; version=1.0.0"
        answer = await r.client.get("/metrics", headers={"accept": accept})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/openmetrics-text")
        assert answer.text.endswith("# EOF\n")


COUNT = """
import sys
from signalyard.metrics import REQUEST_BUCKETS, Metrics
m = Metrics()
m.ingested("1234567890", "graph_api", int(sys.argv[1]), int(sys.argv[1]) - 1)
"""
SHOW = """
import asyncio
from starlette.requests import Request
from signalyard.metrics import REQUEST_BUCKETS, Metrics
answer = asyncio.run(Metrics().endpoint(Request({"type": "http", "headers": []})))
print(answer.body.decode())
"""


def test_processes_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, any process's ``/metrics`` shows every process's counts
    (as behind ``serve --workers N``)."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(code: str, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(COUNT, "3")
    run(COUNT, "4")
    m = Scrape(run(SHOW))
    labels = {"dataset": DATASET, "source": "graph_api"}
    assert m.value("signalyard_ingest_events_received_total", **labels) == 7
    assert m.value("signalyard_ingest_events_stored_total", **labels) == 5
    assert m.value("signalyard_ingest_events_duplicates_total", **labels) == 2
