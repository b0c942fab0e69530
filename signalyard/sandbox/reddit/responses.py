"""HTTP answers that look like Reddit's: a JSON body, or the plain text of a 401 without a
token; every answer carries an ``x-request-id`` header."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from .errors import RedditError

JSON_TYPE = "application/json; charset=utf-8"


def reddit_json(
    body: Mapping[str, Any],
    *,
    request_id: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    out = {"content-type": JSON_TYPE, "x-request-id": request_id}
    out.update(headers or {})
    return Response(orjson.dumps(dict(body)), status_code=status, headers=out)


def error_response(error: RedditError, request_id: str) -> Response:
    if error.text is not None:
        headers = {"content-type": "text/plain; charset=utf-8", "x-request-id": request_id}
        headers.update(error.headers)
        return Response(error.text, status_code=error.status, headers=headers)
    return reddit_json(
        error.body, request_id=request_id, status=error.status, headers=error.headers
    )
