"""The sandbox's running statistics: counters per event source (pixel or event set) and per
event name, and the match-key coverage of the accepted events.

:class:`~.recorder.SandboxState` feeds them as it records; they are counters since the last
reset, not derived from the recordings, so they survive the eviction of old events.
Coverage is the share of accepted events that carry a *usable* value of each match key:
``email``, ``phone``, ``external_id`` hashed (plaintext is not matched), ``ip_ua`` a valid IP
with a user agent, ``ttclid``, ``ttp``. TikTok publishes no match-quality formula; the
sandbox shows coverage only, not a score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..counters import BatchSizes, bump, capped
from ..coverage import coverage
from .formats import BIT

MAX_NAMES = 1000
"""Event names with their own counters per event source (the rest are counted together)."""
OTHER_NAMES = "(other event names)"


@dataclass(slots=True)
class NameStats:
    """Counters for one event name of one event source."""

    received: int = 0
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    test_events: int = 0
    distinct_event_ids: int = 0
    without_event_id: int = 0
    limited_data_use: int = 0
    requests: int = 0
    masks: dict[int, int] = field(default_factory=dict)
    diagnostics: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "invalid": self.invalid,
            "deduplicated": self.deduplicated,
            "distinct_event_ids": self.distinct_event_ids,
            "without_event_id": self.without_event_id,
            "test_events": self.test_events,
            "limited_data_use": self.limited_data_use,
            "requests": self.requests,
            "diagnostics": dict(self.diagnostics),
            "match_key_coverage": coverage(self.masks, BIT, with_any_key=True),
        }


@dataclass(slots=True)
class SourceStats:
    """Counters for one event source: its requests by outcome and its event names."""

    event_source: str | None = None
    requests: int = 0
    ok: int = 0
    partial: int = 0
    rejected: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    events_received: int = 0
    batches: BatchSizes = field(default_factory=BatchSizes)
    names: dict[str, NameStats] = field(default_factory=dict)

    def name(self, event_name: str) -> NameStats:
        """The counters of ``event_name``, created on first use; past :data:`MAX_NAMES`
        names, new ones share the counters of :data:`OTHER_NAMES`."""
        return capped(self.names, event_name, MAX_NAMES, OTHER_NAMES, NameStats)

    def add_request(self, status: int, code: int | None) -> None:
        """Count one request by its answer: code 0, 20001, or an error
        (``<HTTP status>/<code>``; ``<HTTP status>/html`` for a proxy page)."""
        self.requests += 1
        if status == 200 and code == 0:
            self.ok += 1
        elif status == 200 and code == 20001:
            self.partial += 1
        else:
            self.rejected += 1
            key = f"{status}/{'html' if code is None else code}"
            bump(self.errors, key)

    def add_batch(self, size: int) -> None:
        self.events_received += size
        self.batches.add(size)

    def to_json(self) -> dict[str, Any]:
        return {
            "event_source": self.event_source,
            "requests": {
                "total": self.requests,
                "ok": self.ok,
                "partial": self.partial,
                "rejected": self.rejected,
                "errors": dict(self.errors),
            },
            "events_received": self.events_received,
            "batch_sizes": self.batches.to_json(),
            "events": {name: s.to_json() for name, s in sorted(self.names.items())},
        }


def totals(sources: Iterable[SourceStats]) -> dict[str, int]:
    """Request and event counts summed over ``sources``."""
    stats = list(sources)
    names = [n for s in stats for n in s.names.values()]
    return {
        "requests": sum(s.requests for s in stats),
        "ok": sum(s.ok for s in stats),
        "partial": sum(s.partial for s in stats),
        "rejected": sum(s.rejected for s in stats),
        "events_received": sum(s.events_received for s in stats),
        "accepted": sum(n.accepted for n in names),
        "invalid": sum(n.invalid for n in names),
        "deduplicated": sum(n.deduplicated for n in names),
    }
