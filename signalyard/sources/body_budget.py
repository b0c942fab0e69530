"""The process-wide budget of request body bytes (see :mod:`signalyard.sources.body`, which
reads every body within it)."""

from __future__ import annotations

import asyncio
import math
from collections import deque

from signalyard.errors import InputError

__all__ = ["BodyBudget", "Busy"]


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


class BodyBudget:
    """Bytes of request bodies the process holds at once. :meth:`take` reserves (waiting up
    to ``wait_seconds``, first come first served), :meth:`give` returns.

    Bytes taken with ``keyed=False`` (bodies whose sender is not known yet) together stay
    within ``unkeyed_bytes`` (default: the whole budget), so that whatever they do, keyed
    requests keep ``total_bytes - unkeyed_bytes`` to themselves. Of the unkeyed share,
    ``small_bytes`` are kept for small unkeyed bodies (``small=True``: ``/collect``), which
    hold only those, so that large unkeyed bodies (webhooks, Graph with the token in the
    body) never take their room; large ones hold at most ``unkeyed_bytes - small_bytes``.
    Keyed waiters go first: an unkeyed one is admitted only when no keyed one waits.

    One peer (see :func:`~signalyard.sources.clients.client_key`) holds at most
    ``peer_bytes`` of the large unkeyed bytes
    and ``small_peer_bytes`` of the small ones (0: no cap); past that, :meth:`charge_peer`
    answers :class:`Busy` at once, so that one address cannot fill a share."""

    def __init__(
        self,
        total_bytes: int,
        wait_seconds: float,
        unkeyed_bytes: int | None = None,
        *,
        small_bytes: int = 0,
        peer_bytes: int = 0,
        small_peer_bytes: int = 0,
    ) -> None:
        self.total = total_bytes
        self.unkeyed_total = (
            total_bytes if unkeyed_bytes is None else max(0, min(unkeyed_bytes, total_bytes))
        )
        self.small_total = max(0, min(small_bytes, self.unkeyed_total))
        self.large_total = self.unkeyed_total - self.small_total
        self.peer_bytes = peer_bytes
        self.small_peer_bytes = small_peer_bytes
        self.wait_seconds = wait_seconds
        self.used = 0
        self.used_unkeyed = 0
        self.used_small = 0
        self._peers: dict[str, int] = {}
        self._small_peers: dict[str, int] = {}
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._unkeyed_waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._small_waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _small(self, keyed: bool, small: bool) -> bool:
        return small and not keyed and self.small_total > 0

    def _limit(self, keyed: bool, small: bool) -> int:
        """The most one body may hold."""
        if keyed:
            return self.total
        return self.small_total if self._small(keyed, small) else self.large_total

    def _fits(self, size: int, keyed: bool, small: bool = False) -> bool:
        if self.used + size > self.total:
            return False
        if keyed:
            return True
        if self._small(keyed, small):
            return self.used_small + size <= self.small_total
        return self.used_unkeyed - self.used_small + size <= self.large_total

    def _add(self, size: int, keyed: bool, small: bool = False) -> None:
        self.used += size
        if not keyed:
            self.used_unkeyed += size
            if self._small(keyed, small):
                self.used_small += size

    def charge_peer(self, peer: str, size: int, small: bool = False) -> None:
        """Count ``size`` unkeyed bytes against ``peer``; :class:`Busy` (nothing counted)
        when that would take it past its cap."""
        small = small and self.small_total > 0
        cap = self.small_peer_bytes if small else self.peer_bytes
        if not cap:
            return
        peers = self._small_peers if small else self._peers
        held = peers.get(peer, 0)
        if held + size > cap:
            raise Busy(1)
        peers[peer] = held + size

    def release_peer(self, peer: str, size: int, small: bool = False) -> None:
        small = small and self.small_total > 0
        if not (self.small_peer_bytes if small else self.peer_bytes):
            return
        peers = self._small_peers if small else self._peers
        held = peers.get(peer, 0) - size
        if held > 0:
            peers[peer] = held
        else:
            peers.pop(peer, None)  # the map holds only peers holding bytes: bounded

    def _queue(self, keyed: bool, small: bool) -> deque[tuple[int, asyncio.Future[None]]]:
        if keyed:
            return self._waiters
        return self._small_waiters if self._small(keyed, small) else self._unkeyed_waiters

    def take_now(self, size: int, keyed: bool = True, small: bool = False) -> int:
        """Reserve ``size`` bytes (at most what one body may hold: the budget, or its
        unkeyed part) if that is possible without waiting; returns what was reserved, 0
        when :meth:`take` must wait."""
        size = min(size, self._limit(keyed, small))
        ahead = self._waiters or (not keyed and self._queue(keyed, small))
        if ahead or not self._fits(size, keyed, small):
            return 0
        self._add(size, keyed, small)
        return size

    async def take(self, size: int, keyed: bool = True, small: bool = False) -> int:
        """Reserve ``size`` bytes (at most the budget, or its unkeyed part, so that a body
        as large as that can still be read alone); returns what was reserved. Raises
        :class:`Busy` when there is no room within ``wait_seconds``."""
        size = min(size, self._limit(keyed, small))
        if self.take_now(size, keyed, small):
            return size
        if self.wait_seconds <= 0:
            raise Busy(1)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue(keyed, small).append((size, waiter))
        self._grant()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                self.give(size, keyed, small)  # granted just as the wait ended
            else:
                waiter.cancel()
                self._grant()  # a waiter gone from the head may let the next ones in
            if isinstance(error, TimeoutError):
                raise Busy(max(1, math.ceil(self.wait_seconds))) from None
            raise
        return size

    def give(self, size: int, keyed: bool = True, small: bool = False) -> None:
        self.used -= size
        if not keyed:
            self.used_unkeyed -= size
            if self._small(keyed, small):
                self.used_small -= size
        if self._waiters or self._unkeyed_waiters or self._small_waiters:
            self._grant()

    def _grant(self) -> None:
        """Admit waiters in arrival order while they fit, keyed ones first; drop those that
        stopped waiting. Each waiter leaves its queue once, so the work is linear in the
        waiters."""
        queues = (
            (self._waiters, True, False),
            (self._small_waiters, False, True),
            (self._unkeyed_waiters, False, False),
        )
        for waiters, keyed, small in queues:
            while waiters:
                size, waiter = waiters[0]
                if waiter.done():
                    waiters.popleft()
                    continue
                if not self._fits(size, keyed, small):
                    if keyed:
                        return  # nobody overtakes the head of the keyed queue
                    break  # the other unkeyed pool may still have room
                waiters.popleft()
                self._add(size, keyed, small)
                waiter.set_result(None)
