"""The ASGI application: ingest routes, the mounted sandbox, health, and the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signalyard import gc_tuning
from signalyard.clock import Clock, SystemClock
from signalyard.dashboard import create_dashboard
from signalyard.delivery.worker import Worker
from signalyard.insights.alerts import AlertEngine
from signalyard.insights.recorder import StatsRecorder
from signalyard.metrics import Metrics
from signalyard.runtime import before_prune
from signalyard.sandbox.registry import SANDBOXES, mount_path
from signalyard.settings import Settings, is_loopback
from signalyard.sinks import REGISTRY
from signalyard.sources.auth import KeyChecker
from signalyard.sources.body import BodyReader
from signalyard.sources.browser import SCRIPT
from signalyard.sources.collect import CollectEndpoint
from signalyard.sources.consent_api import ConsentEndpoint
from signalyard.sources.graph_api import GraphEndpoint
from signalyard.sources.ingest import Ingestor
from signalyard.sources.orders import OrderFlow
from signalyard.sources.shopify import ShopifyWebhook
from signalyard.sources.turns import Turns
from signalyard.sources.woocommerce import WooCommerceWebhook
from signalyard.store.base import CommitFailure, Store

log = logging.getLogger("signalyard")
MOUNTED_SANDBOX_EVENTS = 50_000
"""Events the sandboxes mounted by ``serve`` remember together (about 1 KB each; each
sandbox an equal part)."""
MOUNTED_SANDBOX_BYTES = 64 * 1024 * 1024
"""... and what they may weigh together (the oldest are dropped first)."""
READY_PROBE_SECONDS = 5.0
"""While a failed commit is kept, ``/readyz`` tries one small write at most this often."""


class WriteProbe:
    """Whether the store's writes fail, found out again: while a failed commit is kept,
    :meth:`failure` commits one small real write (``Store.probe_write``) at most every
    :data:`READY_PROBE_SECONDS`, one at a time, so a process that gets no writes (a load
    balancer took it out of rotation, or it runs no worker) becomes ready once writes work."""

    def __init__(self, store: Store, clock: Clock, interval: float = READY_PROBE_SECONDS):
        self._store = store
        self._clock = clock
        self._interval = interval
        self._next = float("-inf")
        self._running = False

    async def failure(self) -> CommitFailure | None:
        failure = self._store.last_commit_failure
        if failure is None or self._running or self._clock.monotonic() < self._next:
            return failure
        self._running = True
        self._next = self._clock.monotonic() + self._interval
        try:
            await self._store.probe_write()
        except Exception:  # the store unreachable: still failing, as the record says
            log.debug("The readiness write probe failed.", exc_info=True)
        finally:
            self._running = False
        return self._store.last_commit_failure


def _warn_if_public_sandbox(settings: Settings) -> None:
    if not is_loopback(settings.host):
        log.warning(
            "THE SANDBOXES ARE PUBLIC: sandbox_public is set and host %s is not a loopback"
            " address, so anyone reaching this port can post events to /sandbox/<kind> with"
            " any token, read the delivered events (IP addresses, user agents, fbp/fbc, click"
            " ids) at /sandbox/<kind>/_sandbox/events, inject faults and wipe their state."
            " Unset sandbox_public unless this network is trusted.",
            settings.host,
        )


FORWARDING_HEADERS = frozenset(
    {
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-forwarded-port",
        b"x-real-ip",
        b"via",
        b"cf-connecting-ip",
        b"true-client-ip",
        b"x-client-ip",
    }
)
"""Headers a reverse proxy adds: a request carrying one came through a proxy, not straight
from this machine."""


def _local_only(app: ASGIApp) -> ASGIApp:
    """The mounted sandbox on a loopback host answers only requests made straight to the port:
    one that came through a reverse proxy (which makes a loopback port public) is answered 404,
    as if nothing were mounted."""
    not_found = PlainTextResponse("Not Found", status_code=404)
    told = False

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal told
        if scope["type"] == "http" and any(
            name in FORWARDING_HEADERS for name, _ in scope["headers"]
        ):
            if not told:
                told = True
                log.info(
                    "A request to a sandbox came through a reverse proxy (it carries a"
                    " forwarding header such as X-Forwarded-For): answered 404. The sandboxes"
                    " answer only local requests made straight to the port (set"
                    " sandbox_public to let them answer anyone)."
                )
            await not_found(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


UNREAD_CLOSE_BYTES = 64 * 1024
"""An answer given before more than this much of its request's body arrived closes the
connection: keeping it open would make the server read and throw away the rest (an 8 MiB
refused body, a 30 MB sandbox flood) just to reach the next request."""


class CloseUnread:
    """Adds ``Connection: close`` to an answer sent while much of the request's announced body
    has not been received (a refusal before the body is read)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        announced = 0
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                announced = int(value)
        if announced <= UNREAD_CLOSE_BYTES:
            await app(scope, receive, send)
            return
        received = 0
        finished = False

        async def counting_receive() -> Message:
            nonlocal received, finished
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                finished = finished or not message.get("more_body", False)
            return message

        async def closing_send(message: Message) -> None:
            if (
                message["type"] == "http.response.start"
                and not finished
                and announced - received > UNREAD_CLOSE_BYTES
            ):
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await app(scope, counting_receive, closing_send)


def create_app(
    settings: Settings,
    store: Store,
    *,
    clock: Clock | None = None,
    http_client: httpx.AsyncClient | None = None,
    run_worker: bool | None = None,
    tune_gc: bool = False,
    metrics: Metrics | None = None,
) -> Starlette:
    """Build the gateway. The store is opened and closed by the app's lifespan. ``tune_gc``
    (for a serving process, not for tests) applies :mod:`signalyard.gc_tuning` at start-up."""
    clock = clock or SystemClock()
    worker_enabled = settings.worker if run_worker is None else run_worker
    state: dict[str, Worker] = {}
    metrics = metrics or Metrics()
    metrics.watch_queues(store, clock)
    recorder = StatsRecorder(store)

    def wake() -> None:
        worker = state.get("worker")
        if worker is not None:
            worker.wake()

    turns = Turns()  # one per process: the endpoints' decoding and the ingestor's cleaning
    ingestor = Ingestor(
        store,
        clock,
        default_country=settings.default_country,
        max_future_seconds=settings.max_future_seconds,
        on_stored=wake,
        metrics=metrics,
        recorder=recorder,
        turns=turns,
        # What each kind of destination needs beyond the base hashes: made at ingest for
        # the datasets that have such a destination.
        identity_by_kind={kind: spec.identity for kind, spec in REGISTRY.items()},
        max_age_by_kind={kind: spec.max_age_seconds for kind, spec in REGISTRY.items()},
    )
    keys = KeyChecker(store, clock)
    bodies = BodyReader.configured(
        in_flight_bytes=settings.bodies_in_flight_bytes,
        wait_seconds=settings.body_wait_seconds,
        read_timeout=settings.body_read_timeout_seconds,
        largest_body=settings.max_body_bytes,
        min_rate=settings.body_min_bytes_per_second,
        unkeyed_share=settings.bodies_unkeyed_share,
        small_body=settings.collect.max_body_bytes,
        small_bytes=settings.collect.bodies_in_flight_bytes,
        unkeyed_deadline=settings.body_unkeyed_deadline_seconds,
        turns=turns,
    )
    consent_api = ConsentEndpoint(store, ingestor, keys, clock, bodies=bodies)
    graph = GraphEndpoint(
        store,
        ingestor,
        keys,
        clock,
        max_body_bytes=settings.max_body_bytes,
        max_events=settings.max_events_per_request,
        bodies=bodies,
    )

    collect = CollectEndpoint(
        store, ingestor, clock, settings.collect, script=SCRIPT, bodies=bodies
    )
    bodies.peer = collect.client_ip  # per-peer body caps see past collect.trusted_proxies

    order_flow = OrderFlow(store, ingestor)
    shopify = ShopifyWebhook(
        store, order_flow, clock, max_body_bytes=settings.max_body_bytes, bodies=bodies
    )
    woocommerce = WooCommerceWebhook(
        store, order_flow, clock, max_body_bytes=settings.max_body_bytes, bodies=bodies
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    probe = WriteProbe(store, clock)

    async def readyz(request: Request) -> Response:
        # Reads may work while every write fails (a full disk): a failed commit is kept
        # until a write commits, and readiness makes one now and then to find out.
        failure = await probe.failure()
        if failure is not None:
            return JSONResponse(
                {
                    "status": "store failing",
                    "reason": f"the last commit failed: {failure.reason}",
                    "since": round(failure.at, 3),
                },
                status_code=503,
            )
        try:
            await store.list_datasets()
        except Exception:
            return JSONResponse({"status": "store unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    dashboard = create_dashboard(
        store,
        clock,
        settings.dashboard,
        client_ip=collect.client_ip,
        on_replay=wake,
        sandbox_url=settings.resolved_sandbox_url,
        attribution=settings.attribution,
    )
    routes: list[BaseRoute] = [
        Route("/sy.js", collect.serve_script, methods=["GET", "HEAD"]),
        Route("/collect/{dataset_id}", metrics.timed("browser", collect.collect), methods=["POST"]),
        Route("/collect/{dataset_id}", collect.preflight, methods=["OPTIONS"]),
        Route(
            "/collect/{dataset_id}/consent",
            metrics.timed("browser_consent", collect.consent),
            methods=["POST"],
        ),
        Route("/collect/{dataset_id}/consent", collect.preflight, methods=["OPTIONS"]),
        Route("/consent/{dataset_id}", consent_api.handle, methods=["POST"]),
        Route(
            "/webhooks/shopify/{dataset_id}",
            metrics.timed("shopify", shopify.handle),
            methods=["POST"],
        ),
        Route(
            "/webhooks/woocommerce/{dataset_id}",
            metrics.timed("woocommerce", woocommerce.handle),
            methods=["POST"],
        ),
        Mount("/dashboard", app=dashboard),
        Route(
            "/{version}/{dataset_id}/events",
            metrics.timed("graph_api", graph.handle),
            methods=["POST"],
        ),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics.endpoint),
    ]
    if settings.sandbox_mounted:
        _warn_if_public_sandbox(settings)
        # Mounted in a serving gateway, the sandboxes keep fewer events than standalone, and
        # share one bound. Their bodies go through the gateway's reader: the same budget (as
        # bodies read before any key is checked) and the same timeouts.
        share = len(SANDBOXES)
        for kind, sandbox in SANDBOXES.items():
            sandbox_state = sandbox.new_state(
                max_events=MOUNTED_SANDBOX_EVENTS // share,
                max_bytes=MOUNTED_SANDBOX_BYTES // share,
                max_dedup_keys=MOUNTED_SANDBOX_EVENTS // share,
            )
            sandbox_app = sandbox.create_app(
                state=sandbox_state, max_body_bytes=settings.max_body_bytes, bodies=bodies
            )
            guarded = sandbox_app if settings.sandbox_public else _local_only(sandbox_app)
            routes.append(Mount(mount_path(kind), app=guarded))
    elif settings.sandbox:
        log.info(
            "Sandboxes not mounted: host %s is not a loopback address (set sandbox_public"
            " to mount them anyway, or run `signalyard sandbox` and point sandbox_url at it)",
            settings.host,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        if tune_gc:
            gc_tuning.tune()
        client = http_client or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32)
        )
        stop = asyncio.Event()
        task = None
        alert_task = None
        if worker_enabled:
            worker = Worker(
                store,
                settings.delivery,
                clock=clock,
                client=client,
                sandbox_url=settings.resolved_sandbox_url,
                metrics=metrics,
                recorder=recorder,
                before_prune=before_prune(settings, store, clock),
            )
            state["worker"] = worker
            task = asyncio.create_task(worker.run(stop))
            alert_task = asyncio.create_task(
                AlertEngine(store, clock, settings.alerts, client).run(stop)
            )
        stats = asyncio.create_task(recorder.run(stop))
        collector = asyncio.create_task(gc_tuning.collect_periodically(stop)) if tune_gc else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            if alert_task is not None:
                await alert_task
            close = getattr(dashboard.state, "aclose", None)
            if close is not None:
                await close()  # attribution reports computing for a page
            await stats  # its last flush, before the store closes
            if collector is not None:
                await collector
            if http_client is None:
                await client.aclose()
            await store.close()

    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(CloseUnread)])


def from_environment() -> Starlette:
    """The app as configured by ``SIGNALYARD_*`` (and ``SIGNALYARD_CONFIG``): the factory each
    process of ``signalyard serve --workers N`` builds."""
    from signalyard.runtime import make_store
    from signalyard.settings import load_settings

    gc_tuning.limit_malloc_arenas()  # before the store's thread starts
    settings = load_settings()
    return create_app(settings, make_store(settings), tune_gc=True)
