"""Outbound HTTP: one request, its answer read whole, nothing of it kept alive afterwards.

httpx links every response to the stream it was read from and that stream back to the
response (``Response.stream`` is bound to it to time the read), so each exchange leaves a
reference cycle holding the request, its body and the connection pool's bookkeeping. Cycles
are freed only by the cyclic garbage collector, which a serving process runs rarely
(:mod:`signalyard.gc_tuning`): a worker delivering 1000-event batches kept every sent body
(about 0.5 MB each) alive and grew ~30 MB a minute. :func:`request` returns a plain
:class:`Reply` and cuts that cycle, so the request and its body are freed by reference
counting as soon as the caller lets go of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Reply", "release", "request"]


@dataclass(frozen=True, slots=True)
class Reply:
    """What a caller needs of an answer: status, headers and the body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeout: float,
    content: bytes | None = None,
    json: Any = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """Send one request and read its answer. Raises what ``client.request`` raises
    (``httpx.RequestError`` and its kin); an ``httpx.HTTPStatusError`` raised by a client's
    hooks is turned back into its answer."""
    try:
        response = await client.request(
            method, url, content=content, json=json, params=params, headers=headers, timeout=timeout
        )
    except httpx.HTTPStatusError as error:  # a client with raise_for_status hooks
        response = error.response
    try:
        return Reply(response.status_code, response.headers, response.content)
    finally:
        release(response)


_DRAINED = httpx.ByteStream(b"")


def release(response: httpx.Response) -> None:
    """Cut the response <-> stream cycle of a response already read (or closed)."""
    response.stream = _DRAINED
