"""Garbage-collector settings for a long-running gateway process.

A serving process holds ~100k long-lived objects (country, subdivision and phone metadata,
the ASGI stack, SQLAlchemy/Alembic after migrating). With CPython's default thresholds every
full collection walks them all: ~100 ms pauses that every request in flight waits for. After
start-up we build the lookup tables once, move everything alive into the permanent
generation (``gc.freeze``), and collect the young generation less often.

With those thresholds a full collection comes only after ~100 million net allocations, so
cyclic garbage that outlived a young collection (an object still in use when one ran) could
wait hours to be freed: memory grew with traffic. :func:`collect_periodically` runs a full
collection on a timer instead; it walks only what was created since the freeze (a few
milliseconds in a serving process; ``bench/soak.py`` reports the pauses). Per-request objects
should not form cycles at all (see :mod:`signalyard.outbound`): this is the safety net.

The C allocator matters too (glibc, the usual Linux C library): every thread that allocates
under contention gets its own malloc arena (up to eight per core: the SQLite thread, uvloop's
resolver threads...), and freed memory stays in those arenas. :func:`limit_malloc_arenas`
caps them at two, and each periodic collection ends with ``malloc_trim`` so that pages freed
by a burst go back to the system. Both are no-ops where the C library is not glibc.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import sys
import time
import uuid
from functools import cache

YOUNG_THRESHOLD = 50_000
FULL_COLLECTION_SECONDS = 60.0
"""How often a tuned process runs a full collection."""

MALLOC_ARENAS = 2
"""glibc malloc arenas a tuned process may use (``M_ARENA_MAX``)."""
_M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h

log = logging.getLogger("signalyard.gc")


@cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    # Only glibc has all three (musl has no malloc_trim nor gnu_get_libc_version).
    if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "malloc_trim", "mallopt")):
        return None
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas; call before the process starts its threads. Returns whether
    the cap was set (False on another C library)."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(_M_ARENA_MAX, arenas) == 1)


def trim_malloc() -> bool:
    """Give free pages of every malloc arena back to the system (glibc's ``malloc_trim``).
    Returns whether memory was released."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0) == 1)


def warm_up() -> None:
    """Build the lazily loaded tables (countries, states, phone metadata) before freezing."""
    from signalyard.samples import sample_purchase
    from signalyard.transforms.pipeline import clean_event

    now = time.time()
    clean_event(
        sample_purchase(now),
        dataset_id="warm-up",
        default_country="VN",
        now=now,
        new_id=lambda: uuid.uuid4().hex,
    )


def tune(*, warm: bool = True) -> None:
    """Collect, freeze what is alive and raise the thresholds; ``warm``: build the gateway's
    lookup tables first (:func:`warm_up`), so that they are frozen too (a process that never
    normalizes customer data, a standalone sandbox, skips them)."""
    if warm:
        warm_up()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)


async def collect_periodically(
    stop: asyncio.Event, interval: float = FULL_COLLECTION_SECONDS
) -> None:
    """Run ``gc.collect()`` every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            return
        started = time.perf_counter()
        freed = gc.collect()
        # Off the event loop: a trim walks every arena (ctypes releases the GIL meanwhile).
        await asyncio.to_thread(trim_malloc)
        log.debug(
            "Full collection and malloc trim: %d objects freed in %.1f ms",
            freed,
            (time.perf_counter() - started) * 1000,
        )
