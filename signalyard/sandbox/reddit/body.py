"""How Reddit answers a request body the gateway's reader refused (the reading itself is
:mod:`signalyard.sandbox.bodies`): 413 (too large), 408 (too slow) or 503 (no room,
``Retry-After``), each with ``{"error": {"code", "message"}}`` [assumed]."""

from __future__ import annotations

from starlette.requests import Request

from ...errors import InputError, TooLarge
from ...sources.body import BodyReader, Busy, Disconnected, SlowBody, error_headers
from ..bodies import DEFAULT_MAX_BODY_BYTES, HeldBody
from ..bodies import read_body as shared_read_body
from . import errors
from .errors import RedditError

MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES
"""The largest request body read (a larger one gets a 413). Reddit publishes no byte limit,
only 1,000 events per request; this is the gateway's own ingest limit (``max_body_bytes``),
which a mounted sandbox takes from the settings."""


def refused(error: InputError) -> RedditError:
    """The answer to a body the reader refused."""
    if isinstance(error, TooLarge):
        return errors.too_large(413)
    if isinstance(error, Busy | SlowBody | Disconnected):
        return errors.too_large(error.status, error_headers(error))
    return errors.error(400, "the request body could not be read")


def read_body(bodies: BodyReader, request: Request, limit: int = MAX_BODY_BYTES) -> HeldBody:
    """``async with read_body(bodies, request, limit) as body``: the body, held in the
    reader's budget until the block ends; a refused body raises :class:`RedditError`."""
    return shared_read_body(bodies, request, limit, refused)
