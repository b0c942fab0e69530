"""Consent in the store, on every backend: the outbox row per destination takes the state its
policy decides, held events are released (or dropped) by later consent, expire at the age
limit, and the decisions are visible; click ids reach the ledger once."""

from __future__ import annotations

import pytest

from signalyard.event import AcceptedEvent, ClickId, Consent
from signalyard.secret import Secret
from signalyard.store.base import EXPIRED_HOLD_REASON, Store
from signalyard.store.dual import fetch
from signalyard.store.inspect import consent_decisions, event_trail
from signalyard.transforms.consent import parse_rule, policy_to_json, subject_key

pytestmark = pytest.mark.anyio
NOW = 1_800_000_000.0
FBP = "fb.1.1700000000000.123456789"


@pytest.fixture
async def store(backend_store: Store) -> Store:
    await backend_store.add_dataset("px1", name="Pixel 1", default_country="DE", now=NOW)
    return backend_store


async def dest(store: Store, name: str, *rules: str) -> int:
    options: dict[str, object] = {"pixel_id": "px1"}
    if rules:
        options["consent_policy"] = policy_to_json([parse_rule(r) for r in rules])
    d = await store.add_destination(
        "px1",
        name=name,
        kind="meta",
        options=options,
        secrets={"access_token": Secret("tok")},
        now=NOW,
    )
    return d.id


def ev(
    i: int,
    state: str | None,
    region: str | None = "DE",
    *,
    time: int = int(NOW) - 10,
    clicks: tuple[ClickId, ...] = (),
    token: str | None = None,
) -> AcceptedEvent:
    consent = None
    payload: dict[str, object] = {"event_name": "Purchase", "event_id": f"id-{i}"}
    if state is not None:
        key = subject_key(token, "token") if token is not None else None
        consent = Consent(state, "script", region, subject_key(FBP), key)
        payload["_consent"] = consent.to_json()
    return AcceptedEvent(
        "px1",
        "Purchase",
        f"id-{i}",
        time,
        payload,
        source="browser",
        consent=consent,
        clicks=clicks,
        browser=FBP,
    )


async def statuses(store: Store) -> dict[str, tuple[int, int, int]]:
    return {s.destination.name: (s.queued, s.held, s.dropped) for s in await store.status(now=NOW)}


async def test_each_destination_decides_by_its_policy(store: Store) -> None:
    await dest(store, "default")  # built-in: EU pending=hold, denied=drop
    await dest(store, "strict", "EU:unknown=hold")
    await dest(store, "us-ldu", "*:denied=ldu")
    stored = await store.ingest(
        [ev(1, "granted"), ev(2, "denied"), ev(3, "pending"), ev(4, None, None)], now=NOW
    )
    assert stored == [True] * 4
    s = await statuses(store)
    # default: granted + unknown queued, denied dropped, pending held
    assert s["default"] == (2, 1, 1)
    # strict: unknown in no known region falls to '*' (full); pending held; denied dropped
    assert s["strict"] == (2, 1, 1)
    # '*:denied=ldu' matches first for everything: denied is sent with LDU
    assert s["us-ldu"] == (3, 1, 0)
    claimed = await store.claim(3, owner="w", limit=10, now=NOW, lease_seconds=30)
    actions = {c.payload["event_id"]: c.consent_action for c in claimed}
    assert actions == {"id-1": "full", "id-2": "ldu", "id-4": "full"}


async def test_decision_and_reason_are_visible(store: Store) -> None:
    d = await dest(store, "default")
    await store.ingest([ev(1, "denied"), ev(2, "denied"), ev(3, "pending")], now=NOW)
    counts = await consent_decisions(store)
    assert {(c.destination_id, c.action, c.status, c.events) for c in counts} == {
        (d, "drop", "dropped", 2),
        (d, "hold", "held", 1),
    }
    reason = next(c.reason for c in counts if c.action == "drop")
    assert reason == "consent denied (script) in DE: built-in rule EU says denied=drop"
    trail = await event_trail(store, "id-3")
    assert [(t.status, t.consent_action) for t in trail] == [("held", "hold")]
    assert "pending" in (trail[0].consent_reason or "")


async def test_late_consent_releases_held_events_with_their_time(store: Store) -> None:
    d = await dest(store, "default")
    await store.ingest([ev(1, "pending"), ev(2, "pending")], now=NOW)
    assert await store.claim(d, owner="w", limit=10, now=NOW, lease_seconds=30) == []
    update = await store.update_consent(
        "px1", subject_key(FBP), Consent("granted", "script"), now=NOW + 60
    )
    assert (update.released, update.dropped, update.still_held) == (2, 0, 0)
    claimed = await store.claim(d, owner="w", limit=10, now=NOW + 60, lease_seconds=30)
    assert sorted(c.payload["event_id"] for c in claimed) == ["id-1", "id-2"]
    assert {c.event_time for c in claimed} == {int(NOW) - 10}  # the original time
    assert {c.consent_action for c in claimed} == {"full"}
    # the hold is resolved: a second consent changes nothing
    again = await store.update_consent(
        "px1", subject_key(FBP), Consent("denied", "script"), now=NOW + 70
    )
    assert (again.released, again.dropped) == (0, 0)
    trail = await event_trail(store, "id-1")
    assert "granted" in (trail[0].consent_reason or "") and "(later)" in (
        trail[0].consent_reason or ""
    )


async def test_late_denial_drops_held_events(store: Store) -> None:
    await dest(store, "default")
    await store.ingest([ev(1, "pending")], now=NOW)
    update = await store.update_consent(
        "px1", subject_key(FBP), Consent("denied", "script"), now=NOW + 5
    )
    assert (update.released, update.dropped) == (0, 1)
    assert (await statuses(store))["default"] == (0, 0, 1)


async def test_other_subjects_stay_held(store: Store) -> None:
    await dest(store, "default")
    await store.ingest([ev(1, "pending")], now=NOW)
    update = await store.update_consent(
        "px1", subject_key("fb.1.1.other"), Consent("granted", "script"), now=NOW
    )
    assert update.released == 0
    assert (await statuses(store))["default"] == (0, 1, 0)


async def test_many_decisions_in_one_call_are_each_applied_in_order(store: Store) -> None:
    """A request's decisions go to the store in one call (one transaction): each subject's
    held rows are decided as one call each would, in order; the counts are summed."""
    await dest(store, "default")
    await store.ingest([ev(1, "pending"), ev(2, "pending")], now=NOW)
    other = subject_key("fb.1.1.other")
    update = await store.update_consents(
        [
            ("px1", other, Consent("granted", "script")),  # holds nothing
            ("px1", subject_key(FBP), Consent("granted", "script")),
            ("px1", subject_key(FBP), Consent("denied", "script")),  # resolved already
        ],
        now=NOW + 60,
    )
    assert (update.released, update.dropped, update.still_held) == (2, 0, 0)
    assert (await statuses(store))["default"] == (2, 0, 0)
    assert await store.update_consents([], now=NOW + 61) == type(update)(0, 0, 0)


async def test_a_held_subject_among_many_is_found_and_every_decision_recorded(
    store: Store,
) -> None:
    """Subjects are looked up in chunks: the one with held events may come after hundreds
    without; every decision is recorded whether it held anything or not."""
    await dest(store, "default")
    await store.ingest([ev(1, "pending")], now=NOW)
    others = [
        ("px1", subject_key(f"fb.1.1.{i}"), Consent("granted", "script")) for i in range(1200)
    ]
    decisions = [*others[:1100], ("px1", subject_key(FBP), Consent("granted", "script"))]
    update = await store.update_consents([*decisions, *others[1100:]], now=NOW + 60)
    assert (update.released, update.dropped, update.still_held) == (1, 0, 0)
    assert (await statuses(store))["default"] == (1, 0, 0)
    rows = await fetch(store, "SELECT COUNT(*) FROM consent_subjects WHERE state = 'granted'", ())
    assert int(rows[0][0]) == 1201


async def test_events_and_their_decisions_are_stored_in_one_transaction(store: Store) -> None:
    """ingest_recording: the request's events, then its decisions, committed together; a
    decision releases the subject's earlier held events and those of the same request."""
    await dest(store, "default")
    await store.ingest([ev(1, "pending")], now=NOW)
    granted = ("px1", subject_key(FBP), Consent("granted", "script"))
    stored, update = await store.ingest_recording(
        [ev(2, "pending"), ev(3, "granted")], [granted], now=NOW + 5
    )
    assert stored == [True, True]
    assert (update.released, update.dropped, update.still_held) == (2, 0, 0)
    assert (await statuses(store))["default"] == (3, 0, 0)
    rows = await fetch(store, "SELECT state FROM consent_subjects WHERE subject = ?", (granted[1],))
    assert [r[0] for r in rows] == ["granted"]
    # Without decisions it is ingest itself; a duplicate is still found.
    stored, update = await store.ingest_recording([ev(3, "granted")], [], now=NOW + 6)
    assert stored == [False] and update.released == 0


async def test_holds_expire_at_the_age_limit(store: Store) -> None:
    await dest(store, "default")
    old = int(NOW) - 7 * 86400 + 1800
    await store.ingest([ev(1, "pending", time=old), ev(2, "pending")], now=NOW)
    n = await store.expire_holds(event_time_before=NOW - 7 * 86400 + 3600, now=NOW)
    assert n == 1
    assert (await statuses(store))["default"] == (0, 1, 1)
    trail = await event_trail(store, "id-1")
    assert trail[0].status == "dropped"
    assert trail[0].consent_reason == EXPIRED_HOLD_REASON


async def test_dropped_rows_are_pruned_after_retention(store: Store) -> None:
    await dest(store, "default")
    await store.ingest([ev(1, "denied")], now=NOW)
    result = await store.prune(before=NOW + 1, now=NOW + 10)
    assert result.outbox == 1
    assert await store.event_count() == 0


async def test_click_ids_reach_the_ledger_once(store: Store) -> None:
    await dest(store, "default")
    click = ClickId("gclid", "Cj0KCQ", NOW - 100)
    await store.ingest(
        [ev(1, "granted", clicks=(click, ClickId("fbclid", "IwAR1", NOW - 50)))], now=NOW
    )
    await store.ingest([ev(2, "granted", clicks=(ClickId("gclid", "Cj0KCQ", NOW - 5),))], now=NOW)
    rows = await fetch(
        store, "SELECT kind, click_id, clicked_at, browser FROM click_ledger ORDER BY kind"
    )
    assert [tuple(r) for r in rows] == [
        ("fbclid", "IwAR1", NOW - 50, FBP),
        ("gclid", "Cj0KCQ", NOW - 100, FBP),  # the first sighting's time is kept
    ]
    later = NOW + 91 * 86400
    result = await store.prune(before=later - 7 * 86400, now=later)
    assert result.clicks == 2


async def test_the_click_ledger_keeps_a_click_90_days_after_its_first_sighting(
    store: Store,
) -> None:
    """Retention goes by when a click was first received (migration 0016): a click first seen
    late (an old ``fbc`` cookie's, an import's) stays 90 days from then, not from its own
    time; one seen on time goes 90 days after it."""
    await dest(store, "default")
    old_click = ClickId("fbclid", "IwAR-old", NOW - 80 * 86400)  # made 80 days before
    await store.ingest([ev(1, "granted", clicks=(old_click,))], now=NOW)
    # seen again later: the first sighting stays the one retention counts from
    await store.ingest([ev(3, "granted", clicks=(old_click,))], now=NOW + 30 * 86400)
    await store.ingest(
        [ev(2, "granted", clicks=(ClickId("gclid", "Cj0-new", NOW + 86400),))], now=NOW + 86400
    )
    day = 86400

    async def kept() -> list[str]:
        rows = await fetch(store, "SELECT click_id FROM click_ledger ORDER BY click_id")
        return [r[0] for r in rows]

    assert (await store.prune(before=NOW + 89 * day, now=NOW + 89 * day)).clicks == 0
    assert await kept() == ["Cj0-new", "IwAR-old"]
    # 90 days after its first sighting (170 after the click) the old one goes; not the other
    assert (await store.prune(before=NOW + 90 * day + 1, now=NOW + 90 * day + 1)).clicks == 1
    assert await kept() == ["Cj0-new"]
    assert (await store.prune(before=NOW + 91 * day + 1, now=NOW + 91 * day + 1)).clicks == 1
    assert await kept() == []


async def test_consent_given_before_the_event_decides_for_it(store: Store) -> None:
    await dest(store, "default")
    await store.update_consent("px1", subject_key(FBP), Consent("granted", "gcm"), now=NOW - 5)
    await store.ingest([ev(1, "pending"), ev(2, "unknown")], now=NOW)
    assert (await statuses(store))["default"] == (2, 0, 0)
    trail = await event_trail(store, "id-1")
    assert trail[0].consent_reason == (
        "consent granted (gcm, given earlier) in DE: built-in rule EU says granted=full"
    )
    # a later denial is recorded too, and decides for events after it
    await store.update_consent("px1", subject_key(FBP), Consent("denied", "gcm"), now=NOW + 5)
    await store.ingest([ev(3, "pending")], now=NOW + 6)
    assert (await statuses(store))["default"] == (2, 0, 1)
    # an event that states its own decision keeps it
    await store.ingest([ev(4, "granted")], now=NOW + 7)
    assert (await statuses(store))["default"] == (3, 0, 1)


# --- a browser's consent token (events from /collect) ------------------------------------------

TOKEN = "browser-a-token-0123456789abcdef"
OTHER = "browser-b-token-0123456789abcdef"


async def test_browser_events_are_released_only_under_their_own_token(store: Store) -> None:
    """An event from a page is held under its fbp and its browser's token: the token releases
    that browser's events only; another token with the same fbp releases nothing."""
    d = await dest(store, "default")
    await store.ingest([ev(1, "pending", token=TOKEN), ev(2, "pending", token=OTHER)], now=NOW)
    keys = await fetch(store, "SELECT subject FROM consent_holds ORDER BY subject")
    assert sorted(r[0] for r in keys) == sorted(
        [subject_key(FBP)] * 2 + [subject_key(TOKEN, "token"), subject_key(OTHER, "token")]
    )
    update = await store.update_consent(
        "px1", subject_key(TOKEN, "token"), Consent("granted", "api"), now=NOW + 5
    )
    assert (update.released, update.dropped, update.still_held) == (1, 0, 0)
    claimed = await store.claim(d, owner="w", limit=10, now=NOW + 5, lease_seconds=30)
    assert [c.payload["event_id"] for c in claimed] == ["id-1"]
    # the released event's holds are gone under both keys; the other browser's stay
    left = await fetch(store, "SELECT subject, event_pk FROM consent_holds")
    assert sorted(r[0] for r in left) == sorted([subject_key(FBP), subject_key(OTHER, "token")])
    # an authenticated sender naming the fbp still reaches the browser's held events
    by_fbp = await store.update_consent(
        "px1", subject_key(FBP), Consent("granted", "api"), now=NOW + 6
    )
    assert by_fbp.released == 1
    assert await fetch(store, "SELECT subject FROM consent_holds") == []


async def test_a_decision_under_a_token_decides_only_for_that_token(store: Store) -> None:
    await dest(store, "default")
    await store.update_consent(
        "px1", subject_key(OTHER, "token"), Consent("granted", "api"), now=NOW - 5
    )
    await store.ingest([ev(1, "pending", token=TOKEN), ev(2, "pending", token=OTHER)], now=NOW)
    assert (await statuses(store))["default"] == (1, 1, 0)
    assert (await event_trail(store, "id-1"))[0].status == "held"
    assert (await event_trail(store, "id-2"))[0].status == "queued"


async def test_the_later_of_subject_and_token_decisions_wins(store: Store) -> None:
    await dest(store, "default")
    await store.update_consent("px1", subject_key(FBP), Consent("granted", "api"), now=NOW - 9)
    await store.update_consent(
        "px1", subject_key(TOKEN, "token"), Consent("denied", "api"), now=NOW - 5
    )
    await store.ingest([ev(1, "pending", token=TOKEN)], now=NOW)
    assert (await event_trail(store, "id-1"))[0].status == "dropped"
    await store.update_consent("px1", subject_key(FBP), Consent("granted", "api"), now=NOW + 1)
    await store.ingest([ev(2, "pending", token=TOKEN)], now=NOW + 2)
    assert (await event_trail(store, "id-2"))[0].status == "queued"
