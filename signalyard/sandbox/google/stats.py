"""The sandbox's running statistics, per conversion action (``productDestinationId``).

Counters since the last reset, not derived from the recordings, so they survive the eviction
of old events. The match-key coverage is the share of an action's received events carrying
each kind of key: a hashed email, a phone, an address, a click id (gclid, gbraid or wbraid),
and ``adUserData`` consent granted (the event's own, else the request's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..counters import bump, capped

MAX_ACTIONS = 1000
"""Conversion actions with their own counters; the rest are counted together."""
OTHER_ACTIONS = "(other conversion actions)"
COVERAGE = ("email", "phone", "address", "click_id", "consent_granted")
CLICK_IDS = frozenset({"gclid", "gbraid", "wbraid"})


def coverage_keys(keys: frozenset[str], ad_user_data: str) -> tuple[str, ...]:
    """The :data:`COVERAGE` kinds an event with these identifiers and consent counts in."""
    out: list[str] = [k for k in ("email", "phone", "address") if k in keys]
    if keys & CLICK_IDS:
        out.append("click_id")
    if ad_user_data == "CONSENT_GRANTED":
        out.append("consent_granted")
    return tuple(out)


@dataclass(slots=True)
class ActionStats:
    """Counters for one conversion action."""

    requests: int = 0
    rejected_requests: int = 0
    received: int = 0
    deduplicated: int = 0
    denied_consent: int = 0
    too_old: int = 0
    invalid: int = 0
    validated_only: int = 0
    covered: dict[str, int] = field(default_factory=dict)

    def add_event(self, kinds: tuple[str, ...]) -> None:
        self.received += 1
        for kind in kinds:
            bump(self.covered, kind)

    def to_json(self) -> dict[str, Any]:
        n = self.received
        return {
            "requests": self.requests,
            "rejected_requests": self.rejected_requests,
            "received": n,
            "deduplicated": self.deduplicated,
            "denied_consent": self.denied_consent,
            "too_old": self.too_old,
            "invalid": self.invalid,
            "validated_only": self.validated_only,
            "coverage": {k: round(self.covered.get(k, 0) / n, 4) if n else None for k in COVERAGE},
            "with_key": {k: self.covered.get(k, 0) for k in COVERAGE},
        }


class Statistics:
    """Per conversion action counters, and the request totals by outcome."""

    def __init__(self) -> None:
        self.actions: dict[str, ActionStats] = {}
        self.requests = 0
        self.accepted = 0
        self.rejected = 0
        self.errors: dict[str, int] = {}

    def action(self, conversion_action: str) -> ActionStats:
        return capped(self.actions, conversion_action, MAX_ACTIONS, OTHER_ACTIONS, ActionStats)

    def add_request(self, status: int, reason: str | None) -> None:
        self.requests += 1
        if status >= 400:
            self.rejected += 1
            key = f"{status}/{reason}" if reason else str(status)
            bump(self.errors, key)
        else:
            self.accepted += 1

    def to_json(self) -> dict[str, Any]:
        actions = self.actions.values()
        return {
            "totals": {
                "requests": self.requests,
                "accepted": self.accepted,
                "rejected": self.rejected,
                "errors": dict(self.errors),
                "events_received": sum(a.received for a in actions),
                "deduplicated": sum(a.deduplicated for a in actions),
                "invalid": sum(a.invalid for a in actions),
            },
            "conversion_actions": {k: v.to_json() for k, v in sorted(self.actions.items())},
        }
