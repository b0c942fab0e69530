"""Snap's answers to a refused request, and the answers' HTTP shapes.

Snap's OpenAPI gives one body for every status of ``POST /v3/{asset_id}/events``, the
``EventResponse``::

    {"status": "INVALID", "reason": "...", "errors": {"codes": [...], "error_msgs": [...]},
     "event": <index of the failing event>}

and ``{"status": "VALID", "reason": "Events have been processed successfully."}`` for a
request taken (the wording observed from Snap). The HTTP statuses and the error codes and
texts below are **assumed** (the reference finds none documented): 400 for an invalid
request or event, 401 for a missing or refused token, 429 for throttling, 500 for an
internal error; codes are upper-case words naming the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

VALID_REASON = "Events have been processed successfully."
JSON_TYPE = "application/json; charset=utf-8"

MISSING_TOKEN = "MISSING_ACCESS_TOKEN"
INVALID_TOKEN = "INVALID_ACCESS_TOKEN"
EXPIRED_TOKEN = "EXPIRED_ACCESS_TOKEN"
INVALID_BODY = "INVALID_REQUEST_BODY"
INVALID_DATA = "INVALID_DATA"
INVALID_EVENT = "INVALID_EVENT"
RATE_LIMITED = "RATE_LIMIT_EXCEEDED"
INTERNAL = "INTERNAL_ERROR"


class SnapError(Exception):
    """A refused request: Snap's ``EventResponse`` (``status: INVALID``) with HTTP
    ``status``, naming the failing ``event`` when there is one; or, with ``page``, the front
    proxy's HTML page."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        event: int | None = None,
        headers: Mapping[str, str] | None = None,
        page: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.event = event
        self.headers: dict[str, str] = dict(headers or {})
        self.page = page

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": "INVALID",
            "reason": self.message,
            "errors": {"codes": [self.code], "error_msgs": [self.message]},
        }
        if self.event is not None:
            out["event"] = self.event
        return out


def missing_token() -> SnapError:
    return SnapError(401, MISSING_TOKEN, "Unauthorized: the access_token parameter is missing")


def invalid_token() -> SnapError:
    return SnapError(401, INVALID_TOKEN, "Unauthorized: the access token is invalid")


def expired_token() -> SnapError:
    return SnapError(401, EXPIRED_TOKEN, "Unauthorized: the access token is expired or revoked")


def invalid_body(message: str) -> SnapError:
    return SnapError(400, INVALID_BODY, message)


def invalid_data(message: str) -> SnapError:
    return SnapError(400, INVALID_DATA, message)


def invalid_event(index: int, message: str) -> SnapError:
    return SnapError(400, INVALID_EVENT, message, event=index)


def throttled(seconds: int = 60) -> SnapError:
    return SnapError(
        429,
        RATE_LIMITED,
        "Too many requests, please retry later",
        headers={"retry-after": str(seconds)},
    )


def internal_error(status: int = 500) -> SnapError:
    return SnapError(status, INTERNAL, "Internal server error, please retry later")


def proxy_page(status: int, headers: Mapping[str, str] | None = None) -> SnapError:
    """The front proxy's HTML page for ``status`` (413, 408, 503, a 502)."""
    return SnapError(status, "", _phrase(status), headers=headers, page=True)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def snap_json(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(dict(body)),
        status_code=status,
        headers={"content-type": JSON_TYPE, **dict(headers or {})},
    )


def error_response(error: SnapError) -> Response:
    if error.page:
        title = f"{error.status} {error.message}"
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
        return Response(
            page, status_code=error.status, headers={"content-type": "text/html", **error.headers}
        )
    return snap_json(error.body(), error.status, error.headers)
