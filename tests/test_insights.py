"""Statistics and what the dashboard reads from them: the recorder's counts (per hour, per
key mask, rejections, delivery), the views built on them, and the alert log, on every store."""

from __future__ import annotations

import pytest

from signalyard.event import AcceptedEvent
from signalyard.insights.alert_log import (
    firing_alerts,
    raise_alert,
    recent_alerts,
    resolve_alert,
)
from signalyard.insights.recorder import StatsRecorder, rejection_key
from signalyard.insights.views import (
    EventQuality,
    dedup,
    diagnostics,
    match_quality,
    overview,
    queues,
)
from signalyard.secret import Secret
from signalyard.sinks.meta.quality import MODEL as META_MODEL
from signalyard.store.base import Store

pytestmark = pytest.mark.anyio
NOW = 1_800_000_000.0
H = "a" * 64


@pytest.fixture
async def store(backend_store: Store) -> Store:
    await backend_store.add_dataset("px", name="Shop", default_country="US", now=NOW)
    return backend_store


_PLAIN = {"fbp": "fb.1.1700000000000.1234567890", "fbc": "fb.1.1700000000000.IwAR-click"}


def ev(
    i: int,
    name: str = "Purchase",
    keys: tuple[str, ...] = ("em", "client_ip_address", "client_user_agent"),
    *,
    time: float = NOW - 10,
    warnings: tuple[str, ...] = (),
    event_id: str | None = None,
    generated: bool = False,
) -> AcceptedEvent:
    user_data = {k: [H] if k in ("em", "ph") else _PLAIN.get(k, "x") for k in keys}
    return AcceptedEvent(
        "px",
        name,
        event_id or f"e{i}",
        int(time),
        {"event_name": name, "user_data": user_data},
        warnings=warnings,
        id_generated=generated,
    )


async def test_overview_counts_by_name_source_and_hour(store: Store) -> None:
    rec = StatsRecorder(store)
    rec.ingested(
        [ev(1), ev(2), ev(3, "Lead")], [True, True, False], [False] * 3, source="graph_api", now=NOW
    )
    rec.ingested([ev(4, "PageView")], [True], [False], source="browser", now=NOW - 3600)
    rec.rejected(
        "px", "graph_api", "data[0].custom_data.value", "is required for Purchase", now=NOW
    )
    await rec.flush()
    view = await overview(store, "px", now=NOW, hours=24)
    assert len(view.hours) == 24 and view.hours[-1] == int(NOW // 3600)
    by_name = {s.name: s.values for s in view.by_event_name}
    assert by_name["Purchase"][-1] == 2 and by_name["Lead"][-1] == 1
    assert by_name["PageView"][-2] == 1
    assert {s.name: s.total for s in view.by_source} == {"graph_api": 3, "browser": 1}
    assert (view.received, view.stored, view.duplicates, view.rejected) == (4, 3, 1, 1)
    # a second flush adds to the same rows
    rec.ingested([ev(5)], [True], [False], source="graph_api", now=NOW)
    await rec.flush()
    assert (await overview(store, "px", now=NOW, hours=24)).received == 5


async def test_delivery_series_and_queues(store: Store) -> None:
    d = await store.add_destination(
        "px",
        name="meta",
        kind="meta",
        options={},
        secrets={"access_token": Secret("t")},
        now=NOW,
    )
    await store.ingest([ev(1), ev(2)], now=NOW)
    rec = StatsRecorder(store)
    rec.delivered(d.id, [NOW - 5, NOW - 1], now=NOW)
    rec.dead(d.id, 1, now=NOW)
    rec.request(d.id, ok=True, now=NOW)
    rec.request(d.id, ok=False, now=NOW)
    await rec.flush()
    view = await overview(store, "px", now=NOW, hours=2)
    assert [(s.name, s.values) for s in view.delivered] == [("meta", [0, 2])]
    assert [(s.name, s.values) for s in view.failed] == [("meta", [0, 1])]
    [q] = await queues(store, "px", now=NOW)
    assert (q.destination.name, q.queued, q.due, q.held, q.dead_letters) == ("meta", 2, 2, 0, 0)
    assert q.oldest_queued_event_time == int(NOW - 10)


async def _meta_quality(store: Store) -> list[EventQuality]:
    found = await match_quality(store, "px", now=NOW, models={"meta": META_MODEL})
    return found.kinds[0].rows


async def test_match_quality_moves_as_keys_are_added(store: Store) -> None:
    await store.add_destination(
        "px", name="meta", kind="meta", options={}, secrets={"access_token": Secret("t")}, now=NOW
    )
    rec = StatsRecorder(store)
    rec.ingested(
        [ev(i, keys=("fbp",)) for i in range(10)],
        [True] * 10,
        [False] * 10,
        source="browser",
        now=NOW,
    )
    await rec.flush()
    [before] = await _meta_quality(store)
    assert before.coverage["fbp"] == 1.0 and before.coverage["em"] == 0.0
    assert any(a.startswith("em missing on 100% of Purchase events") for a in before.advice)
    assert any(
        a.startswith("fbc missing on 100% of Purchase events: landing pages lack the script")
        for a in before.advice
    )
    keys = ("fbp", "em", "ph", "client_ip_address", "client_user_agent", "fbc")
    rec.ingested(
        [ev(100 + i, keys=keys) for i in range(10)],
        [True] * 10,
        [False] * 10,
        source="browser",
        now=NOW,
    )
    await rec.flush()
    [after] = await _meta_quality(store)
    assert after.events == 20
    assert after.score > before.score
    assert after.coverage["em"] == 0.5
    # all keys on every event: the advice about them goes
    rec2 = StatsRecorder(store)
    rec2.ingested(
        [ev(200 + i, keys=(*keys, "external_id")) for i in range(200)],
        [True] * 200,
        [False] * 200,
        source="browser",
        now=NOW,
    )
    await rec2.flush()
    [best] = await _meta_quality(store)
    assert best.score > after.score
    assert not any(a.startswith("fbc missing") for a in best.advice)


def test_usable_keys_are_the_sandboxs() -> None:
    """What match quality counts as usable in a stored event is what the sandbox counts in the
    request that carries it."""
    from signalyard.insights.quality import BIT, usable_mask
    from signalyard.sandbox.meta.validate import _check_user_data

    cookie = "fb.1.1700000000000.1234567890"
    for user_data in (
        {"fbp": cookie, "fbc": cookie, "em": [H], "client_ip_address": "203.0.113.7"},
        {"fbp": H, "fbc": H[:32], "client_user_agent": "Mozilla/5.0"},
        {"fbp": "not-a-cookie", "fbc": "fb.1.1700000000.seconds", "client_user_agent": H},
        {"external_id": ["a1"], "ct": [H], "fbp": f"{cookie}.AQQCAQMB"},
    ):
        _, expected = _check_user_data(0, user_data, [])
        assert usable_mask(user_data) == expected, user_data
    assert usable_mask({"fbp": H}) == 0 and usable_mask({"fbp": cookie}) == BIT["fbp"]


async def test_dedup_pairs_duplicates_and_mismatches(store: Store) -> None:
    rec = StatsRecorder(store)
    # the script saw 4 purchases; the server sent 2 of them again (pairs), one id reused for a Lead
    rec.ingested([ev(i) for i in range(4)], [True] * 4, [False] * 4, source="browser", now=NOW)
    rec.ingested([ev(0), ev(1)], [False, False], [False, False], source="shopify", now=NOW)
    rec.ingested([ev(3, "Lead")], [True], [False], source="graph_api", now=NOW)
    rec.ingested([ev(9, generated=True)], [True], [True], source="graph_api", now=NOW)
    await rec.flush()
    rows = {r.event_name: r for r in await dedup(store, "px", now=NOW)}
    purchase = rows["Purchase"]
    assert (purchase.received, purchase.duplicates, purchase.browser_events) == (7, 2, 4)
    assert purchase.paired == 2 and purchase.pairing_rate == 0.5
    assert purchase.with_event_id == pytest.approx(6 / 7)
    assert rows["Lead"].mismatched == 1


async def test_diagnostics_catch_each_mistake(store: Store) -> None:
    rec = StatsRecorder(store)
    rec.ingested(
        [
            ev(1, warnings=("user_data.fbc: looks hashed; Meta needs fbc in plaintext",)),
            ev(
                2,
                warnings=(
                    "user_data.fbp: not in the format fb.<subdomain index>.<creation time>"
                    ".<value>; kept",
                ),
            ),
            ev(3, warnings=("user_data.em: not an email address; dropped",)),
            ev(4, time=NOW - 5 * 3600),
            ev(5, time=NOW + 300),
            ev(6, generated=True),
        ],
        [True] * 6,
        [False] * 5 + [True],
        source="graph_api",
        now=NOW,
    )
    rec.rejected(
        "px",
        "graph_api",
        "data[0].custom_data.value",
        "is required when event_name is Purchase",
        now=NOW,
    )
    rec.rejected(
        "px",
        "graph_api",
        "data[2].user_data.client_ip_address",
        "must be a valid IPv4 or IPv6 address",
        now=NOW,
    )
    await rec.flush()
    found = {d.code: d for d in await diagnostics(store, "px", now=NOW)}
    assert set(found) >= {
        "hashed_cookies",
        "malformed_cookies",
        "dropped_values",
        "late",
        "future",
        "generated_ids",
        "purchase_without_value",
        "invalid_ip",
    }
    assert found["late"].events == 1 and found["late"].event_names == ["Purchase"]
    assert found["invalid_ip"].title == "invalid IP address"
    assert found["purchase_without_value"].share == pytest.approx(1 / 8)


def test_rejection_keys_are_bounded() -> None:
    assert rejection_key("data[12].user_data.em[3]", "is 9 days old") == (
        "user_data.em",
        "is N days old",
    )
    assert rejection_key("data[0]", "must be an object") == ("", "must be an object")


async def test_alerts_fire_once_and_resolve(store: Store) -> None:
    assert await raise_alert(store, "destination_paused", "destination:1", "paused", now=NOW)
    assert not await raise_alert(
        store, "destination_paused", "destination:1", "paused", now=NOW + 1
    )
    assert await raise_alert(store, "volume_drop", "dataset:px", "volume fell", now=NOW + 2)
    assert [a.kind for a in await firing_alerts(store)] == ["destination_paused", "volume_drop"]
    resolved = await resolve_alert(store, "destination_paused", "destination:1", now=NOW + 5)
    assert resolved is not None and resolved.state == "resolved" and resolved.resolved_at == NOW + 5
    assert await resolve_alert(store, "destination_paused", "destination:1", now=NOW + 6) is None
    # it may fire again later: a new row
    assert await raise_alert(
        store, "destination_paused", "destination:1", "paused again", now=NOW + 9
    )
    log = await recent_alerts(store)
    assert [(a.state, a.message) for a in log][:2] == [
        ("firing", "paused again"),
        ("firing", "volume fell"),
    ]
    assert len(log) == 3


async def test_rollups_older_than_400_days_are_pruned(store: Store) -> None:
    from signalyard.insights.recorder import prune_rollups

    rec = StatsRecorder(store)
    old = NOW - 401 * 86400
    rec.ingested([ev(1, time=old)], [True], [False], source="graph_api", now=old)
    rec.rejected("px", "graph_api", "data[0].event_time", "too old", now=old)
    rec.ingested([ev(2)], [True], [False], source="graph_api", now=NOW)
    await rec.flush()
    assert await raise_alert(store, "volume_drop", "dataset:px", "old", now=old)
    await resolve_alert(store, "volume_drop", "dataset:px", now=old + 60)
    deleted = await prune_rollups(store, now=NOW)
    assert deleted == 4  # events, masks, rejections rows of that hour, and the old alert
    assert (await overview(store, "px", now=NOW, hours=24)).received == 1
    assert await recent_alerts(store) == []


async def test_event_names_past_the_cap_count_as_other(store: Store) -> None:
    rec = StatsRecorder(store, max_names=3)
    names = ["Purchase", "Lead", "PageView", "Made-up-1", "Made-up-2", "Purchase"]
    events = [ev(i, name) for i, name in enumerate(names)]
    rec.ingested(events, [True] * 6, [False] * 6, source="browser", now=NOW)
    await rec.flush()
    view = await overview(store, "px", now=NOW, hours=1)
    assert {s.name: s.total for s in view.by_event_name} == {
        "Purchase": 2,
        "Lead": 1,
        "PageView": 1,
        "(other)": 2,
    }
