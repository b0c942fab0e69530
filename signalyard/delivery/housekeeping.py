"""The worker's housekeeping: pruning by the retention policy (:func:`prune`), when it runs
(:class:`PruneSchedule`), which gives way to deliveries that are behind, and how a stop
cancels it (:func:`unless_stopped`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from signalyard.clock import Clock
from signalyard.insights.recorder import prune_rollups
from signalyard.settings import DeliverySettings
from signalyard.sources import webhook_store
from signalyard.store.base import Store

log = logging.getLogger("signalyard.delivery")
MAX_HOLD_SECONDS = 7 * 86400
"""Held events wait for consent at most this long, for every destination (the gateway's
policy: the age limit of the strictest platform, so that a released event can still go
everywhere)."""
FIRST_PRUNE_SECONDS = 60.0
"""The first pruning after a worker starts (or sooner, with a shorter interval)."""


async def prune(
    store: Store,
    settings: DeliverySettings,
    clock: Clock,
    before_prune: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Apply the retention policy (see :meth:`Store.prune`): drop the held events whose
    consent never came, run ``before_prune`` (attribution takes the events in before any is
    deleted), then prune the outbox, events, webhook delivery ids and statistics."""
    now = clock.now()
    before = now - settings.retention_days * 86400
    expired = await store.expire_holds(
        event_time_before=now - MAX_HOLD_SECONDS + settings.age_margin_seconds, now=now
    )
    if expired:
        log.info("Dropped %d held event(s): consent did not arrive in time.", expired)
    if before_prune is not None:
        await before_prune()  # failing, it stops this pruning: nothing unseen is lost
    result = await store.prune(before=before, now=now)
    # Webhook delivery ids only guard against platform retries (hours): same horizon.
    await webhook_store.prune_deliveries(store, before=before)
    await prune_rollups(store, now=now)
    if result.outbox or result.events:
        log.info(
            "Pruned. outbox=%d attempts=%d events=%d dedup_keys=%d",
            result.outbox,
            result.attempts,
            result.events,
            result.dedup_keys,
        )


class PruneSchedule:
    """When to prune: every ``interval`` seconds (the first time after
    :data:`FIRST_PRUNE_SECONDS`), except that a due pruning waits while deliveries are
    behind, for at most ``interval`` more.

    Pruning, and the attribution intake before it (which reads every event stored since the
    last one), is housekeeping: during a drain it took a third of the worker's CPU from
    deliveries, which have the platforms' age limits to meet. Bounded, so that a backlog
    that never drains still gets its retention applied."""

    def __init__(self, clock: Clock, interval: float) -> None:
        self.clock = clock
        self.interval = interval
        self.next = clock.monotonic() + min(FIRST_PRUNE_SECONDS, interval)
        self.waiting = False

    def due(self, behind: int) -> bool:
        """Whether to prune now, ``behind`` destinations having more due than a claim takes;
        when it says yes, the next pruning is counted from now."""
        now = self.clock.monotonic()
        if now < self.next:
            return False
        if behind and now < self.next + self.interval:
            if not self.waiting:
                self.waiting = True
                log.info(
                    "Pruning waits while deliveries catch up: %d destination(s) claimed full"
                    " batches (at most %.0f s).",
                    behind,
                    self.interval,
                )
            return False
        self.waiting = False
        self.next = now + self.interval
        return True


async def unless_stopped(work: Coroutine[Any, Any, object], stop: asyncio.Event) -> None:
    """Run ``work`` until it ends (its exception raised here) or ``stop`` is set: then it is
    cancelled. A pruning, with attribution's intake before it, can take a minute after a
    long backlog; a worker asked to stop does not wait for it (each of its steps commits on
    its own: what is left is done by the next pruning)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})  # not ``await task``: its cancellation is not ours
    if task.cancelled():
        log.info("Pruning stopped: the worker is stopping.")
        return
    task.result()
