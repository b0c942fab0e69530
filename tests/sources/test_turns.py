"""Turns for large bodies' CPU work (signalyard.sources.turns): a small request's steps are not
queued behind every large body that finished arriving at the same time."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

import pytest

from signalyard.sources.turns import LARGE_BODY_BYTES, Turns

LARGE = LARGE_BODY_BYTES
SMALL = 1024


async def _race(turns: Turns | None, large: int = 20) -> tuple[int, int]:
    """``large`` requests decode a large body, and a small request takes three steps of the
    loop, all started together: how many large decodes were done when the small request
    finished, and in all."""
    done = 0

    async def large_request() -> None:
        nonlocal done
        if turns is None:
            done += 1  # decoded at once, as before turns
            return
        async with turns.decode(LARGE):
            done += 1

    async def small_request() -> int:
        if turns is not None:
            async with turns.decode(SMALL):
                pass
        for _ in range(3):
            await asyncio.sleep(0)
        return done

    tasks = [asyncio.create_task(large_request()) for _ in range(large)]
    seen = await small_request()
    await asyncio.gather(*tasks)
    return seen, done


def test_without_turns_a_small_request_waits_behind_every_large_decode() -> None:
    seen, done = asyncio.run(_race(None))
    assert seen == done == 20


def test_with_turns_large_decodes_take_turns_and_the_small_request_goes_between() -> None:
    seen, done = asyncio.run(_race(Turns(share=1.0)))
    assert done == 20
    assert seen <= 3  # at most one large decode per step of the small request


def test_a_small_body_never_waits_for_a_turn() -> None:
    async def scenario() -> bool:
        turns = Turns()
        async with turns.decode(LARGE):
            # A large decode holds its turn; a small body decodes at once meanwhile.
            async with asyncio.timeout(1):
                async with turns.decode(LARGE - 1):
                    return True

    assert asyncio.run(scenario())


def test_large_decodes_keep_within_their_share_of_the_loop() -> None:
    """After a decode that took t, the next starts no sooner than t * (1 - share) / share."""

    async def scenario() -> list[tuple[float, float]]:
        turns = Turns(share=0.5)
        spans: list[tuple[float, float]] = []

        async def decode() -> None:
            async with turns.decode(LARGE):
                started = time.perf_counter()
                time.sleep(0.02)  # the CPU work: blocks the loop, as a decode does
                spans.append((started, time.perf_counter()))

        await asyncio.gather(*(decode() for _ in range(3)))
        return spans

    spans = asyncio.run(scenario())
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        took = 0.02
        assert start - end >= took * 0.9  # share 0.5: idle at least as long as it worked


def test_turns_follow_a_new_event_loop() -> None:
    turns = Turns()

    async def once() -> None:
        async with turns.decode(LARGE):
            pass
        async with turns.clean():
            pass

    asyncio.run(once())
    asyncio.run(once())  # locks of the first loop are not reused


def test_one_request_is_cleaned_at_a_time() -> None:
    async def scenario() -> int:
        turns = Turns()
        inside = 0
        most = 0
        lock = threading.Lock()

        def clean() -> None:
            nonlocal inside, most
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.01)
            with lock:
                inside -= 1

        async def request() -> None:
            async with turns.clean():
                await asyncio.to_thread(clean)

        await asyncio.gather(*(request() for _ in range(5)))
        return most

    assert asyncio.run(scenario()) == 1


def test_share_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="share"):
        Turns(share=0)
