"""Google's error model, as ``datamanager.googleapis.com`` answers (``google.rpc.Status``).

Every error of the API routes has the same shape::

    {"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT",
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "INVALID_HEX_ENCODING",
                            "domain": "datamanager.googleapis.com", "metadata": {...}},
                           {"@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": "events[3].userData...",
                                                 "description": "...",
                                                 "reason": "INVALID_HEX_ENCODING"}]},
                           {"@type": "type.googleapis.com/google.rpc.RequestInfo",
                            "requestId": "..."}]}}

``code`` is the HTTP status, ``status`` the canonical code's name. ``reason`` values come from
the API's ``ErrorReason`` enum (``google/ads/datamanager/v1/error.proto``); authentication
and quota errors come from Google's front end (domain ``googleapis.com``). Field paths use
the JSON (lowerCamel) names, as ``google.rpc.BadRequest`` documents for JSON clients.
Messages never echo hashed or personal values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DOMAIN = "datamanager.googleapis.com"
SERVICE = "datamanager.googleapis.com"
FRONT_END = "googleapis.com"
INGEST_METHOD = "google.ads.datamanager.v1.IngestionService.IngestEvents"
STATUS_METHOD = "google.ads.datamanager.v1.IngestionService.RetrieveRequestStatus"

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
REQUEST_INFO = "type.googleapis.com/google.rpc.RequestInfo"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One ``google.rpc.BadRequest.FieldViolation``: a JSON path, why, and the reason."""

    field: str
    description: str
    reason: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"field": self.field, "description": self.description}
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    @property
    def event_index(self) -> int | None:
        """``3`` for a violation at ``events[3]...``; None for a request-level field."""
        if not self.field.startswith("events["):
            return None
        end = self.field.find("]")
        digits = self.field[len("events[") : end]
        return int(digits) if digits.isdigit() else None


class GoogleError(Exception):
    """An answer in Google's error model; raised anywhere while handling, rendered once."""

    def __init__(
        self,
        http: int,
        status: str,
        message: str,
        *,
        reason: str | None = None,
        domain: str = DOMAIN,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
        extra: Sequence[dict[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.http = http
        self.status = status
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata = dict(metadata or {})
        self.violations = tuple(violations)
        self.extra = tuple(extra)
        self.headers = dict(headers or {})

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        details: list[dict[str, Any]] = []
        if self.reason is not None:
            details.append(
                {
                    "@type": ERROR_INFO,
                    "reason": self.reason,
                    "domain": self.domain,
                    "metadata": dict(self.metadata),
                }
            )
        if self.violations:
            details.append(
                {"@type": BAD_REQUEST, "fieldViolations": [v.to_json() for v in self.violations]}
            )
        details.extend(self.extra)
        if request_id is not None:
            details.append({"@type": REQUEST_INFO, "requestId": request_id})
        error: dict[str, Any] = {"code": self.http, "message": self.message, "status": self.status}
        if details:
            error["details"] = details
        return {"error": error}


# --- authentication -----------------------------------------------------------------------


def _auth_metadata(method: str) -> dict[str, str]:
    return {"service": SERVICE, "method": method}


def credentials_missing(method: str = INGEST_METHOD) -> GoogleError:
    return GoogleError(
        401,
        "UNAUTHENTICATED",
        "Request is missing required authentication credential. Expected OAuth 2 access "
        "token, login cookie or other valid authentication credential.",
        reason="CREDENTIALS_MISSING",
        domain=FRONT_END,
        metadata=_auth_metadata(method),
        headers={"www-authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )


def invalid_credentials(method: str = INGEST_METHOD, *, expired: bool = False) -> GoogleError:
    return GoogleError(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential.",
        reason="ACCESS_TOKEN_EXPIRED" if expired else "ACCESS_TOKEN_TYPE_UNSUPPORTED",
        domain=FRONT_END,
        metadata=_auth_metadata(method),
        headers={
            "www-authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        },
    )


def insufficient_scope(method: str = INGEST_METHOD) -> GoogleError:
    return GoogleError(
        403,
        "PERMISSION_DENIED",
        "Request had insufficient authentication scopes.",
        reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        domain=FRONT_END,
        metadata={
            **_auth_metadata(method),
            "scopes": "https://www.googleapis.com/auth/datamanager",
        },
        headers={
            "www-authenticate": 'Bearer realm="https://accounts.google.com/", '
            'error="insufficient_scope", scope="https://www.googleapis.com/auth/datamanager"'
        },
    )


# --- the request as a whole ---------------------------------------------------------------


def invalid_payload(field: str, description: str) -> GoogleError:
    """What Google's JSON front end answers to a body it cannot map onto the request
    message (an unknown field, a wrong type, a bad enum or timestamp): no ErrorInfo."""
    return GoogleError(
        400,
        "INVALID_ARGUMENT",
        description,
        violations=[FieldViolation(field, description)],
    )


def invalid_argument(violations: Sequence[FieldViolation]) -> GoogleError:
    """Fail-fast validation: the whole request is refused, every violation listed; the
    ErrorInfo carries the first violation's reason."""
    first = violations[0]
    return GoogleError(
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        reason=first.reason or "INVALID_ARGUMENT",
        violations=violations,
    )


def body_too_large(limit: int) -> GoogleError:
    message = f"Request payload size exceeds the limit: {limit} bytes."
    return GoogleError(400, "INVALID_ARGUMENT", message, violations=[FieldViolation("", message)])


def invalid_request_id(request_id: str) -> GoogleError:
    shown = request_id if len(request_id) <= 64 else request_id[:64] + "..."
    return GoogleError(
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        reason="INVALID_REQUEST_ID",
        violations=[
            FieldViolation(
                "requestId",
                f"No request with id {shown!r}: a status exists only for requests that "
                "succeeded without validateOnly.",
                "INVALID_REQUEST_ID",
            )
        ],
    )


def quota_exceeded(project: str, limit: int, per: str) -> GoogleError:
    limit_name = f"Ingest requests per {per} per project"
    return GoogleError(
        429,
        "RESOURCE_EXHAUSTED",
        f"Quota exceeded for quota metric 'Ingest requests' and limit '{limit_name}' of "
        f"service '{SERVICE}' for consumer 'project:{project}'.",
        reason="RATE_LIMIT_EXCEEDED",
        domain=FRONT_END,
        metadata={
            "service": SERVICE,
            "quota_metric": f"{SERVICE}/ingest_requests",
            "quota_limit": f"IngestRequestsPer{per.capitalize()}PerProject",
            "quota_limit_value": str(limit),
            "consumer": f"projects/{project}",
        },
    )


def throttled(retry_after: int | None) -> GoogleError:
    extra: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    if retry_after is not None:
        extra.append({"@type": RETRY_INFO, "retryDelay": f"{retry_after}s"})
        headers["retry-after"] = str(retry_after)
    return GoogleError(
        429,
        "RESOURCE_EXHAUSTED",
        "Too many requests.",
        reason="RESOURCE_EXHAUSTED",
        extra=extra,
        headers=headers,
    )


_SERVER_ERRORS = {
    500: ("INTERNAL", "Internal error encountered.", "INTERNAL_ERROR"),
    502: ("UNAVAILABLE", "The service is currently unavailable.", None),
    503: ("UNAVAILABLE", "The service is currently unavailable.", None),
    504: ("DEADLINE_EXCEEDED", "The request took too long to respond.", "DEADLINE_EXCEEDED"),
}
SERVER_ERROR_STATUSES = tuple(_SERVER_ERRORS)


def server_error(http: int = 500) -> GoogleError:
    status, message, reason = _SERVER_ERRORS.get(http, _SERVER_ERRORS[500])
    return GoogleError(http, status, message, reason=reason)


def not_found(path: str) -> GoogleError:
    return GoogleError(404, "NOT_FOUND", f"Method not found: {path[:200]}")


# --- OAuth2 token endpoint (RFC 6749 §5.2 bodies, as oauth2.googleapis.com sends them) ----


class OAuthError(Exception):
    """``{"error": ..., "error_description": ...}`` with its HTTP status."""

    def __init__(self, error: str, description: str, http: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.http = http

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}
