"""Builders for Conversions API payloads used by the sandbox tests."""

from __future__ import annotations

import hashlib
from typing import Any

NOW = 1_800_000_000.0
TOKEN = "EAAB-sandbox-test-token-0123456789"
DATASET = "1234567890"
EVENTS_PATH = f"/v26.0/{DATASET}/events"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def user_data(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "em": [sha("john_smith@gmail.com")],
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbp": "fb.1.1596403881668.1116446470",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


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
    return {k: v for k, v in ev.items() if v is not None}


def body(*events: dict[str, Any], **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"data": list(events), "access_token": TOKEN}
    out.update(params)
    return {k: v for k, v in out.items() if v is not None}
