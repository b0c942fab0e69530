"""The bounded recordings of a sandbox: the newest events within a count and a byte budget,
and the newest request records within a count (:class:`Recordings`, the part of a sandbox's
state that holds them).

Each sandbox's ``recorder.py`` says what an event and a request record hold and what an event
weighs (its ``footprint``); the rings number them (``seq``, from 1, never reused, not even
after :meth:`EventRing.clear`), keep them in arrival order, drop the oldest first, and list
them newest first. They are not locked: the state holds its lock around them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar

from ..clock import Clock, SystemClock

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
"""What a sandbox's held events may weigh together by default."""
EVENT_OVERHEAD = 512
"""Bytes a recorded event costs beyond its strings (the object, its fields, its slot)."""


class Numbered(Protocol):
    seq: int


T = TypeVar("T", bound=Numbered)


def where(**wanted: Any) -> Callable[[Any], bool]:
    """A filter on equal fields: a record matches when each of its attributes named in
    ``wanted`` equals the value given; a None value does not filter."""
    checks = [(name, value) for name, value in wanted.items() if value is not None]
    return lambda rec: all(getattr(rec, name) == value for name, value in checks)


def _newest(items: deque[T], matches: Callable[[T], bool], limit: int | None) -> list[T]:
    out: list[T] = []
    for item in reversed(items):
        if limit is not None and len(out) >= limit:
            break
        if matches(item):
            out.append(item)
    return out


class EventRing(Generic[T]):
    """The newest events, weighing what ``footprint`` counts; the limits are the state's
    (``max_events``, ``max_bytes``), given at each :meth:`append`."""

    def __init__(self, footprint: Callable[[T], int]) -> None:
        self._footprint = footprint
        self._events: deque[T] = deque()
        self._bytes = 0
        self._seq = 0

    def next_seq(self) -> int:
        """The number of the next event recorded."""
        self._seq += 1
        return self._seq

    def append(self, rec: T, *, max_events: int, max_bytes: int) -> None:
        """Keep ``rec``; drop the oldest events while over ``max_events`` or ``max_bytes``."""
        events = self._events
        events.append(rec)
        self._bytes += self._footprint(rec)
        while events and (len(events) > max_events or self._bytes > max_bytes):
            self._bytes -= self._footprint(events.popleft())

    def clear(self) -> None:
        self._events.clear()
        self._bytes = 0

    def newest(self, matches: Callable[[T], bool], limit: int | None = None) -> list[T]:
        """The events ``matches`` keeps, newest first, at most ``limit``."""
        return _newest(self._events, matches, limit)

    def find(self, seq: int) -> T | None:
        """The event numbered ``seq`` if still held (in constant time: numbers are
        consecutive in the ring when one ``next_seq`` is used per event kept)."""
        events = self._events
        if not events:
            return None
        offset = seq - events[0].seq
        if 0 <= offset < len(events):
            rec = events[offset]
            if rec.seq == seq:
                return rec
        return None

    @property
    def bytes_held(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[T]:
        return iter(self._events)


class RequestLog(Generic[T]):
    """The newest ``max_requests`` request records, numbered as they are logged."""

    def __init__(self, max_requests: int) -> None:
        self._records: deque[T] = deque(maxlen=max_requests)
        self._seq = 0

    def append(self, record: T) -> T:
        """Log ``record``, its ``seq`` assigned here."""
        self._seq += 1
        record.seq = self._seq
        self._records.append(record)
        return record

    def clear(self) -> None:
        self._records.clear()

    def newest(self, matches: Callable[[T], bool], limit: int | None = None) -> list[T]:
        """The records ``matches`` keeps, newest first, at most ``limit``."""
        return _newest(self._records, matches, limit)

    def __len__(self) -> int:
        return len(self._records)


E = TypeVar("E", bound=Numbered)
R = TypeVar("R", bound=Numbered)


class Recordings(Generic[E, R]):
    """The part of a sandbox's state that holds its recordings: the clock, the limits
    (``max_events``, ``max_bytes``, ``max_requests``), the lock, the event ring, the request
    log, and since when they are kept. A platform's ``SandboxState`` extends it with what it
    makes of them (dedup, statistics, faults), under the same lock."""

    def __init__(
        self,
        *,
        clock: Clock | None,
        max_events: int,
        max_bytes: int,
        max_requests: int,
        footprint: Callable[[E], int],
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_requests = max_requests
        self._lock = threading.RLock()
        self._events: EventRing[E] = EventRing(footprint)
        self._requests: RequestLog[R] = RequestLog(max_requests)
        self._since = self.clock.now()

    @property
    def event_count(self) -> int:
        """Events currently held (after eviction)."""
        return len(self._events)

    @property
    def bytes_held(self) -> int:
        """What the events currently held weigh (their ``footprint``), at most ``max_bytes``."""
        return self._events.bytes_held

    def _find_events(self, limit: int | None, **wanted: Any) -> list[E]:
        """The events held whose fields equal those ``wanted`` (see :func:`where`), newest
        first, at most ``limit``."""
        with self._lock:
            return self._events.newest(where(**wanted), limit)

    def _find_requests(self, limit: int | None, **wanted: Any) -> list[R]:
        """The request records whose fields equal those ``wanted``, newest first."""
        with self._lock:
            return self._requests.newest(where(**wanted), limit)

    def _period(self) -> dict[str, float]:
        """Since when the statistics count, and now: the summary's first fields."""
        return {"since": self._since, "now": self.clock.now()}

    def _held(self) -> dict[str, int]:
        """What the summary's totals say of the events held and their limits."""
        return {
            "events_held": len(self._events),
            "max_events": self.max_events,
            "bytes_held": self._events.bytes_held,
            "max_bytes": self.max_bytes,
        }

    def _keep(self, rec: E) -> None:
        """Keep ``rec``; drop the oldest events while over ``max_events`` or ``max_bytes``."""
        self._events.append(rec, max_events=self.max_events, max_bytes=self.max_bytes)

    def _forget(self) -> None:
        """Forget the events and requests held (under the lock); statistics start now."""
        self._events.clear()
        self._requests.clear()
        self._since = self.clock.now()
