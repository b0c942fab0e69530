"""Reading a request body: bounded in size, in time, and in memory across all requests.

Every endpoint that reads a body reads it through one :class:`BodyReader` per process:

- at most ``limit`` bytes: 413, before a byte is read when ``Content-Length`` says so;
- each read waits at most ``read_timeout`` seconds for more of the body: a body that stops
  arriving is answered 408 and its connection closed (:class:`SlowBody`);
- the bodies of all requests being read or handled at once stay within one byte budget
  (:class:`BodyBudget`): a body is counted from before it is read (its ``Content-Length``;
  without one, each chunk as it arrives) until its request is answered, and one that does not
  fit waits briefly for room, then is answered 503 with ``Retry-After`` (:class:`Busy`);
- a client that goes away mid-body is one debug line (:class:`Disconnected`, answered to no
  one), never a traceback.

The errors are :class:`~signalyard.errors.InputError` subclasses so that each endpoint
answers them in its own error shape; :func:`error_headers` gives the headers they need.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import deque
from types import TracebackType

from starlette.requests import Request

from signalyard.errors import ConfigError, InputError, TooLarge

__all__ = [
    "BodyBudget",
    "BodyReader",
    "Busy",
    "Disconnected",
    "SlowBody",
    "error_headers",
]

log = logging.getLogger("signalyard.body")
_DIGITS = re.compile(r"[0-9]{1,20}")


class SlowBody(InputError):
    """The body stopped arriving for longer than the read timeout (408; connection closed)."""

    status = 408


class Busy(InputError):
    """The process holds as many body bytes as its budget allows (503, ``Retry-After``)."""

    status = 503

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "body",
            f"the server is receiving as much as it can hold right now; retry in {retry_after} s",
            code=2,
            title="Service temporarily unavailable",
        )
        self.retry_after = retry_after


class Disconnected(InputError):
    """The client went away before its body was read; the answer reaches no one."""

    status = 499


def error_headers(error: InputError) -> dict[str, str]:
    """The headers an answer to ``error`` must carry (none for most errors)."""
    if isinstance(error, Busy):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, SlowBody | Disconnected):
        return {"Connection": "close"}
    return {}


class BodyBudget:
    """Bytes of request bodies the process holds at once. :meth:`take` reserves (waiting up
    to ``wait_seconds``, first come first served), :meth:`give` returns."""

    def __init__(self, total_bytes: int, wait_seconds: float) -> None:
        self.total = total_bytes
        self.wait_seconds = wait_seconds
        self.used = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def take(self, size: int) -> int:
        """Reserve ``size`` bytes (at most the whole budget, so that a body as large as the
        budget can still be read alone); returns what was reserved. Raises :class:`Busy`
        when there is no room within ``wait_seconds``."""
        size = min(size, self.total)
        if not self._waiters and self.used + size <= self.total:
            self.used += size
            return size
        if self.wait_seconds <= 0:
            raise Busy(1)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((size, waiter))
        self._grant()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                self.give(size)  # granted just as the wait ended
            else:
                waiter.cancel()
                self._grant()  # a waiter gone from the head may let the next ones in
            if isinstance(error, TimeoutError):
                raise Busy(max(1, math.ceil(self.wait_seconds))) from None
            raise
        return size

    def give(self, size: int) -> None:
        self.used -= size
        if self._waiters:
            self._grant()

    def _grant(self) -> None:
        """Admit waiters in arrival order while they fit; drop those that stopped waiting.
        Each waiter leaves the queue once, so the work is linear in the waiters."""
        waiters = self._waiters
        while waiters:
            size, waiter = waiters[0]
            if waiter.done():
                waiters.popleft()
                continue
            if self.used + size > self.total:
                return
            waiters.popleft()
            self.used += size
            waiter.set_result(None)


class _Watch:
    """A body being read by ``task``: waiting for more of it since ``since`` (loop time), or
    not waiting (``inf``)."""

    __slots__ = ("expired", "since", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.since = math.inf
        self.expired = False


class ReadTimer:
    """Times out reads that wait too long, with one timer for all of them: a read costs a
    clock reading, not a timer of its own (``asyncio.timeout`` per read would add some
    microseconds to every request). While reads are in progress the timer looks every
    quarter of the timeout and cancels the task of each read waiting longer than
    ``timeout``, so a stalled read ends between ``timeout`` and 1.25 times ``timeout``."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._watches: set[_Watch] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, loop: asyncio.AbstractEventLoop) -> _Watch:
        task = asyncio.current_task(loop)
        assert task is not None
        watch = _Watch(task)
        self._watches.add(watch)
        if self._timer is None or self._loop is not loop:
            self._loop = loop
            self._timer = loop.call_later(self.timeout / 4, self._look, loop)
        return watch

    def unwatch(self, watch: _Watch) -> None:
        self._watches.discard(watch)

    def _look(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:
            return  # a timer of a loop this reader no longer serves
        limit = loop.time() - self.timeout
        for watch in self._watches:  # linear in the reads in progress
            if watch.since <= limit and not watch.expired and watch.task.get_loop() is loop:
                watch.expired = True
                watch.task.cancel()
        self._timer = loop.call_later(self.timeout / 4, self._look, loop) if self._watches else None


class BodyReader:
    """Reads request bodies: ``async with reader.read(request, limit) as body: ...``; the
    body's bytes count against the budget until the block ends."""

    def __init__(self, budget: BodyBudget, read_timeout: float) -> None:
        self.budget = budget
        self.read_timeout = read_timeout
        self.timer = ReadTimer(read_timeout)

    @classmethod
    def configured(
        cls, *, in_flight_bytes: int, wait_seconds: float, read_timeout: float, largest_body: int
    ) -> BodyReader:
        """A reader with the process's settings, refusing values that cannot work: the budget
        must hold at least the largest body an endpoint accepts."""
        if in_flight_bytes < max(1, largest_body):
            raise ConfigError(
                f"setting bodies_in_flight_bytes must be at least the largest accepted body"
                f" (max_body_bytes, collect.max_body_bytes: {largest_body})"
            )
        if not wait_seconds >= 0:
            raise ConfigError("setting body_wait_seconds must be 0 or more")
        if not read_timeout > 0:
            raise ConfigError("setting body_read_timeout_seconds must be more than 0")
        return cls(BodyBudget(in_flight_bytes, wait_seconds), read_timeout)

    def read(self, request: Request, limit: int) -> ReadBody:
        return ReadBody(self, request, limit)


class ReadBody:
    """One body being read and held (see :class:`BodyReader`)."""

    __slots__ = ("_held", "_limit", "_reader", "_request")

    def __init__(self, reader: BodyReader, request: Request, limit: int) -> None:
        self._reader = reader
        self._request = request
        self._limit = limit
        self._held = 0

    async def __aenter__(self) -> bytes:
        try:
            return await self._read()
        except BaseException:
            self._release()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        if self._held:
            self._reader.budget.give(self._held)
            self._held = 0

    async def _read(self) -> bytes:
        request, limit, budget = self._request, self._limit, self._reader.budget
        length = request.headers.get("content-length")
        declared = length is not None
        if length is not None:
            if not _DIGITS.fullmatch(length):
                raise InputError("Content-Length", "must be a number")
            size = int(length)
            if size > limit:
                raise TooLarge("body", f"is {size} bytes; at most {limit} are accepted")
            if size:
                self._held = await budget.take(size)
        receive = request.receive
        loop = asyncio.get_running_loop()
        timer = self._reader.timer
        watch = timer.watch(loop)
        chunks: list[bytes] = []
        size = 0
        more = True
        try:
            while more:
                watch.since = loop.time()
                try:
                    message = await receive()
                except asyncio.CancelledError:
                    if not watch.expired:
                        raise
                    watch.task.uncancel()
                    raise SlowBody(
                        "body",
                        f"stopped arriving: nothing for {timer.timeout:g} s after {size} bytes",
                        title="Request timed out",
                    ) from None
                watch.since = math.inf
                if message["type"] == "http.disconnect":
                    log.debug(
                        "Client went away before its body was read. path=%s read=%d",
                        request.url.path,
                        size,
                    )
                    raise Disconnected("body", "the client went away before sending it all")
                chunk: bytes = message.get("body", b"")
                more = message.get("more_body", False)
                if chunk:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(
                            "body", f"is over {limit} bytes; at most {limit} are accepted"
                        )
                    if not declared:
                        self._held += await budget.take(len(chunk))
                    chunks.append(chunk)
        finally:
            timer.unwatch(watch)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
