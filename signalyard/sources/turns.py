"""Turns for the CPU work on large request bodies, so that they cannot starve small requests.

One event loop serves every request. Decoding a large body blocks it for milliseconds (an
8 MiB body, or one list of 80,000 values in 1 MB: 4 to 10 ms each), and when many large
bodies finish arriving at once (a burst of big batches, or an attack) their decoding would
run back to back while a request carrying a single event waits behind all of them, at each
step of its handling. So:

- :meth:`Turns.decode`: a body of ``large_bytes`` or more is decoded in its turn: one at a
  time, first come first served, each after the loop has served what was ready when its
  turn came, and all of them together in at most ``share`` of the loop's time (after a decode
  that took *t*, the next one starts no sooner than *t* x (1 - share) / share later). Smaller
  bodies never wait.
- :meth:`Turns.clean`: the cleaning of a request with many events (which runs in a worker
  thread, see :mod:`signalyard.sources.ingest`) is done one request at a time, so that the
  event loop shares the interpreter with one cleaning thread, never with dozens.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

__all__ = ["LARGE_BODY_BYTES", "Turns"]

LARGE_BODY_BYTES = 64 * 1024
"""Bodies from this size on are decoded in turns (a 1000-event batch is some 500 KB; one
event, 1 to 2 KB)."""

_NO_TURN: AbstractAsyncContextManager[None] = contextlib.nullcontext()


class Turns:
    """One per process, shared by every endpoint that decodes a body (see the module)."""

    def __init__(self, large_bytes: int = LARGE_BODY_BYTES, share: float = 0.5) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be more than 0 and at most 1")
        self.large_bytes = large_bytes
        self.share = share
        self._decoding: asyncio.Lock | None = None
        self._cleaning: asyncio.Lock | None = None
        self._next_decode = 0.0  # loop time before which no decode starts
        self._loop: asyncio.AbstractEventLoop | None = None

    def _locks(self) -> tuple[asyncio.Lock, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._decoding is None or self._cleaning is None:
            # A new loop (tests run one app in several): locks of the old one are useless.
            self._loop = loop
            self._decoding = asyncio.Lock()
            self._cleaning = asyncio.Lock()
            self._next_decode = 0.0
        return self._decoding, self._cleaning

    def decode(self, size: int) -> AbstractAsyncContextManager[None]:
        """The turn to decode a body of ``size`` bytes (none needed below ``large_bytes``)."""
        return _NO_TURN if size < self.large_bytes else self._decode()

    @contextlib.asynccontextmanager
    async def _decode(self) -> AsyncIterator[None]:
        lock = self._locks()[0]
        async with lock:
            loop = asyncio.get_running_loop()
            wait = self._next_decode - loop.time()
            # Let what became ready while this one waited for the lock run first, and keep
            # large work within its share of the loop's time.
            await asyncio.sleep(wait if wait > 0 else 0)
            started = time.perf_counter()
            try:
                yield
            finally:
                took = time.perf_counter() - started
                self._next_decode = loop.time() + took * (1 - self.share) / self.share

    @contextlib.asynccontextmanager
    async def clean(self) -> AsyncIterator[None]:
        """The turn to clean a request's events in a worker thread."""
        async with self._locks()[1]:
            yield
