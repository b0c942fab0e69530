"""How Pinterest answers a request body the gateway's reader refused (the reading itself is
:mod:`signalyard.sandbox.bodies`): the front proxy's page with 413 (too large), 408 (too
slow) or 503 (no room; ``Retry-After``)."""

from __future__ import annotations

from starlette.requests import Request

from ...errors import InputError, TooLarge
from ...sources.body import BodyReader, Busy, Disconnected, SlowBody, error_headers
from ..bodies import DEFAULT_MAX_BODY_BYTES, HeldBody
from ..bodies import read_body as shared_read_body
from . import errors
from .errors import PinterestError

MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES
"""The largest request body read (a larger one gets a 413 page). Pinterest publishes no byte
limit, only 1,000 events per request; this is the gateway's own ingest limit."""


def refused(error: InputError) -> PinterestError:
    """The proxy's answer to a body the reader refused."""
    if isinstance(error, TooLarge):
        return errors.proxy_page(413)
    if isinstance(error, Busy | SlowBody | Disconnected):
        return errors.proxy_page(error.status, error_headers(error))
    return errors.proxy_page(400)


def read_body(bodies: BodyReader, request: Request, limit: int = MAX_BODY_BYTES) -> HeldBody:
    """``async with read_body(bodies, request, limit) as body``: the body, held in the
    reader's budget until the block ends; a refused body raises :class:`PinterestError`."""
    return shared_read_body(bodies, request, limit, refused)
