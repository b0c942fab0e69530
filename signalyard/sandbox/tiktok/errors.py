"""TikTok's answers to a refused request, as the Events API 2.0 edge gives them.

TikTok answers **HTTP 200** with ``{"code", "message", "request_id", "data"}`` whatever the
outcome (reference §3; the four keys are those of the official Business API SDK's common
response). The codes the sandbox uses:

=======  ====================================================================================
code     when
=======  ====================================================================================
0        OK
20001    partial success: some events accepted, others not (see :mod:`.answer`)
40001    no permission on the event source (an ``expired_token`` fault); observed wording
40002    a rule broken, naming the field: ``Batch.0.properties.contents.0.content_id: Not a
         valid string`` (observed wording)
40100    throttled: ``Too many requests. Please retry in some time.`` (observed wording)
40104    no ``Access-Token`` header [assumed: TikTok's return-code table, not the reference]
40105    a malformed ``Access-Token`` [assumed, as 40104]
50000    an internal error with a JSON body (``server_error`` fault with ``json``) [assumed]
=======  ====================================================================================

Besides, TikTok's front proxy answers some failures with an nginx HTML page and a 5xx/4xx
status, not JSON (an observed 502): the ``server_error`` fault by default, and bodies the
sandbox refuses to read (413 too large, 408 too slow, 503 no room).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

OK = 0
PARTIAL = 20001
NO_PERMISSION = 40001
INVALID = 40002
THROTTLED = 40100
TOKEN_MISSING = 40104
TOKEN_INVALID = 40105
INTERNAL = 50000

BATCH_PATH = "Batch"
"""The first part of an event's field path in a 40002 message. TikTok's observed message
(``Batch.0.properties...``) comes from the batch endpoint that the 2.0 edge replaced; what
the 2.0 edge writes in front of the index is unconfirmed, so the sandbox keeps the observed
spelling: a sink that reads the index out of real answers reads it out of the sandbox's."""


def new_request_id(now: float) -> str:
    """A request id shaped like TikTok's: the UTC time to the second, then 20 hex digits
    (``2025062217554691FA1E8FB37D612053A0``)."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
    return stamp + secrets.token_hex(10).upper()


def event_path(index: int, *keys: str | int) -> str:
    """``event_path(0, "properties", "contents", 0, "content_id")`` is
    ``Batch.0.properties.contents.0.content_id``."""
    return ".".join([BATCH_PATH, str(index), *(str(k) for k in keys)])


class TikTokError(Exception):
    """A refused request: ``code``/``message`` in TikTok's JSON body with HTTP ``status``
    (200 for every API error), or, with ``page``, an nginx-style HTML page instead."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 200,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        page: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.data: dict[str, Any] = dict(data or {})
        self.headers: dict[str, str] = dict(headers or {})
        self.page = page


def missing_token() -> TikTokError:
    return TikTokError(TOKEN_MISSING, "Access token is null, you should set it in http header.")


def malformed_token() -> TikTokError:
    return TikTokError(TOKEN_INVALID, "Access token is incorrect or has been revoked.")


def no_permission(event_source: str | None, event_source_id: str | None) -> TikTokError:
    what = "pixel code" if event_source in (None, "web") else "event source"
    return TikTokError(
        NO_PERMISSION,
        f"No permission to operate {what}: {event_source_id or ''}. "
        "You must be an admin or operator of this advertiser account.",
    )


def invalid(path: str, rule: str) -> TikTokError:
    """A 40002 naming the field: ``invalid("event_source", "Missing data for required
    field")``."""
    return TikTokError(INVALID, f"{path}: {rule}")


def throttled(status: int = 200) -> TikTokError:
    return TikTokError(THROTTLED, "Too many requests. Please retry in some time.", status=status)


def internal_error(status: int = 500) -> TikTokError:
    return TikTokError(INTERNAL, "Internal service error, please retry later.", status=status)


def proxy_page(status: int, headers: Mapping[str, str] | None = None) -> TikTokError:
    """The front proxy's HTML page for ``status`` (a 502 Bad Gateway and the like)."""
    return TikTokError(0, _phrase(status), status=status, headers=headers, page=True)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def nginx_page(status: int) -> str:
    """The page nginx serves for ``status``, as TikTok's proxy answered an observed 502."""
    title = f"{status} {_phrase(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
