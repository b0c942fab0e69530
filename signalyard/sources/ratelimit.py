"""A token bucket per key (client address and dataset), in memory, bounded.

Each key may burst up to ``per_minute / 6`` requests (at least 10) and is refilled at
``per_minute`` per minute. The table holds at most ``max_keys`` keys; past that, the least
recently seen are forgotten (a forgotten key starts again with a full bucket). Per process:
with several processes behind one address each keeps its own count.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(
        self, per_minute: int, *, monotonic: Callable[[], float], max_keys: int = 100_000
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(10.0, per_minute / 6.0)
        self.monotonic = monotonic
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def allow(self, key: Hashable) -> float:
        """0.0 if a request under ``key`` may go now (and counts it), else the seconds until
        one may."""
        if self.rate <= 0:
            return 0.0
        now = self.monotonic()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait
