"""Builders for Conversions API payloads used by the sandbox tests."""

from __future__ import annotations

from typing import Any

from ..builders import NOW, present, sha

TOKEN = "EAAB-sandbox-test-token-0123456789"
DATASET = "1234567890"
EVENTS_PATH = f"/v26.0/{DATASET}/events"


def user_data(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "em": [sha("john_smith@gmail.com")],
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbp": "fb.1.1596403881668.1116446470",
    }
    data.update(extra)
    return present(data)


def event(
    event_id: str | None = "order-1",
    *,
    name: str = "Purchase",
    age: float = 10,
    **overrides: Any,
) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "event_name": name,
        "event_time": int(NOW - age),
        "action_source": "website",
        "event_source_url": "https://shop.example.com/checkout",
        "user_data": user_data(),
        "custom_data": {"value": 142.52, "currency": "USD"},
    }
    if event_id is not None:
        ev["event_id"] = event_id
    ev.update(overrides)
    return present(ev)


def body(*events: dict[str, Any], **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"data": list(events), "access_token": TOKEN}
    out.update(params)
    return present(out)
