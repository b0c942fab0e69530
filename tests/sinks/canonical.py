"""The parts of a canonical stored event (Meta's shape, hashed by Meta's rules) that every
platform's ``events.py`` builds its own events from; hashes computed here with hashlib."""

from __future__ import annotations

import hashlib
from typing import Any

EVENT_TIME = 1_799_996_400  # an hour before FrozenClock's default start
NOW = 1_800_000_000.0


def sha256(text: str) -> str:
    """SHA-256 hex of ``text`` in UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def minimal() -> dict[str, Any]:
    """A website PageView with only its IP address and user agent."""
    return {
        "event_name": "PageView",
        "event_time": EVENT_TIME,
        "action_source": "website",
        "event_source_url": "https://shop.example/",
        "user_data": {
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        },
    }


def person() -> dict[str, list[str]]:
    """John Smith's hashed name and address (Menlo Park, CA 94025, US), as ``user_data``."""
    return {
        "fn": [sha256("john")],
        "ln": [sha256("smith")],
        "zp": [sha256("94025")],
        "ct": [sha256("menlopark")],
        "st": [sha256("ca")],
        "country": [sha256("us")],
    }


def device() -> dict[str, str]:
    """An iPhone's IP address, user agent and Meta browser ids, as ``user_data``."""
    return {
        "client_ip_address": "2001:db8::7",
        "client_user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)",
        "fbc": "fb.1.1799990000000.IwAR2xExampleClickId",
        "fbp": "fb.1.1799980000000.1234567890",
    }
