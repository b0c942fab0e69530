"""Requests as a Pinterest client sends them, for the sandbox tests."""

from __future__ import annotations

from typing import Any

from ..builders import NOW, sha

ACCOUNT = "549755885175"
EVENTS = f"/v5/ad_accounts/{ACCOUNT}/events"
TOKEN = "pinterestsandboxtoken0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def event(event_id: str = "order-1", **overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": int(NOW) - 60,
        "event_id": event_id,
        "event_source_url": "https://shop.example/thanks",
        "user_data": {
            "em": [sha("jane@example.com")],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
        },
        "custom_data": {"currency": "USD", "value": "42.50"},
    }
    out.update(overrides)
    return out


def body(*events: dict[str, Any]) -> dict[str, Any]:
    return {"data": list(events or (event(),))}
