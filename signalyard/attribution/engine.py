"""Attribution runs: take the new events in as evidence (:meth:`Attributor.sync`), then credit
every order from the evidence (:meth:`Attributor.run`).

It reads the store and writes only its own tables (migration 0009); it never changes what is
delivered. A run is a function of the evidence and the settings (profile, lens): the same
evidence gives the same credits, whatever order the events arrived in.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread

from signalyard.attribution.extract import CHAT_USERS, REFERRAL, extract, rows_of
from signalyard.attribution.identity import LINK_SETTLE_SECONDS, Persons
from signalyard.attribution.model import (
    DEFAULT_LENS,
    Attribution,
    Click,
    Order,
    Touch,
    attribute,
    eligible_platforms,
)
from signalyard.attribution.retention import prune_evidence
from signalyard.attribution.windows import ClickWindows, WindowTable
from signalyard.clock import Clock
from signalyard.store.base import AttributionEvidence, Store

__all__ = ["SYNC_BATCH", "Attributor", "Crediting", "Run"]

log = logging.getLogger("signalyard.attribution")

SYNC_BATCH = 2000
"""Events read and taken in per transaction."""
SETTLE_SECONDS = 60.0
"""Events received this recently are read again at the next sync (see :meth:`Attributor.
sync`)."""
CENT = Decimal("0.01")
QUARTER = 900
"""Landings are counted per quarter hour: every time zone's day starts on one."""
CHAT_USER_NODES = tuple(f"{key}:" for key in CHAT_USERS)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Journey:
    """What a person did: their clicks and landings, oldest first."""

    clicks: tuple[Click, ...]
    touches: tuple[Touch, ...]


@dataclass(slots=True)
class Run:
    dataset_id: str
    windows: WindowTable
    lens: str
    attributions: list[Attribution] = field(default_factory=list)
    eligible_other: dict[str, frozenset[str]] = field(default_factory=dict)
    """Order id -> the platforms it is eligible for under the other window profile."""
    journeys: dict[str, Journey] = field(default_factory=dict)
    """Order id -> its person's journey (what :func:`explain` shows)."""
    shared_keys: int = 0
    """Person keys the identity guardrail left out (seen with too many browsers)."""
    orders: list[Order] = field(default_factory=list)
    """Every order as loaded, before crediting: what the revenue check sums on its own."""
    landings: Counter[int] = field(default_factory=Counter)
    """Landings per quarter hour (UTC seconds // :data:`QUARTER`), for data quality."""
    landings_with_click: Counter[int] = field(default_factory=Counter)
    """Of them, those whose URL carried a registered platform's click id."""


class Attributor:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        declared: Iterable[tuple[str, ClickWindows | None]],
        *,
        retention_days: float = 400.0,
    ) -> None:
        """``declared``: each platform's click windows (``(kind, spec.click_attribution)`` for
        the registry); ``retention_days``: how long evidence is kept (:mod:`.retention`)."""
        self.store = store
        self.clock = clock
        self.declared = tuple(declared)
        self.retention_days = retention_days

    def windows(self, profile: str) -> WindowTable:
        return WindowTable.of(self.declared, profile)

    async def sync(self, dataset_id: str, *, batch: int = SYNC_BATCH) -> int:
        """Take in the dataset's events stored since the last sync; how many were read.

        The cursor moves only past events received :data:`SETTLE_SECONDS` ago: on PostgreSQL
        a transaction that took a smaller ``pk`` may commit after a larger one was seen, so
        the recent events are read again next time (taking one in twice changes nothing)."""
        channels = self.windows("platform-default").channel_of_kind
        after = await self.store.attribution_cursor(dataset_id)
        total = 0
        while True:
            events = await self.store.attribution_events(dataset_id, after_pk=after, limit=batch)
            if not events:
                return total
            # CPU work on client input: off the event loop.
            evidence = await anyio.to_thread.run_sync(partial(extract, events, channels))
            settled_before = self.clock.now() - SETTLE_SECONDS
            cursor = 0  # none settled: the stored cursor stays (it never moves back)
            for e in events:
                if e.received_at > settled_before:
                    break
                cursor = e.pk
            after = events[-1].pk
            await self.store.attribution_save(
                dataset_id, rows_of(evidence), last_pk=cursor, now=self.clock.now()
            )
            total += len(events)

    async def sync_all(self) -> int:
        """:meth:`sync` every dataset (the worker's step before each pruning, so that no
        event is pruned before attribution took it in), then prune the evidence past its
        retention; how many events were read."""
        total = 0
        for dataset in await self.store.list_datasets():
            total += await self.sync(dataset.id)
        before = self.clock.now() - self.retention_days * 86400
        pruned = await prune_evidence(self.store, before=before)
        if pruned:
            log.info("Attribution evidence pruned: %d row(s) older than the retention.", pruned)
        return total

    async def run(
        self, dataset_id: str, *, profile: str, lens: str = DEFAULT_LENS, sync: bool = True
    ) -> Run:
        """Credit every order of the dataset (after a :meth:`sync` unless ``sync`` is
        false)."""
        windows = self.windows(profile)
        if sync:
            await self.sync(dataset_id)
        evidence = await self.store.attribution_evidence(dataset_id)
        # CPU work (60-130 µs an order): in a thread, so that a gateway serving the
        # dashboard keeps answering meanwhile.
        return await anyio.to_thread.run_sync(lambda: credit(dataset_id, evidence, windows, lens))


class _Evidence:
    """The clicks and landings of each person as the persons grow: kept by representative,
    a person's joined into the other's when a link joins them."""

    def __init__(self) -> None:
        self.clicks: dict[str, list[Click]] = defaultdict(list)
        self.touches: dict[str, list[Touch]] = defaultdict(list)

    def join(self, absorbed: str, into: str) -> None:
        _join(self.clicks, absorbed, into)
        _join(self.touches, absorbed, into)


def _join(kept: dict[str, list[T]], absorbed: str, into: str) -> None:
    moved = kept.pop(absorbed, None)
    if moved:
        target = kept[into]
        if len(moved) > len(target):  # the shorter list goes to the longer one
            moved, kept[into] = target, moved
        kept[into].extend(moved)


class Crediting:
    """The orders of loaded evidence, oldest first, each with its person's journey as the
    identity links of its time allow: iterating gives ``(order as loaded, order as credited,
    journey, platforms eligible under the other window profile)``. It empties the evidence's
    landings and links as it reads them (held once in memory, as they become persons and
    journeys).

    Orders are taken oldest first, each from the identity links first seen up to its own
    time plus ``LINK_SETTLE_SECONDS`` (:class:`~.identity.Persons`): a later link never
    rewrites an older order's credit."""

    def __init__(self, evidence: AttributionEvidence, windows: WindowTable) -> None:
        self.evidence = evidence
        self.windows = windows
        self.persons = Persons(
            (
                (str(a), str(b), float(at) if at is not None else None)
                for a, b, at in _drain(evidence.links)
            ),
            deferred=True,
        )
        self.shared_keys = len(self.persons.shared)
        self.landings: Counter[int] = Counter()
        """Landings per quarter hour (complete once iteration began)."""
        self.landings_with_click: Counter[int] = Counter()

    def __iter__(self) -> Iterator[tuple[Order, Order, Journey, frozenset[str]]]:
        evidence, windows, persons = self.evidence, self.windows, self.persons
        platform_of = windows.platform_of_kind
        kept = _Evidence()
        for kind, click_id, clicked_at, first_pk, how, campaign in evidence.clicks:
            platform = platform_of.get(kind)
            if platform is None:
                continue
            at = float(clicked_at) if clicked_at is not None else None
            kept.clicks[f"click:{kind}:{click_id}"].append(
                Click(platform, kind, click_id, at, int(first_pk), str(how), campaign)
            )
        landings, with_click = self.landings, self.landings_with_click
        for pk, at, channel, detail, _campaign, node in _drain(evidence.touches):
            kept.touches[str(node)].append(Touch(float(at), channel, detail, int(pk)))
            quarter = int(float(at) // QUARTER)
            landings[quarter] += 1
            if detail in platform_of:  # the landing's URL carried a click id (channels.py)
                with_click[quarter] += 1
        other = windows.other().seconds
        rows = sorted(evidence.orders, key=lambda row: (float(str(row[2])), str(row[0])))
        for row in rows:
            loaded = order = _order(row)
            for absorbed, into in persons.advance(order.created_at + LINK_SETTLE_SECONDS):
                kept.join(absorbed, into)
            person = persons.of(str(row[7]))
            clicks = tuple(sorted(kept.clicks.get(person, ()), key=_click_key))
            if order.kind == "chat":
                # The click-to-message ad of the latest chat opened by this sale or before it
                # (a chat's ctwa_clid comes on its sales; a second sale in it carries it
                # again); a Messenger or Instagram referral only for its own chat user's
                # sales.
                event_pk = int(row[1])
                node = str(row[7])
                openers = [
                    c
                    for c in clicks
                    if c.evidence == "chat" and c.seq <= event_pk and _same_chat(c, node)
                ]
                if openers:
                    order = dataclasses.replace(order, opened_by=max(openers, key=lambda c: c.seq))
            touches = tuple(sorted(kept.touches.get(person, ()), key=lambda t: (t.at, t.seq)))
            yield loaded, order, Journey(clicks, touches), eligible_platforms(order, clicks, other)


def credit(dataset_id: str, evidence: AttributionEvidence, windows: WindowTable, lens: str) -> Run:
    """The run over loaded evidence (:class:`Crediting`, which empties its landings and
    links); pure otherwise."""
    each = Crediting(evidence, windows)
    run = Run(dataset_id, windows, lens, shared_keys=each.shared_keys)
    seconds = windows.seconds
    for loaded, order, journey, other in each:
        run.orders.append(loaded)
        run.journeys[order.order_id] = journey
        run.attributions.append(
            attribute(order, journey.clicks, journey.touches, seconds, lens=lens)
        )
        run.eligible_other[order.order_id] = other
    run.landings, run.landings_with_click = each.landings, each.landings_with_click
    return run


def _drain(rows: Sequence[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """``rows``, emptied as they are read when they are a list (last first): the evidence of a
    year is large, and each row read is then held once, as what it became."""
    if isinstance(rows, list):
        while rows:
            yield rows.pop()
    else:
        yield from rows


def _same_chat(click: Click, node: str) -> bool:
    """Whether a chat's click may open the sale whose first id is ``node``: a referral
    (``<ad id>/<chat user id>``) only for that chat user's sale."""
    if click.kind != REFERRAL:
        return True
    user = node.partition(":")[2] if node.startswith(CHAT_USER_NODES) else None
    return user is not None and click.click_id.endswith("/" + user)


def _click_key(click: Click) -> tuple[float, int]:
    return (click.clicked_at if click.clicked_at is not None else float("inf"), click.seq)


def _order(row: Sequence[object]) -> Order:
    order_id, _pk, created_at, currency, gross_text, kind, _source, node, refunded, cancelled = row
    gross = Decimal(str(gross_text)).quantize(CENT)
    net = gross
    if cancelled is not None:
        net = Decimal(0)
    elif refunded is not None:
        net = max(Decimal(0), gross - Decimal(str(refunded)).quantize(CENT))
    return Order(
        str(order_id),
        float(str(created_at)),
        str(currency),
        net,
        kind=str(kind),
        linked=not str(node).startswith("event:"),
        gross=gross,
    )
