"""The process-wide budget of request body bytes (:class:`BodyBudget`), on its own."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from starlette.requests import Request
from starlette.types import Message

from signalyard.errors import ConfigError
from signalyard.settings import Settings
from signalyard.sources.body import BodyBudget, BodyReader, Busy, SlowBody
from signalyard.sources.clients import client_key as peer_key

pytestmark = pytest.mark.anyio


async def test_takes_while_it_fits_and_gives_back() -> None:
    budget = BodyBudget(100, wait_seconds=0)
    assert await budget.take(60) == 60
    assert await budget.take(40) == 40
    with pytest.raises(Busy) as refused:
        await budget.take(1)
    assert refused.value.status == 503 and refused.value.retry_after == 1
    budget.give(40)
    assert await budget.take(30) == 30
    assert budget.used == 90


async def test_a_body_larger_than_the_budget_is_read_alone() -> None:
    budget = BodyBudget(100, wait_seconds=0)
    assert await budget.take(500) == 100  # what it reserved, and gives back
    with pytest.raises(Busy):
        await budget.take(1)
    budget.give(100)
    assert budget.used == 0


async def test_waiters_are_admitted_in_arrival_order() -> None:
    budget = BodyBudget(100, wait_seconds=5)
    await budget.take(100)
    admitted: list[str] = []

    async def wait(name: str, size: int) -> None:
        await budget.take(size)
        admitted.append(name)

    big = asyncio.create_task(wait("big", 80))
    await asyncio.sleep(0)
    small = asyncio.create_task(wait("small", 10))
    await asyncio.sleep(0.01)
    assert admitted == []
    budget.give(50)  # room for "small", but "big" came first
    await asyncio.sleep(0.01)
    assert admitted == []
    budget.give(50)
    await asyncio.gather(big, small)
    assert admitted == ["big", "small"]
    assert budget.used == 90


async def test_a_waiter_that_times_out_leaves_the_queue_and_lets_the_next_in() -> None:
    budget = BodyBudget(100, wait_seconds=0.05)
    await budget.take(50)
    with pytest.raises(Busy) as refused:
        await budget.take(80)  # never fits in time
    assert refused.value.retry_after == 1
    assert await budget.take(50) == 50  # the queue is empty again: no one waits behind it
    assert budget.used == 100


async def test_a_cancelled_waiter_holds_nothing() -> None:
    budget = BodyBudget(100, wait_seconds=5)
    await budget.take(100)
    waiting = asyncio.create_task(budget.take(60))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    budget.give(100)
    assert budget.used == 0
    assert await budget.take(100) == 100


async def test_unkeyed_bodies_hold_at_most_their_share() -> None:
    """Bodies read before their sender's key is checked never take the room kept for keyed
    requests: whatever they hold, a keyed body still fits beside them."""
    budget = BodyBudget(100, wait_seconds=0, unkeyed_bytes=40)
    assert budget.take_now(40, keyed=False) == 40
    assert budget.take_now(1, keyed=False) == 0
    with pytest.raises(Busy):
        await budget.take(1, keyed=False)
    assert await budget.take(60, keyed=True) == 60
    assert (budget.used, budget.used_unkeyed) == (100, 40)
    budget.give(40, keyed=False)
    assert (budget.used, budget.used_unkeyed) == (60, 0)
    assert await budget.take(500, keyed=False) == 40  # one body alone: at most the share


async def test_keyed_waiters_go_before_unkeyed_ones() -> None:
    budget = BodyBudget(100, wait_seconds=5, unkeyed_bytes=50)
    await budget.take(100)
    admitted: list[str] = []

    async def wait(name: str, size: int, keyed: bool) -> None:
        await budget.take(size, keyed)
        admitted.append(name)

    unkeyed = asyncio.create_task(wait("unkeyed", 30, False))
    await asyncio.sleep(0)
    keyed = asyncio.create_task(wait("keyed", 60, True))
    await asyncio.sleep(0.01)
    budget.give(50)  # room for the unkeyed one, but a keyed one waits
    await asyncio.sleep(0.01)
    assert admitted == []
    budget.give(50)
    await asyncio.gather(unkeyed, keyed)
    assert admitted == ["keyed", "unkeyed"]
    assert (budget.used, budget.used_unkeyed) == (90, 30)


def test_the_unkeyed_share_holds_at_least_the_largest_body() -> None:
    reader = BodyReader.configured(
        in_flight_bytes=16_000,
        wait_seconds=1.0,
        read_timeout=10.0,
        largest_body=8000,
        unkeyed_share=0.25,
    )
    assert (reader.budget.total, reader.budget.unkeyed_total) == (16_000, 8000)


@pytest.mark.parametrize(
    ("in_flight", "small_body", "works"),
    [
        (8 * 2**20, 0, False),  # before: 8 MiB unkeyed, nothing left for a keyed body
        (16 * 2**20 - 1, 0, False),
        (16 * 2**20, 0, True),
        (16 * 2**20, 64 * 1024, False),  # /collect's part comes on top of the largest body
        (17 * 2**20, 64 * 1024, True),
    ],
)
def test_the_room_kept_for_keyed_bodies_holds_the_largest_body(
    in_flight: int, small_body: int, works: bool
) -> None:
    """Past the unkeyed share, the budget must hold a keyed body of max_body_bytes: else a
    keyed request could find no room at all whatever unauthenticated clients send."""

    def configure() -> BodyReader:
        return BodyReader.configured(
            in_flight_bytes=in_flight,
            wait_seconds=1.0,
            read_timeout=10.0,
            largest_body=8 * 2**20,
            unkeyed_share=0.5,
            small_body=small_body,
        )

    if works:
        budget = configure().budget
        assert budget.total - budget.unkeyed_total >= 8 * 2**20
    else:
        with pytest.raises(ConfigError, match=r"bodies_in_flight_bytes .*bodies_unkeyed_share"):
            configure()


def test_the_default_settings_keep_room_for_keyed_bodies_and_collect() -> None:
    defaults = Settings()
    budget = BodyReader.configured(
        in_flight_bytes=defaults.bodies_in_flight_bytes,
        wait_seconds=defaults.body_wait_seconds,
        read_timeout=defaults.body_read_timeout_seconds,
        largest_body=defaults.max_body_bytes,
        unkeyed_share=defaults.bodies_unkeyed_share,
        small_body=defaults.collect.max_body_bytes,
        small_bytes=defaults.collect.bodies_in_flight_bytes,
    ).budget
    MiB = 2**20
    assert (budget.total, budget.unkeyed_total, budget.small_total) == (64 * MiB, 32 * MiB, 2 * MiB)
    assert (budget.peer_bytes, budget.small_peer_bytes) == (8 * MiB, 256 * 1024)


async def test_large_unkeyed_bodies_never_take_the_room_kept_for_small_ones() -> None:
    """/collect's bodies hold a part of the unkeyed share of their own: large unkeyed bodies
    that fill the rest leave it free, and small ones never take the large ones' room."""
    budget = BodyBudget(200, wait_seconds=0, unkeyed_bytes=100, small_bytes=20)
    assert budget.take_now(80, keyed=False) == 80
    with pytest.raises(Busy):
        await budget.take(1, keyed=False)
    assert await budget.take(20, keyed=False, small=True) == 20  # before: Busy
    with pytest.raises(Busy):
        await budget.take(1, keyed=False, small=True)
    assert (budget.used, budget.used_unkeyed, budget.used_small) == (100, 100, 20)
    budget.give(80, keyed=False)
    assert budget.take_now(30, keyed=False, small=True) == 0  # the large part stays theirs
    budget.give(20, keyed=False, small=True)
    assert (budget.used, budget.used_unkeyed, budget.used_small) == (0, 0, 0)


async def test_a_small_waiter_is_not_held_up_by_a_large_one() -> None:
    budget = BodyBudget(200, wait_seconds=5, unkeyed_bytes=100, small_bytes=20)
    budget.take_now(80, keyed=False)
    budget.take_now(20, keyed=False, small=True)
    large = asyncio.create_task(budget.take(50, keyed=False))
    small = asyncio.create_task(budget.take(10, keyed=False, small=True))
    await asyncio.sleep(0)
    budget.give(20, keyed=False, small=True)
    assert await small == 10
    assert not large.done()
    large.cancel()


async def test_one_peer_holds_at_most_its_cap() -> None:
    budget = BodyBudget(200, wait_seconds=0, unkeyed_bytes=100, peer_bytes=30)
    budget.charge_peer("192.0.2.1", 30)
    with pytest.raises(Busy):
        budget.charge_peer("192.0.2.1", 1)
    budget.charge_peer("192.0.2.2", 30)  # another peer is not held up
    budget.release_peer("192.0.2.1", 30)
    budget.charge_peer("192.0.2.1", 30)
    budget.release_peer("192.0.2.1", 30)
    budget.release_peer("192.0.2.2", 30)
    assert not budget._peers  # peers holding nothing are forgotten


def test_an_ipv6_peer_is_its_64() -> None:
    assert peer_key("2001:db8:1:2:aaaa::1") == peer_key("2001:db8:1:2:bbbb::7")
    assert peer_key("2001:db8:1:2:aaaa::1") != peer_key("2001:db8:1:3::1")
    assert peer_key("192.0.2.1") == "192.0.2.1" != peer_key("192.0.2.2")


async def test_an_unkeyed_body_must_arrive_within_its_deadline() -> None:
    """A body read before any key is checked that keeps arriving fast enough for the read
    timeout and the minimum rate is still answered 408 past the whole-body deadline; a keyed
    body beside it is not."""

    def request(path: str) -> Request:
        async def receive() -> Message:
            await asyncio.sleep(0.01)
            return {"type": "http.request", "body": b"x" * 100, "more_body": True}

        scope = {"type": "http", "method": "POST", "path": path, "headers": [], "client": None}
        return Request(scope, receive)

    reader = BodyReader.configured(
        in_flight_bytes=10**9,
        wait_seconds=0,
        read_timeout=0.2,
        largest_body=10**8,
        min_rate=100,
        unkeyed_deadline=0.4,
    )
    with pytest.raises(SlowBody, match=r"not received in full within 0\.4 s"):
        async with reader.read(request("/webhooks"), 10**8):
            pass
    keyed = asyncio.create_task(reader.read(request("/keyed"), 10**8, keyed=True).__aenter__())
    unkeyed = reader.read(request("/webhooks"), 10**8)
    with pytest.raises(SlowBody):
        async with unkeyed:
            pass
    assert not keyed.done()  # the keyed body, started as early, is still being read
    keyed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keyed


@pytest.mark.parametrize(
    ("in_flight", "wait", "timeout", "name"),
    [
        (1000, 1.0, 10.0, "bodies_in_flight_bytes"),
        (10_000, -1.0, 10.0, "body_wait_seconds"),
        (10_000, 1.0, 0.0, "body_read_timeout_seconds"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    in_flight: int, wait: float, timeout: float, name: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        BodyReader.configured(
            in_flight_bytes=in_flight, wait_seconds=wait, read_timeout=timeout, largest_body=5000
        )


@pytest.mark.parametrize(
    ("min_rate", "share", "name"),
    [
        (-1, 0.5, "body_min_bytes_per_second"),
        (0, 0.0, "bodies_unkeyed_share"),
        (0, 1.5, "bodies_unkeyed_share"),
    ],
)
def test_rate_and_share_settings_that_cannot_work_are_refused(
    min_rate: int, share: float, name: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        BodyReader.configured(
            in_flight_bytes=10_000,
            wait_seconds=1.0,
            read_timeout=10.0,
            largest_body=5000,
            min_rate=min_rate,
            unkeyed_share=share,
        )
