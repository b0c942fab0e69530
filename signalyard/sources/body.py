"""Reading a request body: bounded in size, in time, and in memory across all requests.

Every endpoint that reads a body reads it through one :class:`BodyReader` per process:

- at most ``limit`` bytes: 413, before a byte is read when ``Content-Length`` says so;
- each read waits at most ``read_timeout`` seconds for more of the body, and after its first
  ``read_timeout`` seconds a body must have arrived at ``min_rate`` bytes a second on average
  (a body of ``n`` bytes is read within ``read_timeout + n / min_rate`` seconds): a body that
  stops arriving, or trickles in, is answered 408 and its connection closed
  (:class:`SlowBody`);
- the bodies of all requests being read or handled at once stay within one byte budget
  (:class:`BodyBudget`): a body counts with the bytes that have arrived (never with the
  length it announces), from their arrival until its request is answered. Bodies read
  before their sender's key is checked (``keyed=False``: webhooks, ``/collect``, a Graph
  request whose token is in its body, the mounted sandbox) together hold at most a share of
  the budget; the rest is kept for requests whose key was checked before their body. A
  chunk that does not fit waits briefly for room, then the request is answered 503 with
  ``Retry-After`` (:class:`Busy`);
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
    """The body stopped arriving for longer than the read timeout, or arrives more slowly
    than the minimum rate (408; connection closed)."""

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
    to ``wait_seconds``, first come first served), :meth:`give` returns.

    Bytes taken with ``keyed=False`` (bodies whose sender is not known yet) together stay
    within ``unkeyed_bytes`` (default: the whole budget), so that whatever they do, keyed
    requests keep ``total_bytes - unkeyed_bytes`` to themselves. Keyed waiters go first: an
    unkeyed one is admitted only when no keyed one waits."""

    def __init__(
        self, total_bytes: int, wait_seconds: float, unkeyed_bytes: int | None = None
    ) -> None:
        self.total = total_bytes
        self.unkeyed_total = (
            total_bytes if unkeyed_bytes is None else max(0, min(unkeyed_bytes, total_bytes))
        )
        self.wait_seconds = wait_seconds
        self.used = 0
        self.used_unkeyed = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._unkeyed_waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _fits(self, size: int, keyed: bool) -> bool:
        if self.used + size > self.total:
            return False
        return keyed or self.used_unkeyed + size <= self.unkeyed_total

    def _add(self, size: int, keyed: bool) -> None:
        self.used += size
        if not keyed:
            self.used_unkeyed += size

    def take_now(self, size: int, keyed: bool = True) -> int:
        """Reserve ``size`` bytes (at most what one body may hold: the budget, or the
        unkeyed share) if that is possible without waiting; returns what was reserved, 0
        when :meth:`take` must wait."""
        size = min(size, self.total if keyed else self.unkeyed_total)
        ahead = self._waiters or (not keyed and self._unkeyed_waiters)
        if ahead or not self._fits(size, keyed):
            return 0
        self._add(size, keyed)
        return size

    async def take(self, size: int, keyed: bool = True) -> int:
        """Reserve ``size`` bytes (at most the budget, or the unkeyed share, so that a body
        as large as that can still be read alone); returns what was reserved. Raises
        :class:`Busy` when there is no room within ``wait_seconds``."""
        size = min(size, self.total if keyed else self.unkeyed_total)
        if self.take_now(size, keyed):
            return size
        if self.wait_seconds <= 0:
            raise Busy(1)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._waiters if keyed else self._unkeyed_waiters).append((size, waiter))
        self._grant()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                self.give(size, keyed)  # granted just as the wait ended
            else:
                waiter.cancel()
                self._grant()  # a waiter gone from the head may let the next ones in
            if isinstance(error, TimeoutError):
                raise Busy(max(1, math.ceil(self.wait_seconds))) from None
            raise
        return size

    def give(self, size: int, keyed: bool = True) -> None:
        self.used -= size
        if not keyed:
            self.used_unkeyed -= size
        if self._waiters or self._unkeyed_waiters:
            self._grant()

    def _grant(self) -> None:
        """Admit waiters in arrival order while they fit, keyed ones first; drop those that
        stopped waiting. Each waiter leaves its queue once, so the work is linear in the
        waiters."""
        for waiters, keyed in ((self._waiters, True), (self._unkeyed_waiters, False)):
            while waiters:
                size, waiter = waiters[0]
                if waiter.done():
                    waiters.popleft()
                    continue
                if not self._fits(size, keyed):
                    return  # nobody overtakes the head of the keyed queue
                waiters.popleft()
                self._add(size, keyed)
                waiter.set_result(None)


class _Watch:
    """A body being read by ``task``: since ``started`` (loop time), ``received`` bytes have
    arrived, ``excused`` seconds were spent waiting for room in the budget (not the client's
    doing); waiting for more of it since ``since``, or not waiting (``inf``). ``expired``:
    why the timer cancelled the read."""

    __slots__ = ("excused", "expired", "received", "since", "started", "task")

    def __init__(self, task: asyncio.Task[object], started: float) -> None:
        self.task = task
        self.started = started
        self.since = math.inf
        self.received = 0
        self.excused = 0.0
        self.expired: str | None = None


class ReadTimer:
    """Times out reads that wait too long, and bodies that arrive too slowly, with one timer
    for all of them: a read costs a clock reading, not a timer of its own (``asyncio.timeout``
    per read would add some microseconds to every request). While reads are in progress the
    timer looks every quarter of the timeout and cancels the task of each read that

    - has waited longer than ``timeout`` (so a stalled read ends between ``timeout`` and 1.25
      times ``timeout``), or
    - belongs to a body that, ``timeout`` seconds after its reading started, has received
      fewer than ``min_rate`` bytes a second on average since then (time spent waiting for
      room in the budget does not count). ``min_rate`` 0: no such floor."""

    def __init__(self, timeout: float, min_rate: int = 0) -> None:
        self.timeout = timeout
        self.min_rate = min_rate
        self._watches: set[_Watch] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, loop: asyncio.AbstractEventLoop) -> _Watch:
        task = asyncio.current_task(loop)
        assert task is not None
        watch = _Watch(task, loop.time())
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
        now = loop.time()
        stalled = now - self.timeout
        for watch in self._watches:  # linear in the reads in progress
            if watch.expired or watch.since == math.inf or watch.task.get_loop() is not loop:
                continue  # only a read waiting for the client is cancelled
            if watch.since <= stalled:
                watch.expired = (
                    f"stopped arriving: nothing for {self.timeout:g} s after {watch.received} bytes"
                )
            elif self.min_rate and watch.received < self.min_rate * (
                now - watch.started - watch.excused - self.timeout
            ):
                watch.expired = (
                    f"arrives too slowly: {watch.received} bytes in"
                    f" {now - watch.started:.1f} s; after its first {self.timeout:g} s a body"
                    f" must arrive at {self.min_rate} bytes a second or more"
                )
            else:
                continue
            watch.task.cancel()
        self._timer = loop.call_later(self.timeout / 4, self._look, loop) if self._watches else None


class BodyReader:
    """Reads request bodies: ``async with reader.read(request, limit) as body: ...``; the
    body's bytes count against the budget until the block ends. ``keyed=True`` says the
    request's key was checked before its body was read (it may use the whole budget)."""

    def __init__(self, budget: BodyBudget, read_timeout: float, min_rate: int = 0) -> None:
        self.budget = budget
        self.read_timeout = read_timeout
        self.timer = ReadTimer(read_timeout, min_rate)

    @classmethod
    def configured(
        cls,
        *,
        in_flight_bytes: int,
        wait_seconds: float,
        read_timeout: float,
        largest_body: int,
        min_rate: int = 0,
        unkeyed_share: float = 1.0,
    ) -> BodyReader:
        """A reader with the process's settings, refusing values that cannot work: the budget
        must hold at least the largest body an endpoint accepts. Unkeyed bodies together may
        hold ``unkeyed_share`` of the budget, and at least the largest body."""
        if in_flight_bytes < max(1, largest_body):
            raise ConfigError(
                f"setting bodies_in_flight_bytes must be at least the largest accepted body"
                f" (max_body_bytes, collect.max_body_bytes: {largest_body})"
            )
        if not wait_seconds >= 0:
            raise ConfigError("setting body_wait_seconds must be 0 or more")
        if not read_timeout > 0:
            raise ConfigError("setting body_read_timeout_seconds must be more than 0")
        if min_rate < 0:
            raise ConfigError("setting body_min_bytes_per_second must be 0 or more")
        if not 0 < unkeyed_share <= 1:
            raise ConfigError(
                "setting bodies_unkeyed_share must be more than 0 and at most 1 (a share of"
                " bodies_in_flight_bytes)"
            )
        unkeyed = min(in_flight_bytes, max(largest_body, int(in_flight_bytes * unkeyed_share)))
        return cls(BodyBudget(in_flight_bytes, wait_seconds, unkeyed), read_timeout, min_rate)

    def read(self, request: Request, limit: int, *, keyed: bool = False) -> ReadBody:
        return ReadBody(self, request, limit, keyed)


class ReadBody:
    """One body being read and held (see :class:`BodyReader`)."""

    __slots__ = ("_held", "_keyed", "_limit", "_reader", "_request")

    def __init__(self, reader: BodyReader, request: Request, limit: int, keyed: bool) -> None:
        self._reader = reader
        self._request = request
        self._limit = limit
        self._keyed = keyed
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
            self._reader.budget.give(self._held, self._keyed)
            self._held = 0

    async def _read(self) -> bytes:
        request, limit, keyed = self._request, self._limit, self._keyed
        budget = self._reader.budget
        length = request.headers.get("content-length")
        if length is not None:
            if not _DIGITS.fullmatch(length):
                raise InputError("Content-Length", "must be a number")
            declared = int(length)
            if declared > limit:
                raise TooLarge("body", f"is {declared} bytes; at most {limit} are accepted")
        receive = request.receive
        loop = asyncio.get_running_loop()
        watch = self._reader.timer.watch(loop)
        chunks: list[bytes] = []
        size = 0
        more = True
        try:
            while more:
                watch.since = loop.time()
                try:
                    message = await receive()
                except asyncio.CancelledError:
                    if watch.expired is None:
                        raise
                    watch.task.uncancel()
                    raise SlowBody("body", watch.expired, title="Request timed out") from None
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
                    watch.received = size
                    if size > limit:
                        raise TooLarge(
                            "body", f"is over {limit} bytes; at most {limit} are accepted"
                        )
                    # Counted as it arrives: an announced length costs nothing until sent.
                    held = budget.take_now(len(chunk), keyed)
                    if not held:
                        waiting = loop.time()
                        held = await budget.take(len(chunk), keyed)
                        watch.excused += loop.time() - waiting
                    self._held += held
                    chunks.append(chunk)
        finally:
            self._reader.timer.unwatch(watch)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
