"""Running counters a sandbox's statistics are made of, bounded whatever is sent.

Statistics are kept per key the sender chooses (a dataset, an event source, a conversion
action, an event name): :func:`capped` gives each key its own counters up to a limit and
counts every later key together under one label, so that their memory is bounded too.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def capped(table: dict[str, V], key: str, limit: int, other: str, make: Callable[[], V]) -> V:
    """The counters of ``key`` in ``table``, made on first use; once ``table`` has ``limit``
    keys, a new key shares the counters of ``other``."""
    stats = table.get(key)
    if stats is None:
        if len(table) >= limit:
            key = other
            stats = table.get(key)
        if stats is None:
            stats = table[key] = make()
    return stats


def bump(counts: dict[K, int], key: K, n: int = 1) -> None:
    """Add ``n`` to ``counts[key]`` (0 when absent)."""
    counts[key] = counts.get(key, 0) + n


@dataclass(slots=True)
class BatchSizes:
    """The smallest and the largest batch (events in one request) counted."""

    smallest: int | None = None
    largest: int = 0

    def add(self, size: int) -> None:
        self.smallest = size if self.smallest is None else min(self.smallest, size)
        self.largest = max(self.largest, size)

    def to_json(self) -> dict[str, Any]:
        """``{"min", "max"}``, both None before the first batch."""
        return {"min": self.smallest, "max": None if self.smallest is None else self.largest}
