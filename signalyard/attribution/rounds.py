"""Work the delivery worker starts in the background at most every so often (fetching the
platforms' claims, computing the kept reports again): a round is started when due and none
runs, and never holds the worker up; :meth:`Rounds.aclose` cancels the one running when the
worker stops."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from signalyard.clock import Clock

__all__ = ["Rounds", "cancel"]


class Rounds:
    """Subclasses define :meth:`run_round` (it must not raise)."""

    def __init__(self, clock: Clock, every_seconds: float) -> None:
        self.clock = clock
        self.every_seconds = every_seconds
        self._next: float | None = None
        self.running: asyncio.Task[int] | None = None
        """The round in the background, if one was started."""

    async def __call__(self) -> int:
        """Start a round when one is due (the first call starts one) and none is running;
        0 (a round counts its own work)."""
        now = self.clock.monotonic()
        if self._next is not None and now < self._next:
            return 0
        if self.running is not None and not self.running.done():
            return 0
        self._next = now + self.every_seconds
        self.running = asyncio.get_running_loop().create_task(self.run_round())
        return 0

    async def run_round(self) -> int:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Cancel the round running, if any (the worker stopping)."""
        if self.running is not None:
            await cancel([self.running])


async def cancel(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait for them to end; a cancellation of the caller itself while
    it waits goes on (it is not taken for theirs)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except Exception:  # it failed as it stopped (logged where it ran): nothing to do
            pass
