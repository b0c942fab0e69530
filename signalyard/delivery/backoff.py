"""How long to wait before trying an event again: jittered exponential backoff."""

from __future__ import annotations

import random


def backoff_delay(
    attempts: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after ``attempts`` failed tries (0-based): a random point in the upper
    half of ``min(cap, base * 2**attempts)`` ("equal jitter"), so retries of many events
    spread out instead of arriving together, yet never come back too soon."""
    ceiling: float = min(cap, base * float(2 ** min(attempts, 32)))
    r: float = (rng or random).random()
    return ceiling / 2 + r * ceiling / 2
