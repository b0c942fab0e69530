"""The sandbox's running statistics: counters per dataset and per event name.

:class:`~.recorder.SandboxState` feeds them as it records requests and events (the
deduplication counters included), and builds :meth:`~.recorder.SandboxState.summary` from
them. They are counters since the last reset, not derived from the recordings, so they
survive the eviction of old events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from signalyard.insights.quality import estimate
from signalyard.sinks.meta.quality import MODEL

from ..counters import bump, capped

__all__ = ["DatasetStats", "NameStats", "totals"]

MAX_NAMES = 1000
"""Event names with their own counters per dataset (the rest are counted together)."""
OTHER_NAMES = "(other event names)"
_BATCH_BUCKETS = ((1, "1"), (10, "2-10"), (100, "11-100"), (500, "101-500"), (1000, "501-1000"))


@dataclass(slots=True)
class NameStats:
    """Counters for one event name of one dataset."""

    received: int = 0
    browser_received: int = 0
    deduplicated: int = 0
    test_events: int = 0
    distinct_event_ids: int = 0
    without_event_id: int = 0
    requests: int = 0
    pairs: dict[str, int] = field(default_factory=dict)
    masks: dict[int, int] = field(default_factory=dict)
    diagnostics: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "deduplicated": self.deduplicated,
            "distinct_event_ids": self.distinct_event_ids,
            "without_event_id": self.without_event_id,
            "test_events": self.test_events,
            "browser_events": self.browser_received,
            "requests": self.requests,
            "dedup_pairs": dict(self.pairs),
            "diagnostics": dict(self.diagnostics),
            "match_quality": estimate(self.masks, MODEL),
        }


@dataclass(slots=True)
class DatasetStats:
    """Counters for one dataset: its requests, batch sizes, and its event names."""

    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    events_received: int = 0
    batch_min: int | None = None
    batch_max: int = 0
    batch_sum: int = 0
    batch_histogram: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    names: dict[str, NameStats] = field(default_factory=dict)

    def name(self, event_name: str) -> NameStats:
        """The counters of ``event_name``, created on first use; past :data:`MAX_NAMES`
        names, new ones share the counters of :data:`OTHER_NAMES`."""
        return capped(self.names, event_name, MAX_NAMES, OTHER_NAMES, NameStats)

    def add_request(self, status: int, code: int | None, subcode: int | None) -> None:
        """Count one request to the dataset; a rejected one by ``status/code[/subcode]``."""
        self.requests += 1
        if status >= 400:
            self.rejected += 1
            key = f"{status}/{code}"
            if subcode is not None:
                key += f"/{subcode}"
            bump(self.errors, key)

    def add_batch(self, size: int) -> None:
        """Count one accepted request of ``size`` events."""
        self.accepted += 1
        self.events_received += size
        self.batch_min = size if self.batch_min is None else min(self.batch_min, size)
        self.batch_max = max(self.batch_max, size)
        self.batch_sum += size
        for limit, label in _BATCH_BUCKETS:
            if size <= limit:
                bump(self.batch_histogram, label)
                break

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": {
                "total": self.requests,
                "accepted": self.accepted,
                "rejected": self.rejected,
                "errors": dict(self.errors),
            },
            "events_received": self.events_received,
            "batch_sizes": {
                "min": self.batch_min,
                "max": self.batch_max if self.accepted else None,
                "mean": round(self.batch_sum / self.accepted, 2) if self.accepted else None,
                "histogram": dict(self.batch_histogram),
            },
            "events": {name: s.to_json() for name, s in sorted(self.names.items())},
        }


def totals(datasets: Iterable[DatasetStats]) -> dict[str, int]:
    """Request, event and deduplication counts summed over ``datasets``."""
    stats = list(datasets)
    return {
        "requests": sum(d.requests for d in stats),
        "accepted": sum(d.accepted for d in stats),
        "rejected": sum(d.rejected for d in stats),
        "events_received": sum(d.events_received for d in stats),
        "deduplicated": sum(n.deduplicated for d in stats for n in d.names.values()),
    }
