"""The store contract. Every backend must pass this suite."""

from __future__ import annotations

import asyncio

import pytest

from signalyard.errors import Conflict
from signalyard.event import AcceptedEvent
from signalyard.outcome import Attempt
from signalyard.secret import Secret
from signalyard.store.base import DEDUP_WINDOW_SECONDS, AttemptRecord, Store
from signalyard.store.postgres import PostgresStore
from signalyard.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio
NOW = 1_800_000_000.0


@pytest.fixture
async def store(backend_store: Store) -> Store:
    await backend_store.add_dataset("px1", name="Pixel 1", default_country="VN", now=NOW)
    return backend_store


def ev(
    i: int, name: str = "Purchase", dataset: str = "px1", code: str | None = None
) -> AcceptedEvent:
    return AcceptedEvent(
        dataset,
        name,
        f"id-{i}",
        int(NOW) - 10,
        {"event_name": name, "event_id": f"id-{i}", "n": i},
        test_event_code=code,
    )


async def dest(store: Store, name: str = "meta") -> int:
    d = await store.add_destination(
        "px1",
        name=name,
        kind="meta",
        options={"pixel_id": "px1"},
        secrets={"access_token": Secret("tok")},
        now=NOW,
    )
    return d.id


async def test_ingest_dedups_within_48h(store: Store) -> None:
    await dest(store)
    assert await store.ingest([ev(1), ev(2), ev(1)], now=NOW) == [True, True, False]
    assert await store.ingest([ev(1)], now=NOW + 100) == [False]
    assert await store.ingest([ev(1, name="AddToCart")], now=NOW) == [True]
    assert await store.event_count("px1") == 3
    # past the window the same key is a new event
    assert await store.ingest([ev(1)], now=NOW + DEDUP_WINDOW_SECONDS + 1) == [True]


async def test_concurrent_ingest_group_commits(store: Store) -> None:
    await dest(store)
    results = await asyncio.gather(*(store.ingest([ev(i)], now=NOW) for i in range(200)))
    assert all(r == [True] for r in results)
    assert await store.event_count() == 200
    assert isinstance(store, SQLiteStore | PostgresStore)
    assert store.commits < 200  # several requests shared a commit


async def test_outbox_row_per_destination_and_claim_lease(store: Store) -> None:
    a, b = await dest(store, "a"), await dest(store, "b")
    await store.ingest([ev(i) for i in range(5)], now=NOW)
    claimed = await store.claim(a, owner="w1", limit=3, now=NOW, lease_seconds=60)
    assert [c.payload["n"] for c in claimed] == [0, 1, 2]
    # leased rows are not claimed again until the lease ends
    again = await store.claim(a, owner="w2", limit=10, now=NOW, lease_seconds=60)
    assert [c.payload["n"] for c in again] == [3, 4]
    assert len(await store.claim(b, owner="w1", limit=10, now=NOW, lease_seconds=60)) == 5
    # w1's lease expires; w3 takes the rows; w1 can no longer settle them
    taken = await store.claim(a, owner="w3", limit=10, now=NOW + 61, lease_seconds=60)
    assert sorted(c.payload["n"] for c in taken) == [0, 1, 2, 3, 4]
    assert (
        await store.settle_delivered([c.outbox_id for c in claimed], owner="w1", now=NOW + 62) == 0
    )
    assert await store.settle_delivered([c.outbox_id for c in taken], owner="w3", now=NOW + 62) == 5
    assert await store.claim(a, owner="w4", limit=10, now=NOW + 999, lease_seconds=60) == []


async def test_retry_dead_replay_release(store: Store) -> None:
    d = await dest(store)
    await store.ingest([ev(i) for i in range(3)], now=NOW)
    c = await store.claim(d, owner="w", limit=10, now=NOW, lease_seconds=60)
    ids = [x.outbox_id for x in c]
    assert (
        await store.settle_retry(
            ids[:1], owner="w", due_at=NOW + 30, count_attempt=True, error="5xx"
        )
        == 1
    )
    assert (
        await store.settle_dead(
            ids[1:2], owner="w", reason="bad value", code=100, subcode=2804019, now=NOW
        )
        == 1
    )
    assert await store.release(ids[2:], owner="w") == 1
    # released row is due now; retried row only later
    now_rows = await store.claim(d, owner="w", limit=10, now=NOW + 1, lease_seconds=60)
    assert [x.outbox_id for x in now_rows] == ids[2:]
    later = await store.claim(d, owner="w", limit=10, now=NOW + 31, lease_seconds=60)
    assert [x.outbox_id for x in later] == ids[:1] and later[0].attempts == 1
    dead = await store.dead_letters()
    assert [(x.outbox_id, x.code, x.subcode, x.reason) for x in dead] == [
        (ids[1], 100, 2804019, "bad value")
    ]
    st = {s.destination.id: s for s in await store.status(now=NOW + 31)}[d]
    assert (st.queued, st.dead) == (2, 1)
    assert await store.replay(outbox_ids=[ids[1]], now=NOW + 40) == 1
    assert await store.dead_letters() == []
    replayed = await store.claim(d, owner="w", limit=10, now=NOW + 40, lease_seconds=60)
    assert [x.outbox_id for x in replayed] == [ids[1]]


async def test_destination_state_and_token(store: Store) -> None:
    d = await dest(store)
    await store.pause(d, reason="token expired", fix="replace it", now=NOW)
    (got,) = await store.list_destinations("px1")
    assert (got.state, got.paused_reason, got.paused_fix) == (
        "paused",
        "token expired",
        "replace it",
    )
    await store.set_secrets(d, {"access_token": Secret("new-token")}, now=NOW + 1)
    (got,) = await store.list_destinations()
    assert got.state == "active" and got.secrets["access_token"].reveal() == "new-token"
    assert "new-token" not in repr(got)
    await store.throttle(d, until=NOW + 60)
    (got,) = await store.list_destinations()
    assert got.throttled_until == NOW + 60
    assert await store.get_destination(d) == got  # one row, as the list has it
    assert await store.get_destination(d + 1000) is None


async def test_a_throttle_only_moves_later(store: Store) -> None:
    """Two requests in flight both throttled: the shorter wait answered last does not cut the
    longer one short (the worker writes each cycle's own)."""
    d = await dest(store)

    async def until() -> float | None:
        got = await store.get_destination(d)
        assert got is not None
        return got.throttled_until

    await store.throttle(d, until=NOW + 600)
    await store.throttle(d, until=NOW + 60)
    assert await until() == NOW + 600
    await store.throttle(d, until=NOW + 900)
    assert await until() == NOW + 900


async def test_a_pause_for_an_old_request_does_not_undo_a_resume(store: Store) -> None:
    """``pause(unchanged_since=...)``: the answer to a request sent before the operator
    resumed the destination (or replaced its token) does not pause it again."""
    d = await dest(store)
    read = await store.get_destination(d)
    assert read is not None
    await store.pause(d, reason="token expired", fix="replace it", now=NOW + 1)
    await store.resume(d, now=NOW + 2)
    await store.pause(
        d, reason="token expired", fix="replace it", now=NOW + 3, unchanged_since=read.updated_at
    )
    got = await store.get_destination(d)
    assert got is not None and got.state == "active" and got.paused_reason is None
    # unchanged since it was read: the pause applies
    await store.pause(
        d, reason="token expired", fix="replace it", now=NOW + 4, unchanged_since=got.updated_at
    )
    got = await store.get_destination(d)
    assert got is not None and (got.state, got.paused_reason) == ("paused", "token expired")
    # a resume written by a host whose clock is behind (an earlier updated_at) still counts
    await store.resume(d, now=NOW)
    await store.pause(
        d, reason="token expired", fix="replace it", now=NOW + 5, unchanged_since=got.updated_at
    )
    got = await store.get_destination(d)
    assert got is not None and got.state == "active"


async def test_keys(store: Store) -> None:
    await store.add_key("px1", key_id="k1", key_hash="h1", label="web", now=NOW)
    found = await store.find_key("h1")
    assert found is not None and found.dataset_id == "px1" and found.revoked_at is None
    assert await store.revoke_key("k1", now=NOW)
    assert not await store.revoke_key("k1", now=NOW)
    found = await store.find_key("h1")
    assert found is not None and found.revoked_at == NOW
    assert await store.find_key("nope") is None


async def test_attempts_recorded(store: Store) -> None:
    d = await dest(store)
    await store.record_attempt(
        AttemptRecord(d, NOW, 10, "retry", Attempt(503, 2, None, "TRACE", "down", 12.5))
    )
    (a,) = await store.attempts(destination_id=d)
    assert a.attempt.trace_id == "TRACE" and a.attempt.http_status == 503 and a.events == 10


async def test_failed_job_does_not_undo_others(store: Store) -> None:
    await dest(store)
    results = await asyncio.gather(
        store.ingest([ev(1)], now=NOW),
        store.add_dataset("px1", name="dup", default_country=None, now=NOW),
        store.ingest([ev(2)], now=NOW),
        return_exceptions=True,
    )
    assert results[0] == [True] and results[2] == [True]
    assert isinstance(results[1], Exception)
    assert await store.event_count() == 2


async def test_prune_keeps_dead_letters_and_queued_rows(store: Store) -> None:
    d = await dest(store)
    await store.ingest([ev(i) for i in range(6)], now=NOW)
    claimed = await store.claim(d, owner="w", limit=10, now=NOW, lease_seconds=60)
    ids = [c.outbox_id for c in claimed]
    await store.settle_delivered(ids[:4], owner="w", now=NOW)
    await store.settle_dead(ids[4:5], owner="w", reason="bad", code=100, subcode=None, now=NOW)
    await store.release(ids[5:], owner="w")
    await store.record_attempt(AttemptRecord(d, NOW, 6, "delivered", Attempt(200)))
    later = NOW + 8 * 86400
    result = await store.prune(before=later - 7 * 86400, now=later, batch=2)
    assert (result.outbox, result.attempts, result.events) == (4, 1, 4)
    assert result.dedup_keys == 6
    assert await store.event_count() == 2  # the dead letter's and the queued one's
    assert len(await store.dead_letters()) == 1
    (st,) = await store.status(now=later)
    assert (st.queued, st.delivered, st.dead) == (1, 0, 1)
    # nothing newer than the cutoff is touched
    assert (await store.prune(before=later - 7 * 86400, now=later)).outbox == 0


async def test_same_event_at_the_same_moment_in_two_stores_is_stored_once(
    store: Store, request: pytest.FixtureRequest
) -> None:
    """Two processes (two store instances) receive the same event concurrently."""
    await dest(store)
    other: Store
    if isinstance(store, SQLiteStore):
        other = SQLiteStore(request.getfixturevalue("sqlite_url"))
    else:
        other = PostgresStore(request.getfixturevalue("pg_database"))
    await other.open()
    try:
        for round_ in range(20):
            batch = [ev(1000 * round_ + i) for i in range(50)]
            a, b = await asyncio.gather(store.ingest(batch, now=NOW), other.ingest(batch, now=NOW))
            assert [x + y for x, y in zip(a, b, strict=True)] == [1] * 50
        assert await store.event_count() == 1000
    finally:
        await other.close()


async def test_extend_lease_keeps_rows_held(store: Store) -> None:
    d = await dest(store)
    await store.ingest([ev(i) for i in range(3)], now=NOW)
    held = await store.claim(d, owner="w1", limit=10, now=NOW, lease_seconds=10)
    ids = [h.outbox_id for h in held]
    assert await store.settle_delivered(ids[:1], owner="w1", now=NOW + 1) == 1
    # renewed by id: the settled row is not touched, nor one another owner holds
    assert await store.extend_lease(ids, owner="w1", until=NOW + 100) == 2
    assert await store.extend_lease(ids, owner="w2", until=NOW + 100) == 0
    assert await store.extend_lease([], owner="w1", until=NOW + 100) == 0
    assert await store.claim(d, owner="w2", limit=10, now=NOW + 50, lease_seconds=10) == []
    assert await store.settle_delivered(ids[1:], owner="w1", now=NOW + 60) == 2


async def test_extend_lease_renews_only_the_rows_named(store: Store) -> None:
    """The heartbeat renews the rows of the requests in flight, not every row the worker
    holds: a row of a cycle that is over is due again when its own lease ends."""
    d = await dest(store)
    await store.ingest([ev(i) for i in range(4)], now=NOW)
    held = await store.claim(d, owner="w1", limit=10, now=NOW, lease_seconds=10)
    ids = [h.outbox_id for h in held]
    assert await store.extend_lease(ids[:2], owner="w1", until=NOW + 100) == 2
    again = await store.claim(d, owner="w2", limit=10, now=NOW + 50, lease_seconds=10)
    assert sorted(c.outbox_id for c in again) == sorted(ids[2:])


async def test_update_dataset(store: Store) -> None:
    got = await store.update_dataset("px1", name="Shop", default_country="US")
    assert got is not None and (got.name, got.default_country) == ("Shop", "US")
    assert await store.get_dataset("px1") == got
    cleared = await store.update_dataset("px1", name="Shop", default_country=None)
    assert cleared is not None and cleared.default_country is None
    assert await store.update_dataset("nope", name="x", default_country=None) is None
    assert await store.get_dataset("nope") is None


async def test_remove_destination_refuses_waiting_events_unless_dropped(store: Store) -> None:
    keep, gone = await dest(store, "keep"), await dest(store, "gone")
    assert await store.ingest([ev(1), ev(2)], now=NOW) == [True, True]
    (first,) = await store.claim(gone, owner="w", limit=1, now=NOW, lease_seconds=60)
    await store.settle_delivered([first.outbox_id], owner="w", now=NOW)
    await store.record_attempt(AttemptRecord(gone, NOW, 1, "delivered", Attempt(200)))
    with pytest.raises(Conflict, match="1 event"):
        await store.remove_destination(gone, drop_queue=False)
    assert [d.name for d in await store.list_destinations()] == ["keep", "gone"]
    assert [s.queued for s in await store.status(now=NOW)] == [2, 1]

    assert await store.remove_destination(gone, drop_queue=True) == 1
    assert [d.name for d in await store.list_destinations()] == ["keep"]
    assert await store.attempts(destination_id=gone) == []
    assert await store.claim(gone, owner="w", limit=10, now=NOW, lease_seconds=60) == []
    # the other destination keeps its rows; nothing left to remove a second time
    assert [s.queued for s in await store.status(now=NOW)] == [2]
    assert len(await store.claim(keep, owner="w", limit=10, now=NOW, lease_seconds=60)) == 2
    # a destination with nothing waiting goes without --drop-queue
    empty = await dest(store, "empty")
    assert await store.remove_destination(empty, drop_queue=False) == 0
    assert [d.name for d in await store.list_destinations()] == ["keep"]


async def test_event_keys_are_never_given_twice(store: Store) -> None:
    """Retention deletes every event of an idle gateway: the next events still take keys
    after the old ones, so the attribution cursor (events after the last key it read) sees
    them, and no table that keeps an event key takes a new event for an old one."""
    await store.ingest([ev(1), ev(2)], now=NOW)
    old = await store.attribution_events("px1", after_pk=0, limit=10)
    assert [e.event_id for e in old] == ["id-1", "id-2"]
    cursor = old[-1].pk
    pruned = await store.prune(before=NOW + 10, now=NOW + DEDUP_WINDOW_SECONDS + 20)
    assert pruned.events == 2 and await store.event_count("px1") == 0
    await store.ingest([ev(3), ev(4)], now=NOW + DEDUP_WINDOW_SECONDS + 30)
    new = await store.attribution_events("px1", after_pk=cursor, limit=10)
    assert [e.event_id for e in new] == ["id-3", "id-4"]
    assert cursor < new[0].pk < new[1].pk
    # pruned again: keys still go up from the highest ever given
    await store.prune(before=NOW + DEDUP_WINDOW_SECONDS + 40, now=NOW + 2 * DEDUP_WINDOW_SECONDS)
    await store.ingest([ev(5)], now=NOW + 2 * DEDUP_WINDOW_SECONDS + 50)
    last = await store.attribution_events("px1", after_pk=new[1].pk, limit=10)
    assert [e.event_id for e in last] == ["id-5"]


async def test_keys_go_on_after_the_newest_events_when_older_ones_stay(store: Store) -> None:
    """Retention deletes the newest events while an older one stays (it still waits for a
    paused destination): the next event's key is past the deleted ones, not after the one
    left."""
    await store.add_dataset("px2", name="Pixel 2", default_country=None, now=NOW)
    await dest(store)  # px1's event keeps an outbox row: retention keeps it
    await store.ingest([ev(1)], now=NOW)
    await store.ingest([ev(2, dataset="px2")], now=NOW)  # px2 has no destination
    seen = await store.attribution_events("px2", after_pk=0, limit=5)
    pruned = await store.prune(before=NOW + 10, now=NOW + DEDUP_WINDOW_SECONDS + 20)
    assert pruned.events == 1 and await store.event_count("px1") == 1
    await store.ingest([ev(3, dataset="px2")], now=NOW + DEDUP_WINDOW_SECONDS + 30)
    after = await store.attribution_events("px2", after_pk=seen[-1].pk, limit=5)
    assert [e.event_id for e in after] == ["id-3"]
