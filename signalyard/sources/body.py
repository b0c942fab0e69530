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
  the budget; the rest is kept for requests whose key was checked before their body. Of the
  share, ``/collect``'s small bodies (``small=True``) hold a part of their own, which large
  unkeyed bodies never take; one peer address (an IPv6 address by its /64) holds at most an
  eighth of each part (at least one largest body), past which its next bytes are refused at
  once; and an unkeyed body must arrive in full within ``unkeyed_deadline`` seconds (408). A
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
from collections.abc import Callable
from types import TracebackType

from starlette.requests import Request

from signalyard.errors import ConfigError, InputError, TooLarge
from signalyard.sources.body_budget import BodyBudget, Busy
from signalyard.sources.clients import client_key
from signalyard.sources.turns import Turns

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


class _Watch:
    """A body being read by ``task``: since ``started`` (loop time), ``received`` bytes have
    arrived, ``excused`` seconds were spent waiting for room in the budget (not the client's
    doing); waiting for more of it since ``since``, or not waiting (``inf``). ``expired``:
    why the timer cancelled the read."""

    __slots__ = ("deadline", "excused", "expired", "received", "since", "started", "task")

    def __init__(self, task: asyncio.Task[object], started: float, deadline: float) -> None:
        self.task = task
        self.started = started
        self.deadline = deadline
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
      room in the budget does not count). ``min_rate`` 0: no such floor, or
    - has not been read in full by its ``deadline`` (given to :meth:`watch`; none by default)."""

    def __init__(self, timeout: float, min_rate: int = 0) -> None:
        self.timeout = timeout
        self.min_rate = min_rate
        self._watches: set[_Watch] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, loop: asyncio.AbstractEventLoop, deadline: float = 0) -> _Watch:
        """Watch the current task's read; ``deadline`` > 0: seconds it has to read its whole
        body."""
        task = asyncio.current_task(loop)
        assert task is not None
        now = loop.time()
        watch = _Watch(task, now, now + deadline if deadline > 0 else math.inf)
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
            if watch.deadline <= now:
                watch.expired = (
                    f"not received in full within {watch.deadline - watch.started:g} s"
                    f" ({watch.received} bytes had arrived)"
                )
            elif watch.since <= stalled:
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


def _client_host(request: Request) -> str:
    return request.client.host if request.client else ""


class BodyReader:
    """Reads request bodies: ``async with reader.read(request, limit) as body: ...``; the
    body's bytes count against the budget until the block ends. ``keyed=True`` says the
    request's key was checked before its body was read (it may use the whole budget);
    ``small=True`` (``/collect``) that an unkeyed body holds only the small bodies' part of
    the unkeyed share. An unkeyed body counts against its peer's cap (the peer is
    ``peer(request)``: the connection's address by default) and must be read in full within
    ``unkeyed_deadline`` seconds (0: no deadline). ``turns``: the turns in which the
    endpoints decode large bodies (:mod:`~signalyard.sources.turns`), one per process like
    the reader."""

    PEER_PARTS = 8
    """One peer may hold 1/8 of a part of the unkeyed share (at least one largest body)."""

    def __init__(
        self,
        budget: BodyBudget,
        read_timeout: float,
        min_rate: int = 0,
        *,
        unkeyed_deadline: float = 0,
        peer: Callable[[Request], str] = _client_host,
        turns: Turns | None = None,
    ) -> None:
        self.budget = budget
        self.turns = turns if turns is not None else Turns()
        self.read_timeout = read_timeout
        self.timer = ReadTimer(read_timeout, min_rate)
        self.unkeyed_deadline = unkeyed_deadline
        self.peer = peer

    @classmethod
    def configured(
        cls,
        *,
        in_flight_bytes: int,
        wait_seconds: float,
        read_timeout: float,
        largest_body: int,
        min_rate: int = 0,
        unkeyed_share: float = 0.5,
        small_body: int = 0,
        small_bytes: int = 0,
        unkeyed_deadline: float = 0,
        keyed: bool = True,
        turns: Turns | None = None,
    ) -> BodyReader:
        """A reader with the process's settings, refusing values that cannot work.

        ``largest_body``: the largest body of the endpoints other than ``/collect``
        (``max_body_bytes``); ``small_body``: the largest ``/collect`` body; ``small_bytes``:
        the part of the unkeyed share kept for ``/collect`` (0: 1/16 of the unkeyed share, at
        least ``small_body``; none when ``small_body`` is 0). Unkeyed bodies together may
        hold ``unkeyed_share`` of the budget, and at least the largest body plus
        ``small_bytes``; with ``keyed`` (some endpoint reads bodies after checking their key)
        the rest must hold ``largest_body``, else :class:`ConfigError`."""
        largest = max(largest_body, small_body)
        if in_flight_bytes < max(1, largest):
            raise ConfigError(
                f"setting bodies_in_flight_bytes must be at least the largest accepted body"
                f" (max_body_bytes, collect.max_body_bytes: {largest})"
            )
        if not wait_seconds >= 0:
            raise ConfigError("setting body_wait_seconds must be 0 or more")
        if not read_timeout > 0:
            raise ConfigError("setting body_read_timeout_seconds must be more than 0")
        if min_rate < 0:
            raise ConfigError("setting body_min_bytes_per_second must be 0 or more")
        if not unkeyed_deadline >= 0:
            raise ConfigError("setting body_unkeyed_deadline_seconds must be 0 or more")
        if not 0 < unkeyed_share <= 1:
            raise ConfigError(
                "setting bodies_unkeyed_share must be more than 0 and at most 1 (a share of"
                " bodies_in_flight_bytes)"
            )
        if small_body and not small_bytes:  # the default: 1/16 of the unkeyed share
            small_bytes = max(small_body, int(in_flight_bytes * unkeyed_share) // 16)
        if small_bytes and small_bytes < small_body:
            raise ConfigError(
                f"setting collect.bodies_in_flight_bytes ({small_bytes}) must be at least"
                f" collect.max_body_bytes ({small_body})"
            )
        large_body = largest_body if small_bytes else largest
        floor = large_body + small_bytes
        unkeyed = min(in_flight_bytes, max(floor, int(in_flight_bytes * unkeyed_share)))
        if keyed and in_flight_bytes - unkeyed < largest_body:
            need = floor + largest_body
            if unkeyed_share < 1:
                need = max(need, math.ceil(largest_body / (1 - unkeyed_share)))
            raise ConfigError(
                f"settings bodies_in_flight_bytes ({in_flight_bytes}) and bodies_unkeyed_share"
                f" ({unkeyed_share:g}) leave {in_flight_bytes - unkeyed} bytes for keyed bodies,"
                f" less than one body (max_body_bytes: {largest_body}): the unkeyed share is"
                f" at least max_body_bytes + collect.bodies_in_flight_bytes ({floor});"
                + (
                    f" raise bodies_in_flight_bytes to {need} or more"
                    if unkeyed_share < 1
                    else " lower bodies_unkeyed_share below 1"
                )
            )
        large = unkeyed - small_bytes
        budget = BodyBudget(
            in_flight_bytes,
            wait_seconds,
            unkeyed,
            small_bytes=small_bytes,
            peer_bytes=max(large_body, large // cls.PEER_PARTS),
            small_peer_bytes=max(small_body, small_bytes // cls.PEER_PARTS),
        )
        return cls(budget, read_timeout, min_rate, unkeyed_deadline=unkeyed_deadline, turns=turns)

    def read(
        self, request: Request, limit: int, *, keyed: bool = False, small: bool = False
    ) -> ReadBody:
        return ReadBody(self, request, limit, keyed, small)


class ReadBody:
    """One body being read and held (see :class:`BodyReader`)."""

    __slots__ = ("_held", "_keyed", "_limit", "_peer", "_reader", "_request", "_small")

    def __init__(
        self, reader: BodyReader, request: Request, limit: int, keyed: bool, small: bool
    ) -> None:
        self._reader = reader
        self._request = request
        self._limit = limit
        self._keyed = keyed
        self._small = small
        self._held = 0
        self._peer: str | None = None  # an unkeyed body's peer, once it holds bytes

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
            budget = self._reader.budget
            budget.give(self._held, self._keyed, self._small)
            if self._peer is not None:
                budget.release_peer(self._peer, self._held, self._small)
            self._held = 0

    async def _read(self) -> bytes:
        request, limit, keyed, small = self._request, self._limit, self._keyed, self._small
        reader = self._reader
        budget = reader.budget
        length = request.headers.get("content-length")
        if length is not None:
            if not _DIGITS.fullmatch(length):
                raise InputError("Content-Length", "must be a number")
            declared = int(length)
            if declared > limit:
                raise TooLarge("body", f"is {declared} bytes; at most {limit} are accepted")
        receive = request.receive
        loop = asyncio.get_running_loop()
        watch = reader.timer.watch(loop, 0 if keyed else reader.unkeyed_deadline)
        if not keyed:
            self._peer = client_key(reader.peer(request))
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
                    peer = self._peer
                    if peer is not None:  # its peer's cap first: its bytes never wait
                        budget.charge_peer(peer, len(chunk), small)
                    held = budget.take_now(len(chunk), keyed, small)
                    if not held:
                        waiting = loop.time()
                        try:
                            held = await budget.take(len(chunk), keyed, small)
                        except BaseException:
                            if peer is not None:
                                budget.release_peer(peer, len(chunk), small)
                            raise
                        watch.excused += loop.time() - waiting
                    if peer is not None and held < len(chunk):
                        budget.release_peer(peer, len(chunk) - held, small)
                    self._held += held
                    chunks.append(chunk)
        finally:
            reader.timer.unwatch(watch)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
