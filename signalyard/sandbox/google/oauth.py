"""``POST /token``: Google's OAuth 2.0 token endpoint (``https://oauth2.googleapis.com/token``).

Two grants, form-encoded (``application/x-www-form-urlencoded``; a JSON object is read too):

* ``grant_type=refresh_token`` with ``client_id``, ``client_secret`` and ``refresh_token``
  (an installed app's user credential), optionally ``scope`` to narrow it;
* ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` with ``assertion``: a JWT a
  service account signed (see :mod:`.jwt`).

Success: ``{"access_token", "expires_in": 3599, "token_type": "Bearer", "scope"}``. Errors
are RFC 6749 bodies as Google sends them: ``invalid_request`` (400, a parameter missing),
``unsupported_grant_type`` (400), ``invalid_client`` (401, unknown client or wrong secret),
``invalid_grant`` (400: a malformed, revoked or expired refresh token, a bad assertion),
``invalid_scope`` (400, an assertion without scopes). A credential revoked by the
``expired_credential`` fault gets ``invalid_grant``. Access tokens are remembered by digest
with their expiry on the injected clock.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from ..bodies import MAX_CONTROL_BODY
from . import jwt
from .body import read_body
from .errors import GoogleError, OAuthError
from .faults import Fault
from .recorder import RequestRecord, SandboxState
from .responses import oauth_error, oauth_json
from .tokens import (
    DATAMANAGER_SCOPE,
    client_project,
    refresh_credential,
    service_account_credential,
    service_account_project,
)

log = logging.getLogger(__name__)

REFRESH = "refresh_token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _form(body: bytes, content_type: str) -> dict[str, str]:
    ct = content_type.split(";", 1)[0].strip().lower()
    if ct.endswith("json") or body.lstrip()[:1] == b"{":
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise OAuthError("invalid_request", "The request body is not valid JSON.") from None
        if not isinstance(decoded, dict):
            raise OAuthError("invalid_request", "The request body must be an object.")
        return {str(k): v for k, v in decoded.items() if isinstance(v, str)}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "The request body is not UTF-8.") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise OAuthError("invalid_request", f"Missing required parameter: {name}")
    return value


class TokenEndpoint:
    def __init__(self, state: SandboxState, clock: Clock, bodies: BodyReader) -> None:
        self.state = state
        self.clock = clock
        self.bodies = bodies

    async def token(self, request: Request) -> Response:
        now = self.clock.now()
        record = RequestRecord(0, now, "token", 200, None, None, None, None, None)
        try:
            async with read_body(self.bodies, request, MAX_CONTROL_BODY) as body:
                params = _form(body, request.headers.get("content-type", ""))
            answer = self._grant(params, request, now, record)
            response = oauth_json(200, answer)
        except OAuthError as error:
            record.status, record.reason, record.message = (
                error.http,
                error.error,
                error.description,
            )
            response = oauth_error(error)
        except GoogleError as error:  # the body was refused: too large, too slow, no room
            record.status, record.message = error.http, error.message
            response = oauth_json(
                error.http, {"error": "invalid_request", "error_description": error.message}
            )
            response.headers.update(error.headers)
        self.state.log_request(record)
        return response

    def _grant(
        self, params: dict[str, str], request: Request, now: float, record: RequestRecord
    ) -> dict[str, Any]:
        grant = params.get("grant_type", "")
        if grant == REFRESH:
            credential, project, scopes = self._refresh(params, now, record)
        elif grant == JWT_BEARER:
            credential, project, scopes = self._jwt_bearer(params, request, now, record)
        else:
            raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant[:64]}")
        record.project = project
        lifetime = self.state.token_lifetime
        token = self.state.tokens.issue(
            now=now,
            lifetime=lifetime,
            credential=credential,
            project=project,
            scopes=frozenset(scopes),
            grant=grant,
        )
        return {
            "access_token": token,
            "expires_in": lifetime,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }

    def _revoked(self, credential: str, now: float, record: RequestRecord) -> Fault | None:
        fault = self.state.faults.take("token", now=now, credential=credential)
        if fault is not None:
            record.fault_id, record.fault_kind = fault.id, fault.kind
        return fault

    def _refresh(
        self, params: dict[str, str], now: float, record: RequestRecord
    ) -> tuple[str, str, list[str]]:
        client_id = params.get("client_id", "")
        if not client_id:
            raise OAuthError("invalid_request", "Could not determine client ID from request.")
        client_secret = params.get("client_secret", "")
        if not client_secret:
            raise OAuthError("invalid_request", "client_secret is missing.")
        self.state.credentials.check_client(client_id, client_secret)
        refresh_token = _required(params, "refresh_token")
        if len(refresh_token) < 8 or any(c.isspace() for c in refresh_token):
            raise OAuthError("invalid_grant", "Bad Request")
        credential = refresh_credential(refresh_token)
        if self._revoked(credential, now, record) is not None:
            raise OAuthError("invalid_grant", "Token has been expired or revoked.")
        scopes = params.get("scope", "").split() or [DATAMANAGER_SCOPE]
        return credential, client_project(client_id), scopes

    def _jwt_bearer(
        self, params: dict[str, str], request: Request, now: float, record: RequestRecord
    ) -> tuple[str, str, list[str]]:
        url = request.url
        assertion = jwt.decode(_required(params, "assertion"), now, url.hostname or "", url.path)
        key = self.state.credentials.service_account_key(assertion.issuer)
        if key is not None:
            jwt.verify(assertion, key)
        credential = service_account_credential(assertion.issuer)
        if self._revoked(credential, now, record) is not None:
            raise OAuthError("invalid_grant", "Invalid grant: account not found")
        return credential, service_account_project(assertion.issuer), list(assertion.scopes)
