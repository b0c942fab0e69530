"""A platform's request quota, honoured before it is hit: at most ``limit`` requests in any
``period`` seconds (Google's Data Manager API: 300 a minute). The sink's spec declares it
(:attr:`signalyard.sinks.spec.SinkSpec.max_requests_per_minute`); each worker process keeps
one window per destination, so that N processes sharing a destination stay within N times the
quota, and a 429 beyond it is still handled as throttling."""

from __future__ import annotations

from collections import deque

__all__ = ["RequestWindow"]


class RequestWindow:
    def __init__(self, limit: int, period: float = 60.0) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a request window needs limit >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._sent: deque[float] = deque()

    def free(self, now: float) -> int:
        """How many requests may start at ``now`` (monotonic seconds)."""
        while self._sent and self._sent[0] <= now - self.period:
            self._sent.popleft()
        return max(0, self.limit - len(self._sent))

    def take(self, now: float) -> None:
        """Count one request started at ``now``. Bounded: older ones than the period go."""
        self.free(now)
        self._sent.append(now)
