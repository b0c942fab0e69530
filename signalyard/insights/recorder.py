"""Statistics counted as events flow, kept in memory and added to the rollup tables every
few seconds (migration 0005). Pages and alerts read the rollups, never the events.

Counted at ingest, per dataset, hour received, event name and source: events received and
stored, duplicates, event ids Signalyard had to generate, late (received over an hour after
``event_time``) and future timestamps, ``fbc``/``fbp`` that look hashed or are malformed,
events with values dropped as unusable, event ids the browser sent (``browser_ids``, each
id once), browser/server pairs (an event id seen from the browser and from a server source,
same event name: each id once, however often either side sends it) and mismatches (one event
id used for different event names), events whose personal keys arrived in plaintext for
Signalyard to hash (the intended use: information, not a problem), duplicates whose
``user_data`` was merged into the stored copy before it was sent (``merged``) and richer
copies that arrived after it was sent (``late_richer``); per day and event name, the mask of
customer keys each event carries with a value the platform can use (for match quality: a
hashed ``fbp`` is not one); rejected events by field and rule.
Counted at delivery, per destination and hour: events delivered and dead-lettered, requests
and failed requests, and the delay from receipt to delivery.

Counters live in the process until flushed: a crash loses at most the last flush interval of
*statistics* (never events). Several processes add their own counts. Pairs and mismatches
are found among the last ``id_memory`` event ids each process saw. Nothing personal is
counted: names of fields and rules only, never values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from typing import Any

from signalyard.event import AcceptedEvent
from signalyard.insights.quality import event_mask
from signalyard.store.base import MergeResult, Store
from signalyard.store.dual import execute, execute_many

log = logging.getLogger("signalyard.insights")

__all__ = ["EVENT_COUNTERS", "KEEP_DAYS", "LATE_SECONDS", "StatsRecorder", "prune_rollups"]

EVENT_COUNTERS = (
    "received",
    "stored",
    "duplicates",
    "generated_ids",
    "late",
    "future",
    "hashed_cookies",
    "malformed_cookies",
    "dropped_values",
    "paired",
    "mismatched",
    "plaintext_pii",
    "merged",
    "late_richer",
    "browser_ids",
)
_INDEX = {name: i for i, name in enumerate(EVENT_COUNTERS)}
_BROWSER_IDS = _INDEX["browser_ids"]
_BROWSER, _SERVER = 1, 2
_BOTH = _BROWSER | _SERVER
DELIVERY_COUNTERS = ("delivered", "dead", "requests", "failed_requests", "delay_seconds")
MAX_EVENT_NAMES = 200
"""Distinct event names counted per dataset and process; more are counted as ``(other)``."""
OTHER_NAME = "(other)"
LATE_SECONDS = 3600
"""Received this long after ``event_time``: late (Meta optimizes best on real-time events)."""
FUTURE_SECONDS = 60

_UPSERT_EVENTS = (
    "INSERT INTO stats_events(dataset_id, hour, event_name, source, "
    + ", ".join(EVENT_COUNTERS)
    + ") VALUES (?,?,?,?,"
    + ",".join("?" * len(EVENT_COUNTERS))
    + ") ON CONFLICT (dataset_id, hour, event_name, source) DO UPDATE SET "
    + ", ".join(f"{c} = stats_events.{c} + excluded.{c}" for c in EVENT_COUNTERS)
)
_UPSERT_MASKS = (
    "INSERT INTO stats_masks(dataset_id, day, event_name, mask, events) VALUES (?,?,?,?,?)"
    " ON CONFLICT (dataset_id, day, event_name, mask) DO UPDATE SET"
    " events = stats_masks.events + excluded.events"
)
_UPSERT_REJECTIONS = (
    "INSERT INTO stats_rejections(dataset_id, hour, source, field, rule, events)"
    " VALUES (?,?,?,?,?,?) ON CONFLICT (dataset_id, hour, source, field, rule) DO UPDATE SET"
    " events = stats_rejections.events + excluded.events"
)
_UPSERT_DELIVERY = (
    "INSERT INTO stats_delivery(destination_id, hour, "
    + ", ".join(DELIVERY_COUNTERS)
    + ") VALUES (?,?,"
    + ",".join("?" * len(DELIVERY_COUNTERS))
    + ") ON CONFLICT (destination_id, hour) DO UPDATE SET "
    + ", ".join(f"{c} = stats_delivery.{c} + excluded.{c}" for c in DELIVERY_COUNTERS)
)

_INDEXES = re.compile(r"\[[0-9]+\]")
_NUMBERS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def rejection_key(field: str, rule: str) -> tuple[str, str]:
    """A rejection's field without event/list indexes (``data[3].user_data.em[1]`` →
    ``user_data.em``) and its rule with numbers as ``N``: a bounded set of keys."""
    path = _INDEXES.sub("", field)
    for prefix in ("data.", "events."):
        if path.startswith(prefix):
            path = path[len(prefix) :]
    if path in ("data", "events"):
        path = ""
    return path[:120], _NUMBERS.sub("N", rule)[:200]


class StatsRecorder:
    def __init__(
        self,
        store: Store,
        *,
        flush_seconds: float = 2.0,
        id_memory: int = 100_000,
        max_names: int = MAX_EVENT_NAMES,
    ):
        self.store = store
        self.max_names = max_names
        self._names: dict[str, set[str]] = {}
        self.flush_seconds = flush_seconds
        self.id_memory = id_memory
        self._events: defaultdict[tuple[str, int, str, str], list[int]] = defaultdict(
            lambda: [0] * len(EVENT_COUNTERS)
        )
        self._masks: defaultdict[tuple[str, int, str, int], int] = defaultdict(int)
        self._rejections: defaultdict[tuple[str, int, str, str, str], int] = defaultdict(int)
        self._delivery: defaultdict[tuple[int, int], list[float]] = defaultdict(
            lambda: [0.0] * len(DELIVERY_COUNTERS)
        )
        self._seen: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()
        """(dataset, event id) -> (event name, the sources it came from: _BROWSER | _SERVER)."""
        self._lock = asyncio.Lock()

    # counting ----------------------------------------------------------------------------

    def ingested(
        self,
        events: Sequence[AcceptedEvent],
        stored: Sequence[bool],
        generated: Sequence[bool],
        *,
        source: str,
        now: float,
    ) -> None:
        hour = int(now // 3600)
        day = int(now // 86400)
        browser = source == "browser"
        this_source = _BROWSER if browser else _SERVER
        seen = self._seen
        for event, is_new, was_generated in zip(events, stored, generated, strict=True):
            name = self._name(event.dataset_id, event.event_name)
            row = self._events[(event.dataset_id, hour, name, source)]
            row[0] += 1
            if not is_new:
                row[2] += 1
            else:
                row[1] += 1
                mask = event_mask(event.payload)
                self._masks[(event.dataset_id, day, name, mask)] += 1
            if was_generated:
                row[3] += 1
            if event.plaintext_pii:
                row[11] += 1
            lag = now - event.event_time
            if lag > LATE_SECONDS:
                row[4] += 1
            elif lag < -FUTURE_SECONDS:
                row[5] += 1
            if event.warnings:
                text = " | ".join(event.warnings)
                if "looks hashed; Meta needs fb" in text:
                    row[6] += 1
                if "not in the format fb." in text:
                    row[7] += 1
                if "; dropped" in text:
                    row[8] += 1
            if was_generated:
                if browser:
                    row[_BROWSER_IDS] += 1  # an id of its own: seen once, never paired
                continue
            # Each event id is counted once: the first time the browser sends it (browser_ids)
            # and the first time it has come from both the browser and a server (paired),
            # whatever the order and however many times either side sends it again.
            key = (event.dataset_id, event.event_id)
            before = seen.pop(key, None)
            sources = 0
            if before is not None:
                before_name, sources = before
                if before_name != event.event_name:
                    row[10] += 1
                    sources = 0  # another event under the same id: counted afresh
            if not sources & this_source:
                if browser:
                    row[_BROWSER_IDS] += 1
                sources |= this_source
                if sources == _BOTH:
                    row[9] += 1
            seen[key] = (event.event_name, sources)
            if len(seen) > self.id_memory:
                seen.popitem(last=False)

    def merges(
        self,
        events: Sequence[AcceptedEvent],
        results: Sequence[MergeResult],
        *,
        source: str,
        now: float,
    ) -> None:
        """Duplicates merged into the stored copy before it was sent, and richer copies that
        arrived after it was sent (``late_richer``)."""
        hour = int(now // 3600)
        merged, late = _INDEX["merged"], _INDEX["late_richer"]
        for event, result in zip(events, results, strict=True):
            if result.outcome not in ("merged", "late"):
                continue
            name = self._name(event.dataset_id, event.event_name)
            row = self._events[(event.dataset_id, hour, name, source)]
            row[merged if result.outcome == "merged" else late] += 1

    def _name(self, dataset_id: str, event_name: str) -> str:
        """The event name as counted: the first ``max_names`` names of a dataset seen by this
        process, then ``(other)`` (the browser endpoint is open: made-up names must not fill
        the rollups, which are kept 400 days)."""
        names = self._names.setdefault(dataset_id, set())
        if event_name in names:
            return event_name
        if len(names) < self.max_names:
            names.add(event_name)
            return event_name
        return OTHER_NAME

    def rejected(self, dataset_id: str, source: str, field: str, rule: str, *, now: float) -> None:
        path, kind = rejection_key(field, rule)
        self._rejections[(dataset_id, int(now // 3600), source, path, kind)] += 1

    def delivered(self, destination_id: int, received_at: Sequence[float], *, now: float) -> None:
        row = self._delivery[(destination_id, int(now // 3600))]
        row[0] += len(received_at)
        row[4] += sum(max(0.0, now - r) for r in received_at)

    def dead(self, destination_id: int, events: int, *, now: float) -> None:
        self._delivery[(destination_id, int(now // 3600))][1] += events

    def request(self, destination_id: int, *, ok: bool, now: float) -> None:
        row = self._delivery[(destination_id, int(now // 3600))]
        row[2] += 1
        if not ok:
            row[3] += 1

    # writing -----------------------------------------------------------------------------

    def pending(self) -> bool:
        return bool(self._events or self._masks or self._rejections or self._delivery)

    async def flush(self) -> None:
        """Add the counts so far to the rollup tables (one short transaction per table)."""
        async with self._lock:
            events, self._events = self._events, defaultdict(lambda: [0] * len(EVENT_COUNTERS))
            masks, self._masks = self._masks, defaultdict(int)
            rejections, self._rejections = self._rejections, defaultdict(int)
            delivery, self._delivery = (
                self._delivery,
                defaultdict(lambda: [0.0] * len(DELIVERY_COUNTERS)),
            )
            batches: list[tuple[str, list[tuple[Any, ...]]]] = [
                (_UPSERT_EVENTS, [(*k, *v) for k, v in sorted(events.items())]),
                (_UPSERT_MASKS, [(*k, v) for k, v in sorted(masks.items())]),
                (_UPSERT_REJECTIONS, [(*k, v) for k, v in sorted(rejections.items())]),
                (
                    _UPSERT_DELIVERY,
                    [(*k, *(round(x) for x in v)) for k, v in sorted(delivery.items())],
                ),
            ]
            for i, (sql, rows) in enumerate(batches):
                if not rows:
                    continue
                try:
                    await execute_many(self.store, sql, rows)
                except Exception:
                    # Keep what was not written for the next flush.
                    self._restore(events, masks, rejections, delivery, from_batch=i)
                    raise

    def _restore(
        self,
        events: dict[tuple[str, int, str, str], list[int]],
        masks: dict[tuple[str, int, str, int], int],
        rejections: dict[tuple[str, int, str, str, str], int],
        delivery: dict[tuple[int, int], list[float]],
        *,
        from_batch: int,
    ) -> None:
        if from_batch <= 0:
            for k, v in events.items():
                row = self._events[k]
                for j, n in enumerate(v):
                    row[j] += n
        if from_batch <= 1:
            for k2, n2 in masks.items():
                self._masks[k2] += n2
        if from_batch <= 2:
            for k3, n3 in rejections.items():
                self._rejections[k3] += n3
        for k4, v4 in delivery.items():
            row4 = self._delivery[k4]
            for j, x in enumerate(v4):
                row4[j] += x

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every ``flush_seconds`` until ``stop``, then once more."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.flush_seconds)
            try:
                await self.flush()
            except Exception:
                log.exception("Writing statistics failed; they will be retried.")


KEEP_DAYS = 400
"""Rollups are kept this long: a year, and the same weeks of the year before."""


async def prune_rollups(store: Store, *, now: float, keep_days: float = KEEP_DAYS) -> int:
    """Delete rollup rows older than ``keep_days`` (and resolved alerts and consent records
    as old); how many."""
    hour = int((now - keep_days * 86400) // 3600)
    day = hour // 24
    deleted = 0
    for sql, cutoff in (
        ("DELETE FROM stats_events WHERE hour < ?", hour),
        ("DELETE FROM stats_masks WHERE day < ?", day),
        ("DELETE FROM stats_rejections WHERE hour < ?", hour),
        ("DELETE FROM stats_delivery WHERE hour < ?", hour),
        ("DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ?", hour * 3600),
        ("DELETE FROM consent_subjects WHERE updated_at < ?", hour * 3600),
    ):
        deleted += await execute(store, sql, (cutoff,))
    return deleted
