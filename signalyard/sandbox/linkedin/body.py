"""How LinkedIn answers a request body the gateway's reader refused (the reading itself is
:mod:`signalyard.sandbox.bodies`): 413 (too large), 408 (too slow), 503 (no room, with
``Retry-After``), each with LinkedIn's JSON error body."""

from __future__ import annotations

from starlette.requests import Request

from ...errors import InputError, TooLarge
from ...sources.body import BodyReader, Busy, Disconnected, SlowBody, error_headers
from ..bodies import DEFAULT_MAX_BODY_BYTES, HeldBody
from ..bodies import read_body as shared_read_body
from .errors import LinkedInError, too_large

MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES
"""The largest request body read (a larger one gets 413). LinkedIn publishes no byte limit,
only 5,000 events per ``BATCH_CREATE``; this is the gateway's own ingest limit
(``max_body_bytes``), which a mounted sandbox takes from the settings."""


def refused(error: InputError, limit: int = MAX_BODY_BYTES) -> LinkedInError:
    """LinkedIn's answer to a body the reader refused."""
    if isinstance(error, TooLarge):
        return too_large(limit)
    if isinstance(error, Busy | SlowBody | Disconnected):
        return LinkedInError(
            error.status, str(error) or "Request refused", headers=error_headers(error)
        )
    return LinkedInError(400, "The request body could not be read")


def read_body(bodies: BodyReader, request: Request, limit: int = MAX_BODY_BYTES) -> HeldBody:
    """``async with read_body(bodies, request, limit) as body``: the body, held in the
    reader's budget until the block ends; a refused body raises :class:`LinkedInError`."""
    return shared_read_body(bodies, request, limit, lambda error: refused(error, limit))
