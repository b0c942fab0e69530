"""HTTP answers that look like Pinterest's: JSON bodies with a request id in
``x-request-id``, or the front proxy's plain page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from .errors import PinterestError

JSON_TYPE = "application/json; charset=utf-8"


def pinterest_json(
    body: Mapping[str, Any],
    *,
    request_id: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    out = {"content-type": JSON_TYPE, "x-request-id": request_id}
    out.update(headers or {})
    return Response(orjson.dumps(dict(body)), status_code=status, headers=out)


def error_response(error: PinterestError, request_id: str) -> Response:
    if error.page:
        return Response(
            f"{error.status} {error.message}\n",
            status_code=error.status,
            headers={"content-type": "text/plain", **error.headers},
        )
    return pinterest_json(
        {"code": error.code, "message": error.message},
        request_id=request_id,
        status=error.status,
        headers=error.headers,
    )
