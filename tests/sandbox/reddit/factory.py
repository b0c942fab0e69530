"""Builders for Conversions API v2.0 payloads used by the Reddit sandbox tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from ..builders import NOW, present, sha

TOKEN = "3f1c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
ACCOUNT = "a2_abc123xyz"
EVENTS = f"/api/v2.0/conversions/events/{ACCOUNT}"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def at(age: float) -> str:
    """``event_at`` ``age`` seconds before NOW (RFC 3339, UTC)."""
    when = datetime.fromtimestamp(NOW - age, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "email": sha("alice@example.com"),
        "ip_address": sha("203.0.113.7"),
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "uuid": "1799990000000.6f1c2b6e-4c9a-4a57-9d0e-2f7c1d3b8a90",
    }
    data.update(extra)
    return present(data)


def event(
    conversion_id: str | None = "order-1",
    *,
    tracking_type: str = "Purchase",
    age: float = 10,
    **overrides: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"currency": "USD", "value_decimal": 42.5, "item_count": 1}
    if conversion_id is not None:
        metadata["conversion_id"] = conversion_id
    ev: dict[str, Any] = {
        "event_at": at(age),
        "event_type": {"tracking_type": tracking_type},
        "click_id": "t2_click_example",
        "event_metadata": metadata,
        "user": user(),
    }
    ev.update(overrides)
    return ev


def body(*events: Any, **extra: Any) -> dict[str, Any]:
    return {"events": list(events), "test_mode": False, **extra}


async def post(
    client: httpx.AsyncClient,
    payload: Any,
    *,
    headers: dict[str, str] | None = None,
    path: str = EVENTS,
) -> httpx.Response:
    return await client.post(path, json=payload, headers=HEADERS if headers is None else headers)
