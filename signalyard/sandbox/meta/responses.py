"""HTTP answers that look like Graph's: orjson bodies and Graph's response headers (ref §1.5)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from .errors import GraphError

GRAPH_CONTENT_TYPE = "application/json; charset=UTF-8"
DEFAULT_API_VERSION = "v26.0"

_STATIC_HEADERS = {
    "cache-control": "private, no-cache, no-store, must-revalidate",
    "pragma": "no-cache",
    "expires": "Sat, 01 Jan 2000 00:00:00 GMT",
    "access-control-allow-origin": "*",
}


def graph_headers(trace_id: str, api_version: str | None) -> dict[str, str]:
    headers = dict(_STATIC_HEADERS)
    headers["content-type"] = GRAPH_CONTENT_TYPE
    headers["x-fb-trace-id"] = trace_id
    headers["x-fb-request-id"] = secrets.token_urlsafe(8)
    headers["x-fb-rev"] = str(1_000_000_000 + secrets.randbelow(100_000_000))
    headers["facebook-api-version"] = api_version or DEFAULT_API_VERSION
    return headers


def graph_json(
    status: int,
    body: Any,
    *,
    trace_id: str,
    api_version: str | None,
    extra_headers: Mapping[str, str] | None = None,
) -> Response:
    headers = graph_headers(trace_id, api_version)
    if extra_headers:
        headers.update(extra_headers)
    return Response(orjson.dumps(body), status_code=status, headers=headers)


def graph_error(err: GraphError, *, trace_id: str, api_version: str | None) -> Response:
    return graph_json(
        err.status,
        err.body(trace_id),
        trace_id=trace_id,
        api_version=api_version,
        extra_headers=err.headers,
    )


def usage_headers(account_id: str, regain_minutes: int) -> dict[str, str]:
    """``X-Business-Use-Case-Usage`` and ``X-App-Usage`` of a throttled caller (ref §1.9)."""
    buc = {
        account_id: [
            {
                "type": "ads_management",
                "call_count": 100,
                "total_cputime": 100,
                "total_time": 100,
                "estimated_time_to_regain_access": regain_minutes,
                "ads_api_access_tier": "standard_access",
            }
        ]
    }
    app = {"call_count": 100, "total_cputime": 100, "total_time": 100}
    return {
        "x-business-use-case-usage": orjson.dumps(buc).decode(),
        "x-app-usage": orjson.dumps(app).decode(),
    }
