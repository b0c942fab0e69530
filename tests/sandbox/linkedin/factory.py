"""Builders for LinkedIn Conversions API requests used by the LinkedIn sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx

from ..builders import NOW, present, sha

TOKEN = "AQV3f1c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
RULE = "104012"
URN = f"urn:lla:llaPartnerConversion:{RULE}"
ACCOUNT = "urn:li:sponsoredAccount:512345678"
EVENTS = "/rest/conversionEvents"
VERSION = "202603"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "LinkedIn-Version": VERSION,
    "X-Restli-Protocol-Version": "2.0.0",
}
BATCH = {**HEADERS, "X-RestLi-Method": "BATCH_CREATE"}


def element(
    event_id: str | None = "order-1", *, age: float = 60, **overrides: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "conversion": URN,
        "conversionHappenedAt": int((NOW - age) * 1000),
        "conversionValue": {"currencyCode": "USD", "amount": "50.0"},
        "user": {
            "userIds": [
                {"idType": "SHA256_EMAIL", "idValue": sha("john_smith@gmail.com")},
                {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "df5gf5-gh6t7"},
            ]
        },
    }
    if event_id is not None:
        out["eventId"] = event_id
    out.update(overrides)
    return present(out)


async def post(
    client: httpx.AsyncClient, elements: list[Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(EVENTS, json={"elements": elements}, headers=headers or BATCH)


async def read_rule(
    client: httpx.AsyncClient, rule: str = RULE, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.get(
        f"/rest/conversions/{rule}", params={"account": ACCOUNT}, headers=headers or HEADERS
    )
