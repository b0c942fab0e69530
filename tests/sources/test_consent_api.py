"""``POST /consent/{dataset}``: a server tells Signalyard about consent given later; the held
events of that subject are decided again. Authenticated with an ingest key."""

from __future__ import annotations

import pytest

from signalyard.clock import FrozenClock
from signalyard.secret import Secret
from signalyard.sources.auth import new_key
from signalyard.store.inspect import event_trail
from signalyard.store.sqlite import SQLiteStore
from tests.test_app import make, running

pytestmark = pytest.mark.anyio
DATASET = "1234567890"


async def setup(sqlite_url: str, clock: FrozenClock) -> str:
    store = SQLiteStore(sqlite_url)
    await store.open()
    key = new_key()
    now = clock.now()
    await store.add_dataset(DATASET, name="Shop", default_country="FR", now=now)
    await store.add_key(DATASET, key_id=key.id, key_hash=key.key_hash, label="", now=now)
    await store.add_destination(
        DATASET,
        name="meta",
        kind="meta",
        options={"pixel_id": DATASET},
        secrets={"access_token": Secret("t")},
        now=now,
    )
    await store.close()
    return key.secret


def lead(clock: FrozenClock, i: int, consent: object) -> dict[str, object]:
    return {
        "event_name": "Lead",
        "event_id": f"lead-{i}",
        "event_time": int(clock.now()) - 60,
        "action_source": "system_generated",
        "user_data": {"em": ["ab" * 32]},
        "consent": consent,
    }


async def trail_status(sqlite_url: str, event_id: str) -> tuple[str, str | None]:
    store = SQLiteStore(sqlite_url)
    await store.open()
    try:
        (t,) = await event_trail(store, event_id)
    finally:
        await store.close()
    return t.status, t.consent_reason


async def test_a_later_consent_releases_the_subjects_held_events(
    sqlite_url: str, clock: FrozenClock
) -> None:
    token = await setup(sqlite_url, clock)
    async with running(make(sqlite_url, clock, sandbox=False)) as client:
        events = [
            lead(clock, 1, {"state": "pending", "subject": "customer-42"}),
            lead(clock, 2, {"state": "pending", "subject": "customer-42"}),
            lead(clock, 3, {"state": "pending", "subject": "customer-7"}),
        ]
        r = await client.post(
            f"/v26.0/{DATASET}/events?access_token={token}", json={"data": events}
        )
        assert r.status_code == 200, r.text
        r = await client.post(
            f"/consent/{DATASET}",
            json={"subject": "customer-42", "state": "granted", "source": "api"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"released": 2, "dropped": 0, "still_held": 0}
        r = await client.post(
            f"/consent/{DATASET}?access_token={token}",
            json={"subject": "customer-7", "state": "denied"},
        )
        assert r.json() == {"released": 0, "dropped": 1, "still_held": 0}
    status, reason = await trail_status(sqlite_url, "lead-1")
    assert status == "queued"
    assert reason == "consent granted (api) in FR: built-in rule EU says granted=full (later)"
    assert (await trail_status(sqlite_url, "lead-3"))[0] == "dropped"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"subject": "x", "state": "granted"}, 401, "access_token"),
        ({"state": "granted"}, 400, "subject"),
        ({"subject": "x", "fbp": "fb.1.1.2", "state": "granted"}, 400, "subject"),
        ({"subject": "", "state": "granted"}, 400, "subject"),
        ({"subject": "x", "state": "pending"}, 400, "state"),
        ({"subject": "x", "state": "granted", "source": "banner"}, 400, "consent.source"),
    ],
)
async def test_bad_requests_name_the_field(
    sqlite_url: str, clock: FrozenClock, body: dict[str, object], status: int, field: str
) -> None:
    token = await setup(sqlite_url, clock)
    async with running(make(sqlite_url, clock, sandbox=False)) as client:
        query = "" if status == 401 else f"?access_token={token}"
        r = await client.post(f"/consent/{DATASET}{query}", json=body)
        assert r.status_code == status, r.text
        assert r.json()["error"]["field"] == field
