"""Builders for Conversions API v3 payloads used by the Snapchat sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx

from ..builders import NOW, present, sha

TOKEN = "3f1c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
PIXEL = "5bf81ee1-15b1-4dc1-b636-d7dae49b950e"
EVENTS = f"/v3/{PIXEL}/events"
VALIDATE = f"{EVENTS}/validate"


def user(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "em": [sha("john_smith@gmail.com")],
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "sc_cookie1": "c3a1e2d4-0b5f-4e6a-8d7c-9f1e2a3b4c5d",
    }
    data.update(extra)
    return present(data)


def event(
    event_id: str | None = "order-1",
    *,
    name: str = "PURCHASE",
    age: float = 10,
    **overrides: Any,
) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "event_name": name,
        "event_time": int(NOW - age),
        "action_source": "WEB",
        "event_source_url": "https://shop.example.com/checkout",
        "user_data": user(),
        "custom_data": {"value": 142.52, "currency": "USD"},
    }
    if event_id is not None:
        ev["event_id"] = event_id
    ev.update(overrides)
    return present(ev)


def body(*events: Any) -> dict[str, Any]:
    return {"data": list(events)}


async def post(
    client: httpx.AsyncClient, payload: Any, token: str | None = TOKEN, path: str = EVENTS
) -> httpx.Response:
    params = {} if token is None else {"access_token": token}
    return await client.post(path, json=payload, params=params)


def invalid(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Snap's INVALID body of ``r``, checked to have ``status`` and ``code``."""
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    assert out["status"] == "INVALID", out
    assert out["errors"]["codes"] == [code], out
    assert out["errors"]["error_msgs"] == [out["reason"]]
    return out
