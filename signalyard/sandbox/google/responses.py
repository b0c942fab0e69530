"""HTTP answers shaped as Google's: JSON bodies with Google's headers, and the control
plane's plain JSON."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from .errors import GoogleError, OAuthError

JSON_TYPE = "application/json; charset=UTF-8"
_HEADERS = {"vary": "Origin, X-Origin, Referer", "x-content-type-options": "nosniff"}


def new_request_id() -> str:
    """An opaque request id, as the API puts in ``requestId`` and ``RequestInfo``."""
    return secrets.token_hex(16)


def google_json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    out = {**_HEADERS, "content-type": JSON_TYPE}
    if headers:
        out.update(headers)
    return Response(orjson.dumps(body), status_code=status, headers=out)


def google_error(error: GoogleError, request_id: str | None = None) -> Response:
    return google_json(error.http, error.body(request_id), error.headers)


def oauth_json(status: int, body: Mapping[str, Any]) -> Response:
    """The token endpoint's answers: never cached (RFC 6749 §5.1)."""
    headers = {
        "content-type": JSON_TYPE,
        "cache-control": "no-cache, no-store, max-age=0, must-revalidate",
        "pragma": "no-cache",
    }
    return Response(orjson.dumps(dict(body)), status_code=status, headers=headers)


def oauth_error(error: OAuthError) -> Response:
    return oauth_json(error.http, error.body())
