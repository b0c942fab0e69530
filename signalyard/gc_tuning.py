"""Garbage-collector settings for a long-running gateway process.

A serving process holds ~100k long-lived objects (country, subdivision and phone metadata,
the ASGI stack, SQLAlchemy/Alembic after migrating). With CPython's default thresholds every
full collection walks them all: ~100 ms pauses that every request in flight waits for. After
start-up we build the lookup tables once, move everything alive into the permanent
generation (``gc.freeze``), and collect the young generation less often. Cycles created
while serving are still collected.
"""

from __future__ import annotations

import gc
import time
import uuid

YOUNG_THRESHOLD = 50_000


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
