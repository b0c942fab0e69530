"""Reddit's answers to a refused request, as the Conversions API v2.0 gives them.

==========  ===========================================================================
status      body
==========  ===========================================================================
200         ``{"message": "Successfully processed N conversion events."}`` (observed)
400         ``{"message": "There were N invalid conversion events. None were processed.",
            "invalid_events": [{"error_message", "event"}]}``: one invalid event refuses the
            whole request (observed)
400         ``{"error": {"code": 400, "message": "JSON error \\"unknown field\\" on field
            \\"x\\""}}``: a body Reddit cannot read (the shape observed from v3; assumed for
            v2), and a request over the limits
401         the plain text ``Authorization Required`` without a token (observed), or
            ``{"success": false, "error": {"reason": "UNAUTHORIZED", "explanation": ...}}``
            for a token Reddit refuses (observed)
403         the same ``UNAUTHORIZED`` shape whose explanation is ``JSON error unexpected
            type number on field events event_metadata value``: a value of the wrong JSON
            type (observed, as odd as it is)
413         a body over the sandbox's byte limit [assumed]
429         ``{"error": {"code": 429, "message": "Too Many Requests"}}`` and ``Retry-After``
            [assumed: Reddit documents no rate limit]
5xx         ``{"error": {"code": 5xx, "message": ...}}`` [assumed]
==========  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

UNAUTHORIZED_EXPLANATION = (
    "This server could not verify that you are authorized to access the document you requested."
)
TOO_OLD = "event_at timestamp must be less than 168h0m0s old"


class RedditError(Exception):
    """A refused request: HTTP ``status`` with a JSON ``body`` (or, with ``text``, a
    plain-text one)."""

    def __init__(
        self,
        status: int,
        body: Mapping[str, Any] | None = None,
        *,
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.body: dict[str, Any] = dict(body or {})
        self.text = text
        super().__init__(self.message)
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def message(self) -> str:
        """The text the request log keeps (never an echoed event)."""
        if self.text is not None:
            return self.text
        error = self.body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("explanation") or "")
        return str(self.body.get("message") or "")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> RedditError:
    """``{"error": {"code": status, "message": message}}``."""
    return RedditError(status, {"error": {"code": status, "message": message}}, headers=headers)


def missing_token() -> RedditError:
    return RedditError(401, text="Authorization Required")


def unauthorized(status: int = 401, explanation: str = UNAUTHORIZED_EXPLANATION) -> RedditError:
    return RedditError(
        status, {"success": False, "error": {"reason": "UNAUTHORIZED", "explanation": explanation}}
    )


def wrong_type(found: str, path: str) -> RedditError:
    """A value of the wrong JSON type: ``path`` like ``events event_metadata value``."""
    return unauthorized(403, f"JSON error unexpected type {found} on field {path}")


def unknown_field(name: str) -> RedditError:
    return error(400, f'JSON error "unknown field" on field "{name}"')


def invalid_events(failed: list[dict[str, Any]]) -> RedditError:
    """The 400 refusing a request for its invalid events (``failed``: ``error_message`` and
    ``event`` each)."""
    return RedditError(
        400,
        {
            "message": f"There were {len(failed)} invalid conversion events. None were processed.",
            "invalid_events": failed,
        },
    )


def throttled(seconds: int = 60) -> RedditError:
    return error(429, "Too Many Requests", {"retry-after": str(seconds)})


def server_error(status: int = 500) -> RedditError:
    return error(status, _phrase(status))


def too_large(status: int = 413, headers: Mapping[str, str] | None = None) -> RedditError:
    return error(status, _phrase(status), headers)


def json_type(value: Any) -> str:
    """The JSON type name of ``value``, as Reddit's messages write it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
