"""The bounded memory of deduplication keys a sandbox keeps: the oldest keys forgotten first,
past a count or once their window has passed.

What a key is and what "kept" or "deduplicated" means is each platform's own
(``sandbox/<platform>/recorder.py``); :class:`DedupMemory` keeps the first receipt of each
key (an ordered map, oldest key first) and tells whether a later event is a duplicate.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

DEDUP_WINDOW = 48 * 3600
"""Seconds from a key's first receipt during which a later event with it is a duplicate."""


class Dated(Protocol):
    @property
    def first_at(self) -> float: ...


K = TypeVar("K", bound=Hashable)
D = TypeVar("D", bound=Dated)


def prune(keys: OrderedDict[K, D], max_keys: int, window: float, now: float) -> None:
    """Forget the oldest keys while over ``max_keys``, then those whose ``window`` from their
    first receipt has passed at ``now``."""
    while len(keys) > max_keys:
        keys.popitem(last=False)
    while keys:
        entry = keys[next(iter(keys))]
        if entry.first_at + window > now:
            break
        keys.popitem(last=False)


@dataclass(slots=True)
class FirstReceipt:
    """What the memory holds of a key: when it was first received and the event kept."""

    first_at: float  # the window starts here
    kept_seq: int


class DedupMemory(Generic[K]):
    """The keys of the events kept, oldest first: at most ``max_keys``, each for ``window``
    seconds from its first receipt."""

    def __init__(self, max_keys: int, window: float = DEDUP_WINDOW) -> None:
        self.max_keys = max_keys
        self.window = window
        self._keys: OrderedDict[K, FirstReceipt] = OrderedDict()

    def first(self, key: K, *, seq: int, at: float) -> int | None:
        """Event ``seq`` with ``key`` received ``at``: None when it is kept (a new key, or its
        window passed; remembered, the oldest keys forgotten), else the ``seq`` of the event
        kept."""
        entry = self._keys.get(key)
        if entry is None or at >= entry.first_at + self.window:
            self._keys[key] = FirstReceipt(first_at=at, kept_seq=seq)
            self._keys.move_to_end(key)
            prune(self._keys, self.max_keys, self.window, at)
            return None
        return entry.kept_seq

    def clear(self) -> None:
        self._keys.clear()

    def __len__(self) -> int:
        return len(self._keys)
