"""LinkedIn's error answers, as the sandbox gives them: an HTTP status and a JSON body
``{"status", "serviceErrorCode"?, "code"?, "message"}`` (LinkedIn's REST API
errors as integrators' test mocks hold them), the request id in the ``x-li-uuid`` header.

=================================  ======  =====================  ==========================
what                               HTTP    code (serviceErrorCode)  message
=================================  ======  =====================  ==========================
no ``Authorization``               401     EMPTY_ACCESS_TOKEN       Empty oauth2_access_token
                                           (65604)
malformed or unknown token         401     INVALID_ACCESS_TOKEN     Invalid access token
                                           (65600)
revoked token (fault)              401     REVOKED_ACCESS_TOKEN     The token used in the
                                           (65601)                  request has been revoked
expired token (fault)              401     EXPIRED_ACCESS_TOKEN     The token used in the
                                           (65602)                  request has expired
no ``LinkedIn-Version``            400     VERSION_MISSING          A version must be present...
inactive ``LinkedIn-Version``      426     NONEXISTENT_VERSION      Requested version ... is
                                                                    not active
throttled (fault)                  429     TOO_MANY_REQUESTS        Resource level throttle ...
validation                         400     (none)                   ``ERROR :: /path :: why``
server error (fault)               5xx     (none)                   Internal Server Error
=================================  ======  =====================  ==========================

65600 and 65601 are in integrators' mocks of LinkedIn; 65602, 65604, ``VERSION_MISSING`` and
the throttle's wording are as LinkedIn was seen to answer, not confirmed by a source the
sandbox cites; the validation wording follows Rest.li's data-validation messages.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

JSON_TYPE = "application/json"

_ids = itertools.count(1)


def new_request_id(now: float) -> str:
    """A request id, shown as ``x-li-uuid`` (LinkedIn's is an opaque base64 string)."""
    return f"sbx{int(now):x}{next(_ids):06x}"


class LinkedInError(Exception):
    """An error answer: HTTP ``status`` with LinkedIn's JSON body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        service_code: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.service_code = service_code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.service_code is not None:
            out["serviceErrorCode"] = self.service_code
        if self.code is not None:
            out["code"] = self.code
        out["message"] = self.message
        return out


def json_response(
    body: Any, status: int, request_id: str, headers: Mapping[str, str] | None = None
) -> Response:
    out = {"content-type": JSON_TYPE, "x-li-uuid": request_id, **(headers or {})}
    return Response(orjson.dumps(body), status_code=status, headers=out)


def error_response(error: LinkedInError, request_id: str) -> Response:
    return json_response(error.body(), error.status, request_id, error.headers)


def empty_token() -> LinkedInError:
    return LinkedInError(
        401, "Empty oauth2_access_token", code="EMPTY_ACCESS_TOKEN", service_code=65604
    )


def invalid_token() -> LinkedInError:
    return LinkedInError(
        401, "Invalid access token", code="INVALID_ACCESS_TOKEN", service_code=65600
    )


def revoked_token() -> LinkedInError:
    return LinkedInError(
        401,
        "The token used in the request has been revoked by the user",
        code="REVOKED_ACCESS_TOKEN",
        service_code=65601,
    )


def expired_token() -> LinkedInError:
    return LinkedInError(
        401,
        "The token used in the request has expired",
        code="EXPIRED_ACCESS_TOKEN",
        service_code=65602,
    )


def version_missing() -> LinkedInError:
    return LinkedInError(
        400,
        "A version must be present. Please specify a version by adding the LinkedIn-Version"
        " header.",
        code="VERSION_MISSING",
    )


def nonexistent_version(version: str) -> LinkedInError:
    return LinkedInError(
        426, f"Requested version {version[:20]} is not active", code="NONEXISTENT_VERSION"
    )


def throttled(seconds: int) -> LinkedInError:
    return LinkedInError(
        429,
        "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        code="TOO_MANY_REQUESTS",
        headers={"retry-after": str(seconds)} if seconds else None,
    )


def server_error(status: int) -> LinkedInError:
    return LinkedInError(
        status, "Internal Server Error" if status == 500 else "Service Unavailable"
    )


def invalid(path: str, why: str) -> LinkedInError:
    """A request refused whole by validation: Rest.li's ``ERROR :: <path> :: <why>``."""
    return LinkedInError(400, validation_message(path, why))


def validation_message(path: str, why: str) -> str:
    return f"ERROR :: {path} :: {why}\n"


def bad_request(message: str) -> LinkedInError:
    return LinkedInError(400, message)


def too_large(limit: int) -> LinkedInError:
    return LinkedInError(413, f"Request body is larger than {limit} bytes")
