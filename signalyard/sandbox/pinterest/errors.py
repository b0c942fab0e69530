"""Pinterest's answers to a refused request: an HTTP status with ``{"code", "message"}``
(the v5 API's error body; reference §5).

=======  =====  ====================================================================================
status   code   when
=======  =====  ====================================================================================
400      1      the request itself is invalid: not JSON, no ``data``, more than 1,000 events,
                ``test`` not a boolean (code and wording [assumed]; the status is documented)
401      2      no ``Authorization: Bearer`` token, a malformed one, or an ``expired_token``
                fault: ``Authentication failed.`` [assumed wording]
404      404    an ad account id that is not digits, or an unknown path [assumed]
413      -      a body over the limit: the front proxy's plain page
429      8      throttled (``throttle`` fault), with ``Retry-After`` [assumed wording]
5xx      -      ``server_error`` fault; 503 with ``The endpoint has been ramped down and is
                currently not accepting any traffic.`` (documented)
=======  =====  ====================================================================================

Events themselves are never refused by status: each gets its ``status`` in the 200 answer
(:mod:`.validate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

INVALID_PARAMETERS = 1
AUTHENTICATION_FAILED = 2
RATE_LIMITED = 8
NOT_FOUND = 404
RAMPED_DOWN = "The endpoint has been ramped down and is currently not accepting any traffic."


class PinterestError(Exception):
    """A refused request: ``{"code", "message"}`` with HTTP ``status``, or, with ``page``, a
    plain-text page of the front proxy."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        page: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})
        self.page = page


def invalid(message: str) -> PinterestError:
    return PinterestError(400, INVALID_PARAMETERS, f"Invalid request: {message}")


def unauthenticated() -> PinterestError:
    return PinterestError(401, AUTHENTICATION_FAILED, "Authentication failed.")


def not_found(path: str) -> PinterestError:
    return PinterestError(404, NOT_FOUND, f"Resource not found: {path}")


def throttled(seconds: int = 60) -> PinterestError:
    return PinterestError(
        429,
        RATE_LIMITED,
        "You have exceeded your rate limit. Try again later.",
        headers={"retry-after": str(seconds)},
    )


def server_error(status: int) -> PinterestError:
    message = RAMPED_DOWN if status == 503 else _phrase(status)
    return PinterestError(status, status, message)


def proxy_page(status: int, headers: Mapping[str, str] | None = None) -> PinterestError:
    """The front proxy's page for ``status`` (a body too large, too slow, no room)."""
    return PinterestError(status, 0, _phrase(status), headers=headers, page=True)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
