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
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid

YOUNG_THRESHOLD = 50_000
FULL_COLLECTION_SECONDS = 60.0
"""How often a tuned process runs a full collection."""

log = logging.getLogger("signalyard.gc")


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


def tune() -> None:
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
        log.debug(
            "Full collection: %d objects freed in %.1f ms",
            freed,
            (time.perf_counter() - started) * 1000,
        )
