"""The rigs every platform's ``test_sink.py`` puts its sink on: an HTTP client to its sandbox
in process, a client whose requests are recorded and answered by a handler, numbered batches
of one canonical event, and the check that no secret shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


def in_process(app: Any) -> httpx.AsyncClient:
    """A client to ``app`` (a sandbox's ASGI app), in process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app))


def recording(handler: Handler) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    """A client whose requests are recorded in the list, in order, and answered by ``handler``."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(record)), seen


def numbered(make: Callable[[], dict[str, Any]], n: int, prefix: str = "e") -> list[dict[str, Any]]:
    """``n`` events from ``make``, their ``event_id`` ``<prefix>0``, ``<prefix>1``, ..."""
    out = []
    for i in range(n):
        event = make()
        event["event_id"] = f"{prefix}{i}"
        out.append(event)
    return out


def assert_no_secret(secret: str, *shown: object) -> None:
    """Neither ``repr`` nor ``str`` of anything ``shown`` carries ``secret``."""
    for thing in shown:
        assert secret not in repr(thing) and secret not in str(thing)
