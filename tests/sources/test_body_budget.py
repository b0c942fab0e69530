"""The process-wide budget of request body bytes (:class:`BodyBudget`), on its own."""

from __future__ import annotations

import asyncio

import pytest

from signalyard.errors import ConfigError
from signalyard.sources.body import BodyBudget, BodyReader, Busy

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
        in_flight_bytes=10_000,
        wait_seconds=1.0,
        read_timeout=10.0,
        largest_body=8000,
        unkeyed_share=0.5,
    )
    assert (reader.budget.total, reader.budget.unkeyed_total) == (10_000, 8000)


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
