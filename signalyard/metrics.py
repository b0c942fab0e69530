"""Prometheus metrics: what ingest and delivery did, and what the queues hold.

One :class:`Metrics` per app (its own ``CollectorRegistry``, never the global one, so many
apps can live in one process). Sources count through :class:`~signalyard.sources.ingest.
Ingestor`, the worker counts what it settles, and the queue gauges are read from
``Store.status`` when scraped, at most once per :data:`STATUS_TTL_SECONDS`.

Labels are bounded and carry no personal data: dataset id, destination name, source, the
ingest endpoint, a status class, an outcome. Never an event id, an IP, user data or an error
message. See docs/metrics.md for every metric.

With ``PROMETHEUS_MULTIPROC_DIR`` set (before the processes start), counters and histograms
are written to that directory by every process and ``/metrics`` adds them up, so the
processes of ``serve --workers N`` (and ``signalyard worker`` on the same host) are one
target.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response

from signalyard.clock import Clock, SystemClock
from signalyard.insights.views import QueueView, queues
from signalyard.outcome import Delivered, Outcome, Paused, Rejected, Retry
from signalyard.store.base import ClaimedEvent, Destination, Store

log = logging.getLogger("signalyard.metrics")

STATUS_TTL_SECONDS = 5.0
"""A scrape reads the queues from the store at most this often (``Store.status`` scans)."""
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Ingest request latency (seconds): acknowledging means a synced commit, a few ms."""
DELIVERY_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)
"""Received → delivered (seconds): from an immediate send to a day of retries."""
DESTINATION_STATES = ("active", "paused")
REQUEST_OUTCOMES = ("delivered", "retry", "throttled", "rejected", "paused")
EVENT_OUTCOMES = (*REQUEST_OUTCOMES, "expired")

Handler = Callable[[Request], Awaitable[Response]]


def outcome_label(outcome: Outcome) -> str:
    """The outcome of a delivery request as a label: delivered, retry, throttled, rejected,
    paused."""
    if isinstance(outcome, Delivered):
        return "delivered"
    if isinstance(outcome, Retry):
        return "throttled" if outcome.throttled else "retry"
    if isinstance(outcome, Rejected):
        return "rejected"
    if isinstance(outcome, Paused):
        return "paused"
    raise TypeError(f"not an outcome: {type(outcome).__name__}")


def multiprocess_dir() -> str | None:
    """The directory shared by the processes, when multiprocess mode is on."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


class QueueCollector:
    """Queue gauges per destination, from one read of the queues cached for ``ttl`` seconds
    (:func:`signalyard.insights.views.queues`: only the queued, held and dead outbox rows,
    through their partial indexes, never the delivered history). :meth:`refresh` (async)
    reads the store; :meth:`collect` (what the registry calls) only reads the cache. A
    failing store gives ``signalyard_store_up 0`` and no queue gauges (the counters are
    still served); so does a store whose last commit failed (reads can work while every
    write fails, on a full disk), until a write commits again."""

    def __init__(self, store: Store, clock: Clock, *, ttl: float = STATUS_TTL_SECONDS) -> None:
        self.store = store
        self.clock = clock
        self.ttl = ttl
        self.reads = 0
        """How many times the store was asked (for tests)."""
        self._lock = asyncio.Lock()
        self._read_at = -math.inf
        self._now = 0.0
        self._statuses: list[QueueView] | None = None
        self._seconds = 0.0

    async def refresh(self) -> None:
        async with self._lock:  # concurrent scrapes wait for the one read in progress
            if self.clock.monotonic() - self._read_at < self.ttl:
                return
            now = self.clock.now()
            start = time.perf_counter()
            self.reads += 1
            try:
                statuses: list[QueueView] | None = await queues(self.store, None, now=now)
            except Exception as error:
                log.warning("Reading the queues failed. error=%s", type(error).__name__)
                statuses = None
            self._seconds = time.perf_counter() - start
            self._statuses = statuses
            self._now = now
            self._read_at = self.clock.monotonic()

    def collect(self) -> Iterable[Metric]:
        labels = ["dataset", "destination"]
        up = GaugeMetricFamily(
            "signalyard_store_up",
            "1 if the last read of the queues succeeded and the last commit did not fail.",
        )
        failing = self.store.last_commit_failure is not None
        up.add_metric([], 0.0 if self._statuses is None or failing else 1.0)
        took = GaugeMetricFamily(
            "signalyard_store_status_seconds", "How long the last read of the queues took."
        )
        took.add_metric([], self._seconds)
        yield up
        yield took
        if self._statuses is None:
            return
        info = GaugeMetricFamily(
            "signalyard_destination_info",
            "Always 1: a destination's id and kind.",
            labels=[*labels, "destination_id", "kind"],
        )
        state = GaugeMetricFamily(
            "signalyard_destination_state",
            "1 for the destination's current state (active or paused), 0 for the others.",
            labels=[*labels, "state"],
        )
        throttled = GaugeMetricFamily(
            "signalyard_destination_throttled",
            "1 while the platform's rate limit holds the destination back.",
            labels=labels,
        )
        gauges = {
            "queued": GaugeMetricFamily(
                "signalyard_destination_queued_events",
                "Events waiting to be sent (due now or retrying later).",
                labels=labels,
            ),
            "due": GaugeMetricFamily(
                "signalyard_destination_due_events",
                "Queued events due now.",
                labels=labels,
            ),
            "held": GaugeMetricFamily(
                "signalyard_destination_held_events",
                "Events held until consent arrives.",
                labels=labels,
            ),
            "dead": GaugeMetricFamily(
                "signalyard_destination_dead_letters",
                "Dead letters: events the platform refused for good (replayable).",
                labels=labels,
            ),
        }
        oldest = GaugeMetricFamily(
            "signalyard_destination_oldest_queued_event_age_seconds",
            "Age (from its event_time) of the oldest queued event; 0 when none is queued.",
            labels=labels,
        )
        for s in self._statuses:
            d = s.destination
            values = [d.dataset_id, d.name]
            info.add_metric([*values, str(d.id), d.kind], 1.0)
            for name in sorted({*DESTINATION_STATES, d.state}):
                state.add_metric([*values, name], 1.0 if d.state == name else 0.0)
            held_back = d.throttled_until is not None and d.throttled_until > self._now
            throttled.add_metric(values, 1.0 if held_back else 0.0)
            gauges["queued"].add_metric(values, float(s.queued))
            gauges["due"].add_metric(values, float(s.due))
            gauges["held"].add_metric(values, float(s.held))
            gauges["dead"].add_metric(values, float(s.dead_letters))
            oldest_time = s.oldest_queued_event_time
            age = 0.0 if oldest_time is None else max(0.0, self._now - oldest_time)
            oldest.add_metric(values, age)
        yield info
        yield state
        yield throttled
        yield from gauges.values()
        yield oldest


class Metrics:
    """The metrics of one app (or one worker process)."""

    def __init__(self, *, timer: Callable[[], float] = time.perf_counter) -> None:
        self.registry = CollectorRegistry()
        self.timer = timer
        self.queues: QueueCollector | None = None
        self._seen: set[tuple[str, ...]] = set()
        """Label sets whose series were started at 0 (so the first increment shows in rate())."""
        r = self.registry
        ingest = ["dataset", "source"]
        self.received = Counter(
            "signalyard_ingest_events_received",
            "Events received by a source for a known dataset (stored + duplicates + rejected).",
            ingest,
            registry=r,
        )
        self.stored = Counter(
            "signalyard_ingest_events_stored",
            "Events committed to the store (and queued for their destinations).",
            ingest,
            registry=r,
        )
        self.duplicates = Counter(
            "signalyard_ingest_events_duplicates",
            "Events not stored again: same dataset, event_name and event_id within 48 hours.",
            ingest,
            registry=r,
        )
        self.rejected = Counter(
            "signalyard_ingest_events_rejected",
            "Events of requests refused by validation (a request is refused whole).",
            ingest,
            registry=r,
        )
        self.request_seconds = Histogram(
            "signalyard_ingest_request_duration_seconds",
            "Time to answer an ingest request, by endpoint and status class (2xx, 4xx, 5xx).",
            ["endpoint", "status"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        delivery = ["dataset", "destination", "outcome"]
        self.delivery_requests = Counter(
            "signalyard_delivery_requests",
            "Requests sent to a destination, by outcome: delivered, retry, throttled,"
            " rejected, paused.",
            delivery,
            registry=r,
        )
        self.delivery_events = Counter(
            "signalyard_delivery_events",
            "Events settled, by outcome: delivered, retry, throttled, rejected (dead-lettered),"
            " expired (dead-lettered: too old for the platform), paused (back to the queue).",
            delivery,
            registry=r,
        )
        self.delivery_latency = Histogram(
            "signalyard_delivery_latency_seconds",
            "From an event's receipt by Signalyard to its delivery to the destination.",
            ["dataset", "destination"],
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        if multiprocess_dir() is None:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

    def watch_queues(self, store: Store, clock: Clock | None = None) -> QueueCollector:
        """Serve the queue gauges of ``store`` too (once per app)."""
        self.queues = QueueCollector(store, clock or SystemClock())
        self.registry.register(self.queues)
        return self.queues

    # ingest

    def _start_ingest(self, dataset_id: str, source: str) -> None:
        if ("ingest", dataset_id, source) not in self._seen:
            self._seen.add(("ingest", dataset_id, source))
            for counter in (self.received, self.stored, self.duplicates, self.rejected):
                counter.labels(dataset_id, source)

    def _start_delivery(self, destination: Destination) -> None:
        labels = (destination.dataset_id, destination.name)
        if ("delivery", *labels) not in self._seen:
            self._seen.add(("delivery", *labels))
            for outcome in REQUEST_OUTCOMES:
                self.delivery_requests.labels(*labels, outcome)
            for outcome in EVENT_OUTCOMES:
                self.delivery_events.labels(*labels, outcome)

    def ingested(self, dataset_id: str, source: str, received: int, stored: int) -> None:
        self._start_ingest(dataset_id, source)
        self.received.labels(dataset_id, source).inc(received)
        self.stored.labels(dataset_id, source).inc(stored)
        self.duplicates.labels(dataset_id, source).inc(received - stored)

    def ingest_rejected(self, dataset_id: str, source: str, events: int) -> None:
        self._start_ingest(dataset_id, source)
        self.received.labels(dataset_id, source).inc(events)
        self.rejected.labels(dataset_id, source).inc(events)

    def timed(self, endpoint: str, handler: Handler) -> Handler:
        """``handler``, with its answers timed as ``endpoint`` (a constant, not the path)."""
        timer = self.timer
        histogram = self.request_seconds

        async def timed_handler(request: Request) -> Response:
            start = timer()
            status = "5xx"
            try:
                response = await handler(request)
                status = f"{response.status_code // 100}xx"
                return response
            finally:
                histogram.labels(endpoint, status).observe(timer() - start)

        return timed_handler

    # delivery

    def delivery_request(self, destination: Destination, outcome: str) -> None:
        self._start_delivery(destination)
        self.delivery_requests.labels(destination.dataset_id, destination.name, outcome).inc()

    def settled(
        self, destination: Destination, outcome: str, events: Sequence[ClaimedEvent], *, now: float
    ) -> None:
        """``events`` were settled with ``outcome`` at ``now`` (a label of
        :func:`outcome_label`, or expired)."""
        self._start_delivery(destination)
        labels = (destination.dataset_id, destination.name)
        self.delivery_events.labels(*labels, outcome).inc(len(events))
        if outcome == "delivered":
            latency = self.delivery_latency.labels(*labels)
            for c in events:
                latency.observe(max(0.0, now - c.received_at))

    # exposition

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``."""
        if self.queues is not None:
            await self.queues.refresh()
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(self._exposed()), headers={"Content-Type": content_type})

    def _exposed(self) -> CollectorRegistry:
        path = multiprocess_dir()
        if path is None:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        if self.queues is not None:
            registry.register(self.queues)
        return registry
