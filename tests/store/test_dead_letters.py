"""Dead letters selected in the store's query (each backend): by id however old, and by a
:class:`ReplayRule` (error code, reason, event age) however many others died since."""

from __future__ import annotations

import pytest

from signalyard.event import AcceptedEvent
from signalyard.secret import Secret
from signalyard.store.base import DEAD_LETTER_IDS_MAX, ReplayRule, Store

pytestmark = pytest.mark.anyio
NOW = 1_800_000_000.0
WEEK = 7 * 86400
AGE_REASON = "event_time is too close to the platform's limit of 7 days: it would be refused"
RULE = ReplayRule(
    skip_code=100,
    skip_reason_prefix="event_time is too close to the platform's limit",
    min_event_time=int(NOW) - WEEK,
)


async def _dead(store: Store) -> tuple[int, dict[str, int]]:
    """A destination with six dead letters, the first to die first: ``proxy`` (no code,
    replayable), ``invalid`` (code 100), ``aged`` (the worker's age-limit reason), ``stale``
    (a proxy's refusal, but its event is now past the age limit), ``token`` (code 190,
    replayable), ``invalid2`` (code 100)."""
    await store.add_dataset("px1", name="Pixel 1", default_country="US", now=NOW)
    d = await store.add_destination(
        "px1",
        name="meta",
        kind="meta",
        options={"pixel_id": "px1"},
        secrets={"access_token": Secret("tok")},
        now=NOW,
    )
    names = ("proxy", "invalid", "aged", "stale", "token", "invalid2")
    events = [
        AcceptedEvent(
            "px1",
            "Purchase",
            name,
            int(NOW) - WEEK - 60 if name == "stale" else int(NOW) - 60,
            {"event_name": "Purchase", "event_id": name},
        )
        for name in names
    ]
    assert await store.ingest(events, now=NOW - 120) == [True] * len(names)
    claimed = await store.claim(d.id, owner="t", limit=10, now=NOW - 100, lease_seconds=600)
    ids = {c.payload["event_id"]: c.outbox_id for c in claimed}
    why = {
        "proxy": ("Meta answered HTTP 400", None),
        "invalid": ("Invalid parameter", 100),
        "aged": (AGE_REASON, None),
        "stale": ("Meta answered HTTP 502", None),
        "token": ("Error validating access token", 190),
        "invalid2": ("Invalid parameter", 100),
    }
    for i, name in enumerate(names):
        reason, code = why[name]
        n = await store.settle_dead(
            [ids[name]], owner="t", reason=reason, code=code, subcode=None, now=NOW - 50 + i
        )
        assert n == 1
    return d.id, ids


async def test_replayable_dead_letters_are_selected_by_the_query(backend_store: Store) -> None:
    d, _ = await _dead(backend_store)
    everything = await backend_store.dead_letters(destination_id=d)
    assert [x.event_id for x in everything] == [
        "invalid2",
        "token",
        "stale",
        "aged",
        "invalid",
        "proxy",
    ]
    got = await backend_store.dead_letters(destination_id=d, replayable=RULE)
    assert [x.event_id for x in got] == ["token", "proxy"]
    # the limit applies after the rule: the older replayable one is reached with limit 2
    assert [x.event_id for x in await backend_store.dead_letters(limit=1, replayable=RULE)] == [
        "token"
    ]
    assert await backend_store.count_dead_letters(destination_id=d) == 6
    assert await backend_store.count_dead_letters(destination_id=d, replayable=RULE) == 2
    assert await backend_store.count_dead_letters(replayable=RULE) == 2
    assert await backend_store.count_dead_letters(destination_id=d + 1) == 0
    # each condition alone
    only_code = ReplayRule(skip_code=100)
    assert await backend_store.count_dead_letters(replayable=only_code) == 4
    only_reason = ReplayRule(skip_reason_prefix=RULE.skip_reason_prefix)
    assert await backend_store.count_dead_letters(replayable=only_reason) == 5
    only_age = ReplayRule(min_event_time=RULE.min_event_time)
    assert await backend_store.count_dead_letters(replayable=only_age) == 5
    # "_" and "%" in a prefix are characters, not patterns
    assert (
        await backend_store.count_dead_letters(replayable=ReplayRule(skip_reason_prefix="%")) == 6
    )
    assert (
        await backend_store.count_dead_letters(
            replayable=ReplayRule(skip_reason_prefix="event_time_is")
        )
        == 6
    )


async def test_dead_letters_by_id(backend_store: Store) -> None:
    d, ids = await _dead(backend_store)
    got = await backend_store.dead_letters(
        destination_id=d, outbox_ids=[ids["proxy"], ids["aged"], 10**12], limit=10
    )
    assert [x.event_id for x in got] == ["aged", "proxy"]
    assert await backend_store.dead_letters(destination_id=d + 1, outbox_ids=[ids["proxy"]]) == []
    assert await backend_store.dead_letters(outbox_ids=[]) == []
    # an id is a dead letter only while it is dead
    assert await backend_store.replay(outbox_ids=[ids["proxy"]], now=NOW) == 1
    assert await backend_store.dead_letters(outbox_ids=[ids["proxy"]]) == []
    with pytest.raises(ValueError, match="at most"):
        await backend_store.dead_letters(outbox_ids=range(1, DEAD_LETTER_IDS_MAX + 2))
