"""How Google answers a request body the gateway's reader refused (the reading itself is
:mod:`signalyard.sandbox.bodies`).

A refused body becomes Google's answer: too large (400, "Request payload size exceeds the
limit"), too slow (408), no room (503 with ``Retry-After``).
"""

from __future__ import annotations

from starlette.requests import Request

from ...errors import InputError, TooLarge
from ...sources.body import BodyReader, Busy, Disconnected, SlowBody, error_headers
from ..bodies import DEFAULT_MAX_BODY_BYTES, HeldBody
from ..bodies import read_body as shared_read_body
from . import errors
from .errors import GoogleError

MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES
"""The largest request body accepted by default: the gateway's own ingest limit
(``max_body_bytes``), which a mounted sandbox takes from the settings. Google publishes a
limit in events (2,000 per request), not in bytes."""


def body_error(error: InputError, limit: int) -> GoogleError:
    if isinstance(error, TooLarge):
        return errors.body_too_large(limit)
    if isinstance(error, Busy):
        return GoogleError(503, "UNAVAILABLE", error.message, headers=error_headers(error))
    if isinstance(error, SlowBody | Disconnected):
        return GoogleError(408, "DEADLINE_EXCEEDED", error.message, headers=error_headers(error))
    return errors.invalid_payload(error.field, error.rule)


def read_body(bodies: BodyReader, request: Request, limit: int) -> HeldBody:
    """``async with read_body(bodies, request, limit) as body``: the body, held in the
    reader's budget until the block ends; a refused body raises :class:`GoogleError`."""
    return shared_read_body(bodies, request, limit, lambda error: body_error(error, limit))
