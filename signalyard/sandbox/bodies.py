"""Reading a sandbox's request bodies with the gateway's
:class:`~signalyard.sources.body.BodyReader`: bounded in size, in time and in the process's
budget of body bytes in flight.

A sandbox mounted in the gateway shares the gateway's reader (its budget and timeouts);
standalone it has one of its own (:func:`own_reader`). How a refused body is answered is the
platform's own: each sandbox passes its ``refuse`` to :func:`read_body`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from starlette.requests import Request

from ..errors import InputError
from ..settings import Settings
from ..sources.body import BodyReader, ReadBody

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
"""The gateway's own ingest limit (``max_body_bytes``): the default largest body of every
sandbox's endpoint (a mounted sandbox takes it from the settings)."""
MAX_CONTROL_BODY = 1024 * 1024
"""The largest body of a control request (faults, simulated events) or a token request."""

Refuse = Callable[[InputError], Exception]
"""The platform's answer to a body the reader refused (raised in its place)."""


def reader_or_own(bodies: BodyReader | None, max_body_bytes: int) -> BodyReader:
    """``bodies`` (the gateway's reader, when it mounts the sandbox), else a reader of the
    sandbox's own for bodies up to ``max_body_bytes`` and control bodies."""
    return bodies or own_reader(max(max_body_bytes, MAX_CONTROL_BODY))


def own_reader(largest_body: int) -> BodyReader:
    """The body reader of a sandbox that runs on its own (tests, a standalone process): the
    gateway's default limits, every body unkeyed. Mounted in the gateway, a sandbox uses the
    gateway's reader instead, so that its bodies share the gateway's budget."""
    defaults = Settings()
    return BodyReader.configured(
        in_flight_bytes=max(defaults.bodies_in_flight_bytes, largest_body),
        wait_seconds=defaults.body_wait_seconds,
        read_timeout=defaults.body_read_timeout_seconds,
        largest_body=largest_body,
        min_rate=defaults.body_min_bytes_per_second,
        unkeyed_share=1.0,
        keyed=False,  # every body unkeyed: no room kept for keyed ones
    )


class HeldBody:
    """``async with read_body(bodies, request, limit, refuse) as body``: the body, held in
    the reader's budget until the block ends; a refused body raises ``refuse(error)``."""

    __slots__ = ("_read", "_refuse")

    def __init__(self, read: ReadBody, refuse: Refuse) -> None:
        self._read = read
        self._refuse = refuse

    async def __aenter__(self) -> bytes:
        try:
            return await self._read.__aenter__()
        except InputError as error:
            raise self._refuse(error) from None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._read.__aexit__(exc_type, exc, tb)


def read_body(bodies: BodyReader, request: Request, limit: int, refuse: Refuse) -> HeldBody:
    return HeldBody(bodies.read(request, limit), refuse)
