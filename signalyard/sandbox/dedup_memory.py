"""The bounded memory of deduplication keys a sandbox keeps: the oldest keys forgotten first,
past a count or once their window has passed.

What a key is and what "kept" or "deduplicated" means is each platform's own
(``sandbox/<platform>/recorder.py``); the memory is an ordered map, oldest key first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Protocol, TypeVar

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
