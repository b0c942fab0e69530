"""The sandbox's running statistics per conversion rule: counters since the last reset (so
they survive the eviction of old events) and the user-id coverage of the accepted events:
the share carrying a ``SHA256_EMAIL``, a ``li_fat_id``, ``userInfo``, another id type.
LinkedIn publishes no match-quality formula; the sandbox shows coverage only, not a score.
Only counts: no id value, name or e-mail is ever kept here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..counters import bump
from ..coverage import coverage
from .validate import BIT

MAX_RULES = 1000
"""Conversion rules with their own statistics; more are counted under OTHER_RULES."""
OTHER_RULES = "(other rules)"


@dataclass(slots=True)
class RuleStats:
    """Counters for one conversion rule."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    received: int = 0
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    without_event_id: int = 0
    masks: dict[int, int] = field(default_factory=dict)
    diagnostics: dict[str, int] = field(default_factory=dict)

    def add_request(self, status: int) -> None:
        self.requests += 1
        bump(self.statuses, status)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "received": self.received,
            "accepted": self.accepted,
            "invalid": self.invalid,
            "deduplicated": self.deduplicated,
            "without_event_id": self.without_event_id,
            "diagnostics": dict(sorted(self.diagnostics.items())),
            "coverage": coverage(self.masks, BIT),
        }


def totals(rules: Iterable[RuleStats]) -> dict[str, int]:
    out = {"requests": 0, "received": 0, "accepted": 0, "invalid": 0, "deduplicated": 0}
    for r in rules:
        out["requests"] += r.requests
        out["received"] += r.received
        out["accepted"] += r.accepted
        out["invalid"] += r.invalid
        out["deduplicated"] += r.deduplicated
    return out
