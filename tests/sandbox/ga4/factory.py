"""Requests as a GA4 sender makes them, for the sandbox's tests."""

from __future__ import annotations

from typing import Any

import httpx

from ..builders import NOW, present

MEASUREMENT_ID = "G-TEST12345"
SECRET = "sandboxApiSecret_0123"
CLIENT_ID = "1234567890.1799990000"
HEX = "a" * 64


def event(name: str = "purchase", event_id: str | None = "e1", **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"transaction_id": "T-1", "currency": "USD", "value": 10.5}
    if event_id is not None:
        out["event_id"] = event_id
    out.update(params)
    return {"name": name, "params": out}


def body(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "timestamp_micros": int(NOW - 60) * 1_000_000,
        "user_data": {"sha256_email_address": [HEX], "sha256_phone_number": [HEX]},
        "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
        "ip_override": "203.0.113.7",
        "events": list(events) or [event()],
    }
    out.update(fields)
    return present(out)


def query(
    measurement_id: str | None = MEASUREMENT_ID, secret: str | None = SECRET
) -> dict[str, str]:
    out = {}
    if measurement_id is not None:
        out["measurement_id"] = measurement_id
    if secret is not None:
        out["api_secret"] = secret
    return out


async def collect(client: httpx.AsyncClient, payload: Any, **q: Any) -> httpx.Response:
    return await client.post("/mp/collect", params=query(**q), json=payload)


async def debug(client: httpx.AsyncClient, payload: Any, **q: Any) -> httpx.Response:
    return await client.post("/debug/mp/collect", params=query(**q), json=payload)


async def messages(client: httpx.AsyncClient, payload: Any, **q: Any) -> list[dict[str, str]]:
    response = await debug(client, payload, **q)
    assert response.status_code == 200, response.text
    found: list[dict[str, str]] = response.json()["validationMessages"]
    return found
