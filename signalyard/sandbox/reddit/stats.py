"""The sandbox's running statistics: counters per ad account and per event name, and the
match-key coverage of the accepted events.

:class:`~.recorder.SandboxState` feeds them as it records; they are counters since the last
reset, not derived from the recordings, so they survive the eviction of old events.
Coverage is the share of accepted events that carry a *usable* value of each match key:
``email``, ``phone_number``, ``external_id``, ``ip_ua`` (``ip_address`` with
``user_agent``), ``click_id``, ``uuid``. Reddit publishes no match-quality formula; the
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
"""Event names with their own counters per ad account (the rest are counted together)."""
OTHER_NAMES = "(other event names)"


@dataclass(slots=True)
class NameStats:
    """Counters for one event name (tracking type, or custom name) of one ad account."""

    received: int = 0
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    test_events: int = 0
    distinct_conversion_ids: int = 0
    without_conversion_id: int = 0
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
            "distinct_conversion_ids": self.distinct_conversion_ids,
            "without_conversion_id": self.without_conversion_id,
            "test_events": self.test_events,
            "limited_data_use": self.limited_data_use,
            "requests": self.requests,
            "diagnostics": dict(self.diagnostics),
            "match_key_coverage": coverage(self.masks, BIT, with_any_key=True),
        }


@dataclass(slots=True)
class AccountStats:
    """Counters for one ad account: its requests by outcome and its event names."""

    requests: int = 0
    ok: int = 0
    rejected: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    events_received: int = 0
    batches: BatchSizes = field(default_factory=BatchSizes)
    names: dict[str, NameStats] = field(default_factory=dict)

    def name(self, event_name: str) -> NameStats:
        """The counters of ``event_name``, created on first use; past :data:`MAX_NAMES`
        names, new ones share the counters of :data:`OTHER_NAMES`."""
        return capped(self.names, event_name, MAX_NAMES, OTHER_NAMES, NameStats)

    def add_request(self, status: int) -> None:
        """Count one request by its HTTP status (errors as ``"<status>"``)."""
        self.requests += 1
        if status == 200:
            self.ok += 1
        else:
            self.rejected += 1
            bump(self.errors, str(status))

    def add_batch(self, size: int) -> None:
        self.events_received += size
        self.batches.add(size)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": {
                "total": self.requests,
                "ok": self.ok,
                "rejected": self.rejected,
                "errors": dict(self.errors),
            },
            "events_received": self.events_received,
            "batch_sizes": self.batches.to_json(),
            "events": {name: s.to_json() for name, s in sorted(self.names.items())},
        }


def totals(accounts: Iterable[AccountStats]) -> dict[str, int]:
    """Request and event counts summed over ``accounts``."""
    stats = list(accounts)
    names = [n for s in stats for n in s.names.values()]
    return {
        "requests": sum(s.requests for s in stats),
        "ok": sum(s.ok for s in stats),
        "rejected": sum(s.rejected for s in stats),
        "events_received": sum(s.events_received for s in stats),
        "accepted": sum(n.accepted for n in names),
        "invalid": sum(n.invalid for n in names),
        "deduplicated": sum(n.deduplicated for n in names),
    }
