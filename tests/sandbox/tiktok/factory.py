"""Builders for Events API 2.0 payloads used by the TikTok sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx

from ..builders import NOW, present, sha

TOKEN = "3f1c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
PIXEL = "CABC123DEF456GHI789J"
TRACK = "/open_api/v1.3/event/track/"
HEADERS = {"Access-Token": TOKEN}


def user(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "email": sha("john_smith@gmail.com"),
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "ttp": "2cFzPqv0xKo8w3qYzdLnJbqXtSe",
    }
    data.update(extra)
    return present(data)


def event(
    event_id: str | None = "order-1",
    *,
    name: str = "CompletePayment",
    age: float = 10,
    **overrides: Any,
) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "event": name,
        "event_time": int(NOW - age),
        "user": user(),
        "properties": {"value": 142.52, "currency": "USD"},
        "page": {"url": "https://shop.example.com/checkout"},
    }
    if event_id is not None:
        ev["event_id"] = event_id
    ev.update(overrides)
    return present(ev)


def body(*events: Any, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"event_source": "web", "event_source_id": PIXEL, "data": list(events)}
    out.update(fields)
    return present(out)


async def track(
    client: httpx.AsyncClient, payload: Any, token: str | None = TOKEN, path: str = TRACK
) -> httpx.Response:
    headers = {} if token is None else {"Access-Token": token}
    return await client.post(path, json=payload, headers=headers)


def answer(r: httpx.Response, code: int) -> dict[str, Any]:
    """TikTok's body of ``r`` (HTTP 200, the four keys), checked to have ``code``."""
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    assert set(out) == {"code", "message", "request_id", "data"}, out
    assert out["code"] == code, out
    assert r.headers["x-tt-logid"] == out["request_id"]
    return out
