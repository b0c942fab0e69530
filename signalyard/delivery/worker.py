"""The delivery worker: claim due events, batch, send, apply the outcomes.

Each destination has its own loop (:meth:`Worker.run`), so a slow platform never holds the
others back. A cycle claims due rows (leased to this worker), dead-letters those about to pass
the platform's age limit, splits the rest into batches (per ``test_event_code``, at most
``max_batch`` each), sends them, then settles every row from the outcome its batch got. The
loop keeps up to ``concurrency`` such cycles of one request each in flight (bisecting a refused
batch adds its own requests), and starts the next one as soon as one settles: a request that is
slow to answer or to settle never leaves the other slots idle (:meth:`Worker.run_once` runs one
cycle of up to ``concurrency`` requests instead).

- ``Delivered``: done.
- ``Retry``: due again after the sink's ``after`` or the jittered backoff; a throttled
  answer also holds the whole destination back until then and does not count as an attempt.
- ``Rejected``: a batch of several events is bisected until the bad event is alone; that one
  is dead-lettered with the platform's reason, the others are delivered.

That is for a platform that accepts or refuses a batch whole (Meta). A sink whose platform
answers each event on its own (``Sink.per_event``) gives one outcome per event, and each row
is settled by its own: delivered ones are done (never sent again), a rejected one is
dead-lettered with its own reason without bisecting, retried ones are retried. Only when
every event of a batch of several is rejected with one and the same reason (the platform
refused the request for an event it did not name) is the batch bisected as a whole one.
- ``Paused``: the destination is paused with the reason and the fix; its rows stay queued
  until the token is replaced (``signalyard destinations set-token NAME``); the fix names
  the destination (:meth:`~signalyard.outcome.Paused.fix_for`).

Every request is recorded as an attempt (time, HTTP status, code, subcode, trace id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import shlex
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import httpx

from signalyard.clock import Clock
from signalyard.delivery import housekeeping
from signalyard.delivery.cycle import (
    Cycle,
    as_consented,
    leased,
    log_failed,
    one_outcome,
    refused_whole,
    split_batches,
)
from signalyard.delivery.housekeeping import PruneSchedule
from signalyard.delivery.request_window import RequestWindow
from signalyard.delivery.settle import Settler
from signalyard.insights.recorder import StatsRecorder
from signalyard.metrics import Metrics
from signalyard.outcome import Delivered, Rejected
from signalyard.settings import DeliverySettings
from signalyard.sinks import REGISTRY, build_sink
from signalyard.sinks.base import Sink
from signalyard.store.base import ClaimedEvent, Destination, Store

log = logging.getLogger("signalyard.delivery")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        store: Store,
        settings: DeliverySettings,
        *,
        clock: Clock,
        client: httpx.AsyncClient,
        sandbox_url: str,
        owner: str | None = None,
        rng: random.Random | None = None,
        sink_factory: Callable[[Destination], Sink] | None = None,
        metrics: Metrics | None = None,
        recorder: StatsRecorder | None = None,
        before_prune: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """``before_prune``: run before each pruning, whose events it must see first
        (attribution takes the new events in as evidence)."""
        self.store = store
        self.settings = settings
        self.clock = clock
        self.client = client
        self.sandbox_url = sandbox_url
        self.owner = owner or worker_id()
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._wakes: set[asyncio.Event] = set()  # one per destination loop of ``run``
        self._sinks: dict[int, tuple[float, Sink]] = {}
        self._windows: dict[int, RequestWindow] = {}  # the spec's request quota, if any
        self._sink_factory = sink_factory or self._build_sink
        self.metrics = metrics or Metrics()
        self.recorder = recorder
        self.before_prune = before_prune
        self._behind: set[int] = set()
        """Destinations whose last claim came back full: more may be due than it took."""

    def _build_sink(self, destination: Destination) -> Sink:
        return build_sink(
            destination, client=self.client, clock=self.clock, sandbox_url=self.sandbox_url
        )

    def wake(self) -> None:
        """Tell the worker new events are queued (called by ingest after its commit)."""
        self._wake.set()
        for wake in self._wakes:
            wake.set()

    async def prune(self) -> None:
        """Apply the retention policy (:func:`~signalyard.delivery.housekeeping.prune`)."""
        await housekeeping.prune(self.store, self.settings, self.clock, self.before_prune)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set: one loop per destination, so that a slow platform
        never holds the others back (each keeps up to ``concurrency`` cycles of one request
        in flight and refills a slot as soon as its cycle settles: :meth:`_destination_loop`).
        This loop looks for added and removed destinations every ``poll_seconds`` and prunes
        (:class:`~signalyard.delivery.housekeeping.PruneSchedule`).
        On ``stop`` every destination loop claims nothing more and finishes the cycles in
        flight, and a pruning in progress is cancelled. A failing cycle is logged and
        retried after a poll."""
        loops: dict[int, asyncio.Task[None]] = {}
        schedule = PruneSchedule(self.clock, self.settings.prune_interval_seconds)
        try:
            while not stop.is_set():
                if schedule.due(len(self._behind)):
                    try:
                        await housekeeping.unless_stopped(self.prune(), stop)
                    except Exception:
                        log.exception("Pruning failed; will try again.")
                    if stop.is_set():
                        break
                try:
                    destinations = await self.store.list_destinations()
                except Exception:
                    log.exception("Listing destinations failed; retrying.")
                    destinations = None
                if destinations is not None:
                    live = {d.id for d in destinations}
                    for gone in [i for i in loops if i not in live]:  # removed destinations
                        self._sinks.pop(gone, None)
                        if loops[gone].done():  # else it ends by itself (its row is gone),
                            del loops[gone]  # and is awaited with the others on stop
                    for d in destinations:
                        running = loops.get(d.id)
                        if running is None or running.done():
                            loops[d.id] = asyncio.create_task(self._destination_loop(d.id, stop))
                await _first(stop.wait(), timeout=self.settings.poll_seconds)
        finally:
            # Stopping: each loop ends after its cycles (it sees ``stop``); cancelled: at once,
            # even when ``stop`` was set just before (the loops may not have seen it yet).
            current = asyncio.current_task()
            if not stop.is_set() or (current is not None and current.cancelling()):
                for task in loops.values():
                    task.cancel()
            await asyncio.gather(*loops.values(), return_exceptions=True)
            # The before-prune step's background rounds (attribution's), before the store
            # closes.
            close = getattr(self.before_prune, "aclose", None)
            if close is not None:
                await close()

    async def _destination_loop(self, destination_id: int, stop: asyncio.Event) -> None:
        """One destination's deliveries until ``stop`` or its removal: up to ``concurrency``
        cycles of one request each in flight, the next claimed as soon as one settles. While
        a slot is free, what :meth:`wake` announces or a poll finds due takes it; with nothing
        in flight the loop waits for :meth:`wake` or ``poll_seconds``. A cycle that fails is
        logged, and the next claim waits a poll (not at once). On ``stop`` nothing more is
        claimed and the cycles in flight finish; cancelled, they are cancelled."""
        wake = asyncio.Event()
        self._wakes.add(wake)
        slots = max(1, self.settings.concurrency)
        running: dict[asyncio.Task[int], Cycle] = {}  # the cycles in flight
        beat: asyncio.Task[None] | None = None  # renews their leases
        try:
            while not stop.is_set():
                wake.clear()
                failed = False
                try:
                    while len(running) < slots and not stop.is_set():
                        # Read for each claim: a pause or throttle another cycle wrote
                        # meanwhile (while the previous claim ran) stops this one.
                        destination = await self._destination(destination_id)
                        if destination is None:
                            return  # removed (the cycles in flight finish below)
                        cycle = await self._claim(destination, requests=1)
                        if cycle is None:
                            break
                        running[asyncio.create_task(self._send(cycle, heartbeat=False))] = cycle
                except Exception:
                    log.exception(
                        "Delivery cycle failed; retrying. destination_id=%d", destination_id
                    )
                    failed = True
                if running:
                    if beat is None:
                        beat = asyncio.create_task(
                            self._heartbeat(lambda: leased(running.values()))
                        )
                    await self._until_a_slot_frees(set(running), wake, slots)
                    for task in [t for t in running if t.done()]:
                        del running[task]
                        failed = log_failed(task, destination_id) or failed
                    if not running:
                        beat.cancel()
                        beat = None
                    if not failed:
                        continue
                if failed:
                    await _first(stop.wait(), timeout=self.settings.poll_seconds)
                else:
                    await _first(wake.wait(), stop.wait(), timeout=self.settings.poll_seconds)
        except asyncio.CancelledError:
            for task in running:
                task.cancel()
            raise
        finally:
            self._wakes.discard(wake)
            self._behind.discard(destination_id)
            try:
                if running:
                    try:
                        done = (await asyncio.wait(set(running)))[0]
                    except asyncio.CancelledError:  # cancelled while the cycles finish
                        for task in running:
                            task.cancel()
                        raise
                    for task in done:
                        log_failed(task, destination_id)
            finally:
                if beat is not None:
                    beat.cancel()

    async def _until_a_slot_frees(
        self, running: set[asyncio.Task[int]], wake: asyncio.Event, slots: int
    ) -> None:
        """Wait until a cycle in flight ends; with a slot free already, also until new
        events are announced or a poll passes (rows whose retry became due). With every
        slot busy a wake changes nothing, so it is not waited for."""
        if len(running) >= slots:
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            return
        waiter = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait(
                {*running, waiter},
                timeout=self.settings.poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            waiter.cancel()

    async def _destination(self, destination_id: int) -> Destination | None:
        """The destination as stored now (its state, options and secrets may have changed)."""
        return await self.store.get_destination(destination_id)

    async def run_once(self) -> int:
        """One cycle over every destination; returns how many events were settled."""
        destinations = await self.store.list_destinations()
        live = {d.id for d in destinations}
        for gone in [i for i in self._sinks if i not in live]:  # removed destinations
            del self._sinks[gone]
        results = await asyncio.gather(*(self._destination_cycle(d) for d in destinations))
        return sum(results)

    def _sink(self, destination: Destination) -> Sink:
        cached = self._sinks.get(destination.id)
        if cached is None or cached[0] != destination.updated_at:
            sink = self._sink_factory(destination)
            self._sinks[destination.id] = (destination.updated_at, sink)
            return sink
        return cached[1]

    def _window(self, destination: Destination) -> RequestWindow | None:
        spec = REGISTRY.get(destination.kind)
        limit = spec.max_requests_per_minute if spec is not None else None
        if limit is None:
            return None
        window = self._windows.get(destination.id)
        if window is None or window.limit != limit:
            window = self._windows[destination.id] = RequestWindow(limit)
        return window

    async def _destination_cycle(self, destination: Destination) -> int:
        """One cycle of up to ``concurrency`` requests: the events handled (claimed)."""
        cycle = await self._claim(destination, requests=max(1, self.settings.concurrency))
        return 0 if cycle is None else await self._send(cycle)

    async def _claim(self, destination: Destination, *, requests: int) -> Cycle | None:
        """:meth:`_claim_cycle`, noting whether the destination is behind (its claim came back
        full) once that is known: while the claim runs, the destination keeps its last state,
        so that a pruning due meanwhile does not take a drain for caught up."""
        full = False
        try:
            cycle = await self._claim_cycle(destination, requests=requests)
            full = cycle is not None and cycle.full
            return cycle
        finally:
            if full:
                self._behind.add(destination.id)
            else:
                self._behind.discard(destination.id)

    async def _claim_cycle(self, destination: Destination, *, requests: int) -> Cycle | None:
        """Claim due rows for up to ``requests`` requests (fewer when the platform's request
        quota has less room) and dead-letter the expired ones; None when there is nothing to
        send (paused, throttled, quota spent, nothing due). Rows of more batches than that
        (several ``test_event_code`` values) are released for a later cycle, so a cycle never
        makes more first requests than it claimed for; each is counted in the quota now, so
        cycles claimed one after another never overrun it. A bisection's requests are
        counted when they are made, without waiting for room: isolating a bad event can go
        past the quota, and the platform's 429 then throttles the destination."""
        now = self.clock.now()
        if destination.state != "active":
            return None
        if destination.throttled_until and destination.throttled_until > now:
            return None
        try:
            sink = self._sink(destination)
        except Exception as error:
            await self.store.pause(
                destination.id,
                reason=f"the destination's configuration cannot be used: {error}",
                fix="correct it with `signalyard destinations update"
                f" {shlex.quote(destination.name)} --option KEY=VALUE` (see `signalyard"
                f" destinations show {shlex.quote(destination.name)}`), then resume it:"
                f" `signalyard destinations resume {shlex.quote(destination.name)}`",
                now=now,
            )
            return None
        window = self._window(destination)
        if window is not None:
            requests = min(requests, window.free(self.clock.monotonic()))
            if not requests:
                return None  # the platform's quota is spent: the loop comes back after a poll
        claimed = await self.store.claim(
            destination.id,
            owner=self.owner,
            limit=requests * sink.max_batch,
            now=now,
            lease_seconds=self.settings.lease_seconds,
        )
        if not claimed:
            return None
        cycle = Cycle(destination, sink, window=window, claimed=len(claimed))
        cycle.full = len(claimed) >= requests * sink.max_batch
        fresh = await self._expire_old(cycle, claimed, now)
        batches = split_batches(fresh, sink.max_batch)
        if len(batches) > requests:
            extra = [c.outbox_id for batch in batches[requests:] for c in batch]
            await self.store.release(extra, owner=self.owner)
            cycle.claimed -= len(extra)  # not handled by this cycle
            batches = batches[:requests]
        cycle.batches = batches
        if window is not None:
            started = self.clock.monotonic()
            for _ in cycle.batches:
                window.take(started)
        return cycle

    async def _send(self, cycle: Cycle, *, heartbeat: bool = True) -> int:
        """Send a claimed cycle's batches (as many as it claimed requests for) at once and
        settle them (a pause or a throttle is written as soon as its answer comes:
        :meth:`_settle`). ``heartbeat``: renew the leases while they are in flight (the
        destination loop runs one heartbeat for all its cycles instead). A cycle that fails
        first cancels its other batches' requests, then releases what it has not settled:
        due again at once rather than when the lease ends. The events handled."""
        beat = asyncio.create_task(self._heartbeat(lambda: leased([cycle]))) if heartbeat else None
        try:
            async with asyncio.TaskGroup() as group:  # one failing cancels the others
                for batch in cycle.batches:
                    group.create_task(self._deliver(cycle, batch, counted=True))
        except BaseException:
            # Settled rows are not touched (only queued rows this worker holds are).
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release(leased([cycle]), owner=self.owner))
            raise
        finally:
            if beat is not None:
                beat.cancel()
        return cycle.claimed

    def _settler(self) -> Settler:
        """Settling, with what this worker holds now (tests and callers may change
        ``settings``)."""
        return Settler(
            self.store,
            self.owner,
            self.settings,
            self.clock,
            self.metrics,
            self.recorder,
            self._rng,
        )

    async def _heartbeat(self, leased: Callable[[], list[int]]) -> None:
        """While requests are in flight, keep the lease on their rows (``leased()``: the ids
        of the cycles in flight; settled ones are skipped by the statement), so a slow
        platform never lets another worker claim (and send again) what this one is sending.
        By id: a statement over every row the worker holds would read the whole queue each
        time."""
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.store.extend_lease(
                    leased(), owner=self.owner, until=self.clock.now() + self.settings.lease_seconds
                )
            except Exception:
                log.exception("Extending the lease failed; will try again.")

    async def _expire_old(
        self, cycle: Cycle, claimed: list[ClaimedEvent], now: float
    ) -> list[ClaimedEvent]:
        limit = now - cycle.sink.max_age_seconds + self.settings.age_margin_seconds
        old = [c for c in claimed if c.event_time < limit]
        if old:
            await self.store.settle_dead(
                [c.outbox_id for c in old],
                owner=self.owner,
                reason=(
                    f"event_time is too close to the platform's limit of"
                    f" {cycle.sink.max_age_seconds // 86400} days: it would be refused"
                ),
                code=None,
                subcode=None,
                now=now,
            )
            self.metrics.settled(cycle.destination, "expired", old, now=now)
            if self.recorder is not None:
                self.recorder.dead(cycle.destination.id, len(old), now=now)
        return [c for c in claimed if c.event_time >= limit]

    async def _deliver(
        self, cycle: Cycle, batch: Sequence[ClaimedEvent], *, counted: bool = False
    ) -> None:
        """Send ``batch`` and settle its rows. ``counted``: its request was already counted
        in the platform's request quota (when the cycle was claimed); the requests that
        bisecting a refused batch makes are counted here."""
        if cycle.paused is not None:
            await self.store.release([c.outbox_id for c in batch], owner=self.owner)
            self.metrics.settled(cycle.destination, "paused", batch, now=self.clock.now())
            return
        if cycle.window is not None and not counted:
            cycle.window.take(self.clock.monotonic())
        result = await cycle.sink.send(
            [as_consented(cycle.destination.kind, c) for c in batch],
            test_event_code=batch[0].test_event_code,
        )
        per_event = cycle.sink.per_event and len(result.outcomes) == len(batch)
        if per_event and not refused_whole(result.outcomes):
            await self._settler().settle_each(cycle, batch, result)
            return
        outcome = one_outcome(result)
        now = await self._settler().record(cycle, batch, result, outcome)
        if self.recorder is not None:
            # A batch refused for one bad event is split to find it: those requests are not
            # failures of the destination (only the bad event's own request counts).
            splitting = isinstance(outcome, Rejected) and len(batch) > 1
            ok = isinstance(outcome, Delivered) or splitting
            self.recorder.request(cycle.destination.id, ok=ok, now=now)
        if isinstance(outcome, Rejected) and len(batch) > 1:
            # The platform refused the batch whole for (at least) one bad event: bisect
            # until it is alone; the halves' requests count on their own.
            half = len(batch) // 2
            await self._deliver(cycle, batch[:half])
            await self._deliver(cycle, batch[half:])
            return
        await self._settler().settle(cycle, batch, outcome, now)


async def _first(*waits: Coroutine[Any, Any, object], timeout: float) -> None:
    """Wait until one of ``waits`` is done or ``timeout`` seconds have passed."""
    tasks = {asyncio.ensure_future(w) for w in waits}
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
