"""The contract every destination keeps.

A destination is one folder under ``sinks/`` with the same files as every other:

- ``config.py``: a frozen ``Config`` (settings, the platform API version in one constant,
  batch and age limits) with ``from_mapping(dict, secret)`` and ``example()``;
- ``payload.py``: pure functions from canonical events to the request body, snapshot-tested;
- ``sink.py``: ``Sink.send(batch)`` makes one HTTP request and classifies the answer into a
  :class:`~signalyard.outcome.SendResult` (one outcome per event: the same one for every
  event when the platform answers a batch whole, ``per_event = False``); ``healthcheck()``.

A sink never raises for what the platform or the network does: timeouts, connection errors
and error bodies all become outcomes. It never logs or returns personal data, and its
config's secrets are :class:`~signalyard.secret.Secret` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from signalyard.event import ServerEvent
from signalyard.outcome import SendResult


class Sink(Protocol):
    kind: str
    max_batch: int
    """Most events in one request."""
    max_age_seconds: int
    """Events older than this (by ``event_time``) are refused by the platform."""
    per_event: bool
    """``True``: the platform answers each event of a batch on its own, and ``send`` gives
    event *i*'s outcome at index *i* (each row is settled by its own; nothing is bisected or
    sent again). ``False``: the platform accepts or refuses a batch whole, and a refused batch
    is bisected to find the bad event."""

    async def send(
        self, events: Sequence[ServerEvent], *, test_event_code: str | None = None
    ) -> SendResult:
        """Send one batch (``len(events) <= max_batch``) and classify the answer."""
        ...

    async def healthcheck(self) -> SendResult:
        """Check the destination is usable, without side effects where the platform allows."""
        ...
