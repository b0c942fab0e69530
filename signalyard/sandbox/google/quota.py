"""The IngestionService quota, per Google Cloud project: 300 requests a minute and 100,000
a day by default (the Data Manager API's published limits), both configurable.

The minute is a sliding 60 seconds on the injected clock; the day a calendar day in UTC
(Google resets its daily quotas at midnight Pacific time). A request refused for quota does
not consume any. The project is the one the access token was issued for (the OAuth client's
project number, the service account's project id).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

PER_MINUTE = 300
PER_DAY = 100_000
MAX_PROJECTS = 10_000


@dataclass(slots=True)
class _Usage:
    minute: deque[float] = field(default_factory=deque)
    day: int = -1
    day_count: int = 0


class Quota:
    """Counts requests per project; :meth:`take` says which limit a request would pass."""

    def __init__(self, per_minute: int = PER_MINUTE, per_day: int = PER_DAY) -> None:
        self.per_minute = per_minute
        self.per_day = per_day
        self._usage: OrderedDict[str, _Usage] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, project: str, now: float) -> str | None:
        """Count one request for ``project`` at ``now``; or, over a limit, count nothing and
        return the limit's period (``"minute"`` or ``"day"``)."""
        with self._lock:
            usage = self._usage.get(project)
            if usage is None:
                usage = self._usage[project] = _Usage()
                while len(self._usage) > MAX_PROJECTS:
                    self._usage.popitem(last=False)
            self._usage.move_to_end(project)
            window = usage.minute
            while window and window[0] <= now - 60:
                window.popleft()
            day = int(now // 86400)
            if usage.day != day:
                usage.day, usage.day_count = day, 0
            if len(window) >= self.per_minute:
                return "minute"
            if usage.day_count >= self.per_day:
                return "day"
            window.append(now)
            usage.day_count += 1
            return None

    def used(self, project: str, now: float) -> dict[str, int]:
        with self._lock:
            usage = self._usage.get(project)
            if usage is None:
                return {"minute": 0, "day": 0}
            minute = sum(1 for t in usage.minute if t > now - 60)
            day = usage.day_count if usage.day == int(now // 86400) else 0
            return {"minute": minute, "day": day}

    def clear(self) -> None:
        with self._lock:
            self._usage.clear()
