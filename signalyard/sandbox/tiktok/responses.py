"""HTTP answers that look like TikTok's: a JSON body (``code``, ``message``, ``request_id``,
``data``) with the request id also in ``X-Tt-Logid``, or the front proxy's HTML page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from .errors import TikTokError, nginx_page

JSON_TYPE = "application/json; charset=utf-8"


def tiktok_json(
    code: int,
    message: str,
    *,
    request_id: str,
    data: Mapping[str, Any] | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = {"code": code, "message": message, "request_id": request_id, "data": dict(data or {})}
    out = {"content-type": JSON_TYPE, "x-tt-logid": request_id}
    out.update(headers or {})
    return Response(orjson.dumps(body), status_code=status, headers=out)


def error_response(error: TikTokError, request_id: str) -> Response:
    if error.page:
        return Response(
            nginx_page(error.status),
            status_code=error.status,
            headers={"content-type": "text/html", **error.headers},
        )
    return tiktok_json(
        error.code,
        error.message,
        request_id=request_id,
        data=error.data,
        status=error.status,
        headers=error.headers,
    )
