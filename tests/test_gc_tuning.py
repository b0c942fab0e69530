"""The serving process's garbage-collector settings: cycles are still freed on a timer."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from signalyard import gc_tuning

pytestmark = pytest.mark.anyio


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


async def test_collect_periodically_frees_cycles_and_stops() -> None:
    gc.disable()  # as in a tuned process, where automatic full collections are rare
    try:
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # a cycle: reference counting alone does not free it
        stop = asyncio.Event()
        task = asyncio.create_task(gc_tuning.collect_periodically(stop, interval=0.01))
        for _ in range(500):
            if gone() is None:
                break
            await asyncio.sleep(0.01)
        assert gone() is None
        stop.set()
        await asyncio.wait_for(task, timeout=1)
    finally:
        gc.enable()


def test_malloc_tuning_on_glibc() -> None:
    import platform

    on_glibc = platform.libc_ver()[0] == "glibc"
    # A cap of 2 arenas is what tuned processes set; setting it again is harmless.
    assert gc_tuning.limit_malloc_arenas() is on_glibc
    # 200 MB in 2 KB objects (malloc's heap, not mmap), then freed: trimming gives pages back.
    blocks = [bytes(2000) + bytes([i % 256]) for i in range(100_000)]
    del blocks
    assert gc_tuning.trim_malloc() is on_glibc
