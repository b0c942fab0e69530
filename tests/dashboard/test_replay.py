"""Replay from the delivery page reaches every replayable dead letter, on each backend:
"Replay all" selects the replayable ones in the store's query (however many dead letters
refused as invalid died since), pages through them batch by batch, and a replay of one row
looks it up by its id, however old; an id that is not a dead letter is said to be so."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from signalyard.clock import FrozenClock
from signalyard.dashboard import create_dashboard, pages
from signalyard.event import AcceptedEvent
from signalyard.secret import Secret
from signalyard.settings import DashboardSettings
from signalyard.store.base import Store

from .conftest import DATASET, PASSWORD, client_for, csrf_of, login, text_by_testid

pytestmark = pytest.mark.anyio
BATCH = 5
"""``REPLAY_BATCH`` for these tests (10,000 in production): a few rows show the same."""
WEEK = 7 * 86400


@pytest.fixture
def small_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "REPLAY_BATCH", BATCH)


@pytest.fixture
async def store(backend_store: Store, clock: FrozenClock) -> Store:
    await backend_store.add_dataset(DATASET, name="Shop", default_country="US", now=clock.now())
    return backend_store


@pytest.fixture
async def authed(store: Store, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    dashboard = create_dashboard(store, clock, DashboardSettings(password=Secret(PASSWORD)))
    async with client_for(Starlette(routes=[Mount("/dashboard", app=dashboard)])) as client:
        assert (await login(client)).status_code == 303
        yield client


class Dead:
    """Dead letters of one destination, made through the store as the worker makes them."""

    def __init__(self, store: Store, clock: FrozenClock) -> None:
        self.store = store
        self.clock = clock
        self.destination = 0
        self.made = 0

    async def open(self) -> Dead:
        d = await self.store.add_destination(
            DATASET,
            name="meta",
            kind="meta",
            options={"pixel_id": DATASET},
            secrets={"access_token": Secret("EAAB-token")},
            now=self.clock.now(),
        )
        self.destination = d.id
        return self

    async def add(self, count: int, *, code: int | None, reason: str, age: int = 60) -> list[int]:
        """``count`` dead letters, dying after every one made before."""
        now = self.clock.now()
        names = [f"e-{self.made + i}" for i in range(count)]
        self.made += count
        events = [
            AcceptedEvent(DATASET, "Purchase", name, int(now) - age, {"event_name": "Purchase"})
            for name in names
        ]
        assert all(await self.store.ingest(events, now=now))
        claimed = await self.store.claim(
            self.destination, owner="w", limit=count, now=now, lease_seconds=60
        )
        ids = [c.outbox_id for c in claimed]
        assert len(ids) == count
        settled = await self.store.settle_dead(
            ids, owner="w", reason=reason, code=code, subcode=None, now=now
        )
        assert settled == count
        self.clock.advance(1)
        return ids

    async def invalid(self, count: int) -> list[int]:
        return await self.add(count, code=100, reason="Invalid parameter")

    async def replayable(self, count: int, *, age: int = 60) -> list[int]:
        return await self.add(count, code=None, reason="Meta answered HTTP 400", age=age)

    async def left(self) -> set[int]:
        return {x.outbox_id for x in await self.store.dead_letters(limit=1000)}


async def replay(client: httpx.AsyncClient, destination: int, outbox_id: int | None = None) -> str:
    """Press a Replay button of the delivery page; the message it shows."""
    token = csrf_of((await client.get("/dashboard/delivery")).text)
    form = {"csrf": token, "dataset": DATASET, "destination_id": str(destination)}
    if outbox_id is not None:
        form["outbox_id"] = str(outbox_id)
    r = await client.post("/dashboard/delivery/replay", data=form)
    assert r.status_code == 303
    page = await client.get("/dashboard/delivery")
    return text_by_testid(page.text)["flash"]


LEFT = (
    " refused by the platform as invalid (or past its age limit) were left as they are: sent"
    " again unchanged, they would fail again."
)


async def test_replay_all_reaches_a_replayable_letter_behind_more_invalid_than_a_batch(
    authed: httpx.AsyncClient, store: Store, clock: FrozenClock, small_batch: None
) -> None:
    dead = await Dead(store, clock).open()
    (old,) = await dead.replayable(1)
    invalid = await dead.invalid(BATCH + 2)  # newer than it, more than a batch
    message = await replay(authed, dead.destination)
    assert message == "1 dead letter(s) of meta queued again." + f" {BATCH + 2}" + LEFT
    assert await dead.left() == set(invalid)
    claimed = await store.claim(
        dead.destination, owner="x", limit=10, now=clock.now(), lease_seconds=60
    )
    assert [c.outbox_id for c in claimed] == [old]
    assert await replay(authed, dead.destination) == "Nothing replayed." + f" {BATCH + 2}" + LEFT


async def test_replay_all_pages_through_the_replayable_letters_batch_by_batch(
    authed: httpx.AsyncClient, store: Store, clock: FrozenClock, small_batch: None
) -> None:
    dead = await Dead(store, clock).open()
    first = await dead.replayable(BATCH + 2)
    invalid = await dead.invalid(3)
    second = await dead.replayable(1)
    message = await replay(authed, dead.destination)
    assert message == (
        f"{BATCH} dead letter(s) of meta queued again. 3 more can be replayed: press Replay"
        " again to queue them. 3" + LEFT
    )
    assert len(await dead.left()) == 3 + 3
    assert not set(second) & await dead.left()  # the most recent first
    message = await replay(authed, dead.destination)
    assert message == "3 dead letter(s) of meta queued again. 3" + LEFT
    assert await dead.left() == set(invalid)
    assert set(first) | set(second) == {
        c.outbox_id
        for c in await store.claim(
            dead.destination, owner="x", limit=100, now=clock.now(), lease_seconds=60
        )
    }


async def test_replay_all_leaves_events_grown_past_the_age_limit(
    authed: httpx.AsyncClient, store: Store, clock: FrozenClock
) -> None:
    dead = await Dead(store, clock).open()
    stale = await dead.replayable(2, age=WEEK + 60)  # a proxy's refusal, a week ago
    fresh = await dead.replayable(1)
    assert await replay(authed, dead.destination) == (
        "1 dead letter(s) of meta queued again. 2" + LEFT
    )
    assert await dead.left() == set(stale)
    ids = text_by_testid((await authed.get("/dashboard/delivery")).text)
    assert f"replay-{stale[0]}" not in ids
    assert ids[f"not-replayable-{stale[0]}"].startswith("Not replayable: the event is past")
    assert await replay(authed, dead.destination, stale[0]) == "Nothing replayed. 1" + LEFT
    assert await dead.left() == set(stale)
    assert fresh[0] not in await dead.left()


async def test_replay_one_finds_an_old_letter_and_says_when_there_is_none(
    authed: httpx.AsyncClient, store: Store, clock: FrozenClock, small_batch: None
) -> None:
    dead = await Dead(store, clock).open()
    (old,) = await dead.replayable(1)
    (old_invalid,) = await dead.invalid(1)
    await dead.invalid(BATCH + 2)  # the old ones are outside the most recent batch
    assert await replay(authed, dead.destination, old) == "1 dead letter(s) of meta queued again."
    assert old not in await dead.left()
    # "Replay anyway" of an old letter refused as invalid
    message = await replay(authed, dead.destination, old_invalid)
    assert message == "1 dead letter(s) of meta queued again."
    assert old_invalid not in await dead.left()
    # already queued again, and an id no dead letter has: said so
    for outbox_id in (old, 10**12):
        assert await replay(authed, dead.destination, outbox_id) == (
            f"Nothing replayed: meta has no dead letter {outbox_id} (it was queued again"
            " already, or there is no such dead letter)."
        )


async def test_replay_all_with_no_dead_letters(
    authed: httpx.AsyncClient, store: Store, clock: FrozenClock
) -> None:
    dead = await Dead(store, clock).open()
    assert await replay(authed, dead.destination) == "Nothing to replay: meta has no dead letters."
