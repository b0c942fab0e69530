"""The sandbox's running statistics: counters per asset (pixel or app) and per event name, and
the match-key coverage of the accepted events.

:class:`~.recorder.SandboxState` feeds them as it records; they are counters since the last
reset, so they survive the eviction of old events. Coverage is the share of accepted events
carrying a *usable* value of each key: ``em``, ``ph``, ``external_id`` hashed,
``ip_ua`` a valid IP with a user agent, ``sc_click_id``, ``sc_cookie1``. Snap publishes no
match-quality formula; the sandbox shows coverage only, not a score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..counters import bump, capped
from ..coverage import coverage
from .formats import BIT

MAX_NAMES = 1000
OTHER_NAMES = "(other event names)"


@dataclass(slots=True)
class NameStats:
    received: int = 0
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    test_events: int = 0
    without_event_id: int = 0
    limited_use: int = 0
    masks: dict[int, int] = field(default_factory=dict)
    diagnostics: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "invalid": self.invalid,
            "deduplicated": self.deduplicated,
            "without_event_id": self.without_event_id,
            "test_events": self.test_events,
            "limited_use": self.limited_use,
            "diagnostics": dict(self.diagnostics),
            "match_key_coverage": coverage(self.masks, BIT),
        }


@dataclass(slots=True)
class AssetStats:
    """Counters for one asset: its requests by answer and its event names."""

    requests: int = 0
    valid: int = 0
    refused: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    events_received: int = 0
    batch_max: int = 0
    names: dict[str, NameStats] = field(default_factory=dict)

    def name(self, event_name: str) -> NameStats:
        return capped(self.names, event_name, MAX_NAMES, OTHER_NAMES, NameStats)

    def add_request(self, status: int, code: str | None) -> None:
        """Count one request: ``valid`` (HTTP 200), or refused by ``<status>/<code>``."""
        self.requests += 1
        if status == 200:
            self.valid += 1
        else:
            self.refused += 1
            bump(self.errors, f"{status}/{code or 'html'}")

    def add_batch(self, size: int) -> None:
        self.events_received += size
        self.batch_max = max(self.batch_max, size)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": {
                "total": self.requests,
                "valid": self.valid,
                "refused": self.refused,
                "errors": dict(self.errors),
            },
            "events_received": self.events_received,
            "largest_batch": self.batch_max,
            "events": {name: s.to_json() for name, s in sorted(self.names.items())},
        }


def totals(assets: Iterable[AssetStats]) -> dict[str, int]:
    stats = list(assets)
    names = [n for s in stats for n in s.names.values()]
    return {
        "requests": sum(s.requests for s in stats),
        "valid": sum(s.valid for s in stats),
        "refused": sum(s.refused for s in stats),
        "events_received": sum(s.events_received for s in stats),
        "accepted": sum(n.accepted for n in names),
        "invalid": sum(n.invalid for n in names),
        "deduplicated": sum(n.deduplicated for n in names),
    }
