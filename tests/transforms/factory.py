"""Events for the transforms tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

NOW = 1_800_000_000.0
"""The frozen wall clock of these tests (2027-01-15)."""


def event(**overrides: Any) -> dict[str, Any]:
    """A valid website Purchase; ``overrides`` replace top-level fields (``None`` removes)."""
    base: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(NOW) - 60,
        "event_id": "order-1001",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout/thanks",
        "user_data": {
            "em": "John_Smith@gmail.com",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        },
        "custom_data": {"currency": "usd", "value": 142.52},
    }
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def ids() -> Callable[[], str]:
    """A ``new_id`` that returns ``id-1``, ``id-2``..."""
    counter = itertools.count(1)
    return lambda: f"id-{next(counter)}"
