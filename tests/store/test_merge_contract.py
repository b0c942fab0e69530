"""A richer duplicate merged into the stored copy, on every backend: keys the stored copy
lacks are added while it waits for delivery (never overwriting a value, never widening its
consent), both sources are recorded, a copy that arrives after delivery is reported late, and
concurrent merges of one event all land (no lost update). A copy anyone can send (the
browser's ``/collect``) is never merged, and a copy arriving while the stored one is being
sent changes nothing (the stored event shows what the platform received)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from signalyard.event import AcceptedEvent, Consent
from signalyard.secret import Secret
from signalyard.store.base import MergeResult, Store
from signalyard.store.dual import fetch
from signalyard.transforms.user_data import MAX_VALUES_PER_KEY

pytestmark = pytest.mark.anyio
NOW = 1_800_000_000.0
FBP = "fb.1.1700000000000.123456789"
EM1, EM2, EM3 = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture
async def store(backend_store: Store) -> Store:
    await backend_store.add_dataset("px1", name="Pixel 1", default_country="US", now=NOW)
    await backend_store.add_destination(
        "px1",
        name="meta",
        kind="meta",
        options={"pixel_id": "px1"},
        secrets={"access_token": Secret("tok")},
        now=NOW,
    )
    return backend_store


def ev(
    user_data: dict[str, Any], *, source: str, consent: str | None = None, eid: str = "order-3000"
) -> AcceptedEvent:
    payload: dict[str, Any] = {"event_name": "Purchase", "event_id": eid, "user_data": user_data}
    state = None
    if consent is not None:
        state = Consent(consent, "api")
        payload["_consent"] = state.to_json()
    return AcceptedEvent(
        "px1", "Purchase", eid, int(NOW) - 10, payload, source=source, consent=state
    )


BROWSER = {"fbp": FBP}
SERVER = {
    "em": [EM1],
    "client_ip_address": "203.0.113.7",
    "client_user_agent": "Mozilla/5.0",
    "fbp": "fb.1.1700000000000.999",
}


async def sent_payload(store: Store) -> dict[str, Any]:
    (claimed,) = await store.claim(1, owner="w", limit=10, now=NOW + 5, lease_seconds=30)
    return claimed.payload


async def stored_payload(store: Store, eid: str = "order-3000") -> dict[str, Any]:
    (row,) = await fetch(store, "SELECT payload FROM events WHERE event_id = ?", (eid,))
    payload: dict[str, Any] = orjson.loads(row[0])
    return payload


async def test_server_copy_merges_into_the_browser_copy_before_delivery(store: Store) -> None:
    assert await store.ingest([ev(BROWSER, source="browser")], now=NOW) == [True]
    server = ev(SERVER, source="graph_api")
    assert await store.ingest([server], now=NOW + 1) == [False]
    (result,) = await store.merge_duplicates([server], now=NOW + 1)
    assert result == MergeResult("merged", ("em", "client_ip_address", "client_user_agent"))
    payload = await sent_payload(store)
    assert payload["user_data"] == {
        "fbp": FBP,  # the browser's value is kept, not overwritten by the server's
        "em": [EM1],
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0",
    }
    assert payload["_sources"] == ["browser", "graph_api"]


async def test_list_keys_gain_new_values_up_to_the_cap_and_a_cut_is_reported(
    store: Store,
) -> None:
    """The cap is validation's (20 per key, what every event may carry), and the keys whose
    values did not all fit are named."""
    assert MAX_VALUES_PER_KEY == 20
    await store.ingest([ev({"em": [EM1]}, source="graph_api")], now=NOW)
    more = ev({"em": [EM2, EM1, EM3]}, source="shopify")
    await store.ingest([more], now=NOW)
    assert await store.merge_duplicates([more], now=NOW) == [MergeResult("merged", ("em",))]
    # 3 stored + 20 new: 17 fit
    many = ev({"em": [f"{i:064x}" for i in range(20)], "ph": [EM1]}, source="woocommerce")
    assert await store.merge_duplicates([many], now=NOW) == [
        MergeResult("merged", ("em", "ph"), cut=("em",))
    ]
    # full already: nothing added, the cut still said
    full = ev({"em": ["d" * 64]}, source="graph_api")
    assert await store.merge_duplicates([full], now=NOW) == [MergeResult("same", cut=("em",))]
    payload = await sent_payload(store)
    em = payload["user_data"]["em"]
    assert em[:3] == [EM1, EM2, EM3]
    assert len(em) == MAX_VALUES_PER_KEY
    assert payload["_sources"] == ["graph_api", "shopify", "woocommerce"]


async def test_a_browser_copy_is_never_merged(store: Store) -> None:
    """Anyone can send a /collect copy (no key) of a predictable event id: merged, it would
    attach the sender's browser ids, address and agent to another customer's purchase."""
    await store.ingest([ev({"em": [EM1]}, source="graph_api")], now=NOW)
    before = await stored_payload(store)
    attacker = {
        "fbp": "fb.1.1700000000000.666",
        "fbc": "fb.1.1700000000000.IwAR-attacker",
        "client_ip_address": "198.51.100.66",
        "client_user_agent": "Attacker/1.0",
        "em": [EM2],
    }
    assert await store.merge_duplicates([ev(attacker, source="browser")], now=NOW) == [
        MergeResult("same")
    ]
    assert await stored_payload(store) == before
    # nor into a browser's own copy: that one is anyone's too
    await store.ingest([ev(BROWSER, source="browser", eid="o2")], now=NOW)
    before = await stored_payload(store, "o2")
    assert await store.merge_duplicates([ev(attacker, source="browser", eid="o2")], now=NOW) == [
        MergeResult("same")
    ]
    assert await stored_payload(store, "o2") == before


async def test_nothing_new_is_a_plain_duplicate(store: Store) -> None:
    await store.ingest([ev(SERVER, source="graph_api")], now=NOW)
    again = ev({"em": [EM1], "fbp": "fb.1.1.2"}, source="browser")
    assert await store.merge_duplicates([again], now=NOW) == [MergeResult("same")]
    assert "_sources" not in await sent_payload(store)


async def test_a_copy_arriving_after_delivery_is_late_and_changes_nothing(store: Store) -> None:
    await store.ingest([ev(BROWSER, source="browser")], now=NOW)
    (claimed,) = await store.claim(1, owner="w", limit=10, now=NOW, lease_seconds=30)
    assert await store.settle_delivered([claimed.outbox_id], owner="w", now=NOW + 1) == 1
    server = ev(SERVER, source="graph_api")
    (result,) = await store.merge_duplicates([server], now=NOW + 2)
    assert result == MergeResult("late", ("em", "client_ip_address", "client_user_agent"))
    assert await store.claim(1, owner="w", limit=10, now=NOW + 5, lease_seconds=30) == []


async def test_a_copy_arriving_while_the_first_is_being_sent_is_late_and_changes_nothing(
    store: Store,
) -> None:
    """The send in flight carries the payload read when it was claimed: written now, the
    stored event (and the dashboard) would show keys the platform never received."""
    await store.ingest([ev(BROWSER, source="browser")], now=NOW)
    before = await stored_payload(store)
    (claimed,) = await store.claim(1, owner="w", limit=10, now=NOW, lease_seconds=30)
    (result,) = await store.merge_duplicates([ev(SERVER, source="graph_api")], now=NOW + 1)
    assert result == MergeResult("late", ("em", "client_ip_address", "client_user_agent"))
    assert await stored_payload(store) == before
    assert await store.settle_delivered([claimed.outbox_id], owner="w", now=NOW + 2) == 1
    assert await stored_payload(store) == before  # what the platform received


async def test_consent_is_never_widened(store: Store) -> None:
    await store.ingest([ev(BROWSER, source="browser", consent="granted")], now=NOW)
    denied = ev(SERVER, source="graph_api", consent="denied")
    (result,) = await store.merge_duplicates([denied], now=NOW)
    assert result.outcome == "stricter_consent"
    assert (await sent_payload(store))["user_data"] == BROWSER
    # a copy that states no consent (a server that does not pass it on) restricts nothing
    await store.ingest([ev(BROWSER, source="browser", consent="granted", eid="o3")], now=NOW)
    silent = ev(SERVER, source="graph_api", eid="o3")
    assert (await store.merge_duplicates([silent], now=NOW))[0].outcome == "merged"
    # a looser copy merges, and the stored (stricter) consent stays
    await store.ingest([ev(BROWSER, source="browser", consent="pending", eid="o2")], now=NOW)
    before = [(s.queued, s.held, s.dropped) for s in await store.status(now=NOW)]
    looser = ev(SERVER, source="graph_api", consent="granted", eid="o2")
    assert (await store.merge_duplicates([looser], now=NOW))[0].outcome == "merged"
    assert [(s.queued, s.held, s.dropped) for s in await store.status(now=NOW)] == before


async def test_concurrent_merges_of_one_event_all_land(store: Store) -> None:
    await store.ingest([ev(BROWSER, source="browser")], now=NOW)
    copies = [
        ev({"em": [EM1]}, source="graph_api"),
        ev({"client_ip_address": "203.0.113.7"}, source="shopify"),
        ev({"client_user_agent": "Mozilla/5.0"}, source="woocommerce"),
        ev({"ph": [EM2]}, source="import"),
    ]
    results = await asyncio.gather(*(store.merge_duplicates([c], now=NOW) for c in copies))
    assert [r[0].outcome for r in results] == ["merged"] * 4
    payload = await sent_payload(store)
    assert set(payload["user_data"]) == {
        "fbp",
        "em",
        "client_ip_address",
        "client_user_agent",
        "ph",
    }
    assert sorted(payload["_sources"]) == [
        "browser",
        "graph_api",
        "import",
        "shopify",
        "woocommerce",
    ]
