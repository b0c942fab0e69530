"""Reports kept in the store: the day parts (:mod:`.rollup`) of the last run of each window
profile, lens and currency of a dataset (migration 0013), so that the dashboard's report reads
a few hundred small rows, one per day, instead of crediting every order again (a year of a
10,000-orders-a-day shop takes minutes to credit and well under a second to read).

A kept report says what it was computed from: its *basis* (the time zone, both profiles'
click windows, the format of its days and, for a report in one currency, the newest import of
exchange rates) and *through* (the dataset's newest event and the newest order webhook
delivery when the run began: :func:`newest_event`). It is **fresh** (:func:`is_fresh`) while
both still hold, it is under :data:`MAX_AGE_SECONDS` old, and no late commit can be missing
from it (:data:`SETTLE_SECONDS`).

A stale report is computed again (:func:`compute`), at most every :data:`RECOMPUTE_FACTOR`
times as long as it took (a year's minutes of CPU are not spent every few minutes on a busy
shop): by the page (:class:`Reports`) while it waits when its last computation was short
(:data:`WAIT_SECONDS`), else in the background while it shows the kept one; and by the
delivery worker (:class:`~.refresh.ReportRefresher`). One
computation at a time per process (a year's evidence takes gigabytes), and one per report
across processes (a lease in the store): the others show the kept report meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import anyio.to_thread

from signalyard.attribution.claims import Claim
from signalyard.attribution.convert import Converter, MissingRates
from signalyard.attribution.engine import Attributor, Crediting
from signalyard.attribution.kept import (
    ASKED,
    GIVE_LEASE,
    MAX_AGE_SECONDS,
    TAKE_LEASE,
    Busy,
    Kept,
    basis_of,
    find_kept,
    is_due,
    is_fresh,
    load_days,
    load_kept,
    newest_event,
    save_kept,
)
from signalyard.attribution.model import attribute
from signalyard.attribution.rates import load_rates
from signalyard.attribution.report import Report, assemble, day_function
from signalyard.attribution.rollup import Accumulator, DayPart
from signalyard.attribution.rounds import cancel
from signalyard.clock import Clock
from signalyard.store import dual
from signalyard.store.base import AttributionEvidence, Store

__all__ = [
    "MAX_AGE_SECONDS",
    "WAIT_SECONDS",
    "Busy",
    "Got",
    "Kept",
    "Reports",
    "Stopped",
    "compute",
    "is_fresh",
    "load_days",
    "load_kept",
]

log = logging.getLogger("signalyard.attribution")

WAIT_SECONDS = 2.0
"""A stale report whose last computation took less than this is computed again while the
page waits; a longer one in the background."""
FIRST_WAIT_SECONDS = 20.0
"""How long a page waits for a report never kept before it says it is being computed."""
LEASE_SECONDS = 300.0
"""How long a process's lease on computing a report lasts: renewed while it computes, given
back when done; a process that died holding it holds it this long at most."""
STOP_EVERY = 1024
"""Orders credited between two looks at whether the computation was cancelled."""


class Stopped(Exception):
    """A computation stopped before its end (cancelled)."""


def _credit_days(
    evidence: AttributionEvidence,
    attributor: Attributor,
    profile: str,
    lenses: Sequence[str],
    tz: ZoneInfo,
    converter: Converter | None,
    stop: threading.Event,
) -> tuple[int, int, dict[str, dict[str, DayPart]]]:
    """(orders, identity keys left out, lens -> day parts): every lens in one pass. Stops
    (:class:`Stopped`) soon after ``stop`` is set."""
    if stop.is_set():
        raise Stopped
    windows = attributor.windows(profile)
    seconds = windows.seconds
    day = day_function(tz)
    each = Crediting(evidence, windows)
    if stop.is_set():
        raise Stopped
    accs = {lens: Accumulator(day, seconds) for lens in lenses}
    orders = 0
    for loaded, order, journey, other in each:
        orders += 1
        if not orders % STOP_EVERY and stop.is_set():
            raise Stopped
        has_click = bool(journey.clicks)
        has_browser = has_click or bool(journey.touches)
        loaded_c = order_c = None
        if converter is not None:
            loaded_c = converter.order(loaded)
            order_c = loaded_c if order is loaded else converter.order(order)
        for lens, acc in accs.items():
            a = attribute(order, journey.clicks, journey.touches, seconds, lens=lens)
            if converter is not None and loaded_c is not None:
                acc.loaded(loaded_c)
                acc.add(converter.attribution(a, order_c), other, has_click, has_browser)
            else:
                acc.loaded(loaded)
                acc.add(a, other, has_click, has_browser)
        if converter is not None:
            converter.forget()
    for acc in accs.values():
        acc.add_landings(each.landings, each.landings_with_click)
    return orders, each.shared_keys, {lens: dict(acc.days) for lens, acc in accs.items()}


_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _one_at_a_time() -> asyncio.Lock:
    """One computation at a time in a process (its event loop): a year's evidence takes
    gigabytes, so the page's computations and the worker's wait for each other."""
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


def computing() -> bool:
    """Whether a computation runs in this process now."""
    return _one_at_a_time().locked()


async def compute(
    store: Store,
    attributor: Attributor,
    dataset_id: str,
    *,
    profile: str,
    lenses: Sequence[str],
    tz: ZoneInfo,
    currency: str,
    rates_base: str,
    clock: Clock,
    asked: bool = False,
) -> list[Kept]:
    """Credit every order of the dataset under ``profile`` once, for every lens of
    ``lenses``, and keep each lens's report (in ``currency`` when given: a report missing an
    exchange rate is kept as that error); the reports kept. Nothing is computed when each is
    fresh already (another computation kept it meanwhile); :class:`Busy` when another
    process holds the lease on it. ``asked``: a page asked for it (the worker then keeps it
    fresh for :data:`ASKED_DAYS`)."""
    async with _one_at_a_time():
        through = await newest_event(store, dataset_id)
        basis = await basis_of(store, attributor, tz=tz, currency=currency, rates_base=rates_base)
        kept = await load_kept(store, dataset_id)
        now = clock.now()
        stale = [
            lens
            for lens in lenses
            if (k := find_kept(kept, (dataset_id, profile, lens, currency))) is None
            or not is_fresh(k, through=through, basis=basis, now=now)
        ]
        if not stale:
            return []
        owner = uuid.uuid4().hex
        lease = (dataset_id, profile, currency)
        if not await dual.execute(store, TAKE_LEASE, (*lease, owner, now + LEASE_SECONDS, now)):
            raise Busy(f"another process computes the {profile} report of {dataset_id}")
        renew = asyncio.get_running_loop().create_task(_renew(store, lease, owner, clock))
        try:
            return await _run(
                store,
                attributor,
                dataset_id,
                Job(profile, tuple(lenses), tz, currency, rates_base, through, basis),
                clock=clock,
                asked_at=now if asked else None,
            )
        finally:
            await cancel([renew])
            with contextlib.suppress(Exception):  # a closing store: the lease runs out
                await dual.execute(store, GIVE_LEASE, (*lease, owner))


async def _renew(store: Store, lease: tuple[str, str, str], owner: str, clock: Clock) -> None:
    """Keep the lease while computing: renewed every third of its length."""
    while True:
        await asyncio.sleep(LEASE_SECONDS / 3)
        now = clock.now()
        with contextlib.suppress(Exception):  # the next renewal tries again
            await dual.execute(store, TAKE_LEASE, (*lease, owner, now + LEASE_SECONDS, now))


@dataclass(frozen=True, slots=True)
class Job:
    """What one computation credits with, and what it was computed from."""

    profile: str
    lenses: tuple[str, ...]
    tz: ZoneInfo
    currency: str
    rates_base: str
    through: str
    basis: str


async def _run(
    store: Store,
    attributor: Attributor,
    dataset_id: str,
    job: Job,
    *,
    clock: Clock,
    asked_at: float | None,
) -> list[Kept]:
    began, started = clock.now(), time.monotonic()
    converter = None
    if job.currency:
        converter = Converter(await load_rates(store, job.rates_base), job.currency, job.tz)
    await attributor.sync(dataset_id)
    evidence = await store.attribution_evidence(dataset_id)
    stop = threading.Event()
    try:
        # CPU work (minutes for a year): in a thread, so that the gateway keeps answering;
        # a cancelled computation (the worker stopping) lets go at once and the thread
        # stops within STOP_EVERY orders.
        orders, shared, by_lens = await anyio.to_thread.run_sync(
            lambda: _credit_days(
                evidence, attributor, job.profile, job.lenses, job.tz, converter, stop
            ),
            abandon_on_cancel=True,
        )
    finally:
        stop.set()
    error = None
    if converter is not None:
        try:
            converter.check()
        except MissingRates as missing:
            error = str(missing)
    seconds = time.monotonic() - started
    kept = []
    for lens in job.lenses:
        one = Kept(
            dataset_id,
            job.profile,
            lens,
            job.currency,
            job.basis,
            job.through,
            began,
            seconds,
            orders,
            shared,
            error,
            asked_at,
        )
        if await save_kept(store, one, {} if error else by_lens[lens]):
            kept.append(one)
    return kept


@dataclass(frozen=True, slots=True)
class Got:
    """A kept report as a page reads it: is it fresh, and is a newer one being computed.
    ``kept`` is ``None`` while the first one is still being computed."""

    kept: Kept | None
    fresh: bool
    refreshing: bool


class Reports:
    """The kept reports of a gateway's datasets, kept fresh (the dashboard's side)."""

    def __init__(
        self,
        store: Store,
        attributor: Attributor,
        clock: Clock,
        *,
        tz: ZoneInfo,
        rates_base: str,
        wait_seconds: float = WAIT_SECONDS,
        first_wait_seconds: float = FIRST_WAIT_SECONDS,
    ) -> None:
        self.store = store
        self.attributor = attributor
        self.clock = clock
        self.tz = tz
        self.rates_base = rates_base
        self.wait_seconds = wait_seconds
        self.first_wait_seconds = first_wait_seconds
        self._running: dict[tuple[str, str, str, str], asyncio.Task[list[Kept]]] = {}

    async def is_fresh(self, kept: Kept) -> bool:
        through = await newest_event(self.store, kept.dataset_id)
        basis = await basis_of(
            self.store,
            self.attributor,
            tz=self.tz,
            currency=kept.currency,
            rates_base=self.rates_base,
        )
        return is_fresh(kept, through=through, basis=basis, now=self.clock.now())

    async def get(self, dataset_id: str, profile: str, lens: str, currency: str) -> Got:
        """The kept report of this choice, fresh when it can be had quickly: computed while
        the page waits when there is none (up to ``first_wait_seconds``) or when it is stale
        and its last computation was short (and nothing else computes in this process);
        else the kept one, while a new one is computed in the background when due."""
        key = (dataset_id, profile, lens, currency)
        kept = find_kept(await load_kept(self.store, dataset_id), key)
        now = self.clock.now()
        if kept is not None:
            if kept.asked_at is None or kept.asked_at < now - 3600:
                await dual.execute(self.store, ASKED, (now, *key))
            if await self.is_fresh(kept):
                return Got(kept, True, False)
            running = key in self._running and not self._running[key].done()
            if kept.seconds >= self.wait_seconds or computing():
                if running or is_due(kept, now=now):
                    self._start(key)
                    return Got(kept, False, True)
                return Got(kept, False, False)
        task = self._start(key)
        wait = self.first_wait_seconds if kept is None else max(self.wait_seconds * 5, 10.0)
        try:
            await asyncio.wait_for(asyncio.shield(task), wait)
        except (TimeoutError, Busy):
            return Got(kept, False, True)
        computed = find_kept(await load_kept(self.store, dataset_id), key)
        if computed is None:
            return Got(None, False, True)
        return Got(computed, True, False)

    def _start(self, key: tuple[str, str, str, str]) -> asyncio.Task[list[Kept]]:
        """The computation of ``key`` (one already running is joined)."""
        task = self._running.get(key)
        if task is None or task.done():
            dataset_id, profile, lens, currency = key
            task = asyncio.get_running_loop().create_task(
                compute(
                    self.store,
                    self.attributor,
                    dataset_id,
                    profile=profile,
                    lenses=[lens],
                    tz=self.tz,
                    currency=currency,
                    rates_base=self.rates_base,
                    clock=self.clock,
                    asked=True,
                )
            )
            task.add_done_callback(_log_failure)
            self._running[key] = task
        return task

    async def report(
        self,
        kept: Kept,
        *,
        since: datetime.date | None,
        until: datetime.date | None,
        claims: Sequence[Claim],
    ) -> Report:
        """``kept``'s report of [since, until] (days in the time zone it was cut in)."""
        days = await load_days(self.store, kept, since, until)
        other = self.attributor.windows(kept.profile).other().profile
        return assemble(kept.meta(other), days, since=since, until=until, claims=claims)

    async def aclose(self) -> None:
        """Cancel the computations started in the background (the thread of each stops
        within :data:`STOP_EVERY` orders)."""
        await cancel(list(self._running.values()))


def _log_failure(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if isinstance(error, Busy):
        log.info("%s", error)
    elif error is not None:
        log.error("computing an attribution report failed", exc_info=error)
