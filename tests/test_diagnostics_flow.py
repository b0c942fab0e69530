"""The dashboard's diagnostics catch each mistake on crafted events sent through the real
Graph-compatible endpoint (issue 5): hashed fbc/fbp, plaintext in hashed fields, events sent
late, future timestamps, Purchase without value, invalid IPs."""

from __future__ import annotations

from typing import Any

import pytest

from signalyard.clock import FrozenClock
from signalyard.insights.views import diagnostics
from signalyard.sources.auth import new_key
from signalyard.store.sqlite import SQLiteStore
from tests.test_app import make, running

pytestmark = pytest.mark.anyio
DATASET = "1234567890"
HASH = "5f" * 32


def event(now: float, i: int, **changes: Any) -> dict[str, Any]:
    user_data = {
        "em": [HASH],
        "client_ip_address": "203.0.113.9",
        "client_user_agent": "Mozilla/5.0",
        "fbp": "fb.1.1700000000000.123",
    }
    user_data.update(changes.pop("user_data", {}))
    return {
        "event_name": "Purchase",
        "event_id": f"e{i}",
        "event_time": int(now) - 10,
        "action_source": "website",
        "event_source_url": "https://shop.example/thanks",
        "custom_data": {"value": 10.0, "currency": "USD"},
        "user_data": user_data,
        **changes,
    }


async def test_each_mistake_is_diagnosed(sqlite_url: str, clock: FrozenClock) -> None:
    setup = SQLiteStore(sqlite_url)
    await setup.open()
    key = new_key()
    now = clock.now()
    await setup.add_dataset(DATASET, name="Shop", default_country="US", now=now)
    await setup.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="", now=now)
    await setup.close()

    crafted_ok = [
        event(now, 1, user_data={"fbc": HASH}),  # hashed fbc
        event(now, 2, user_data={"fbp": HASH}),  # hashed fbp
        event(now, 3, user_data={"em": "Jane.Doe@Example.com"}),  # plaintext in a hashed field
        event(now, 4, event_time=int(now) - 2 * 3600),  # sent late
        event(now, 5, event_time=int(now) + 300),  # in the future (within the accepted skew)
    ]
    crafted_refused = [
        event(now, 6, custom_data={"currency": "USD"}),  # Purchase without value
        event(now, 7, user_data={"client_ip_address": "999.1.1.1"}),  # invalid IP
    ]
    async with running(make(sqlite_url, clock, sandbox=False)) as client:
        url = f"/v26.0/{DATASET}/events?access_token={key.secret}"
        r = await client.post(url, json={"data": crafted_ok})
        assert r.status_code == 200, r.text
        for e in crafted_refused:
            r = await client.post(url, json={"data": [e]})
            assert r.status_code == 400, r.text
    # the app's statistics were flushed when it stopped
    store = SQLiteStore(sqlite_url)
    await store.open()
    try:
        found = {d.code: d for d in await diagnostics(store, DATASET, now=now)}
    finally:
        await store.close()
    assert found["hashed_cookies"].events == 2
    assert found["plaintext_pii"].events == 1
    assert found["late"].events == 1
    assert found["future"].events == 1
    assert found["purchase_without_value"].events == 1
    assert found["invalid_ip"].events == 1
    assert all(d.event_names in ([], ["Purchase"]) for d in found.values())
