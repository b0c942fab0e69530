"""``POST /v1/events:ingest`` and ``GET /v1/requestStatus:retrieve``: the emulated API.

Order of checks on ingest, as Google's front end and the API do them:

1. ``Authorization: Bearer <access token issued by /token>``: missing, unknown, expired or
   revoked (the ``expired_credential`` fault) -> 401 ``UNAUTHENTICATED``; a token without the
   ``datamanager`` scope -> 403 ``PERMISSION_DENIED``;
2. the project's quota (300 requests a minute, 100,000 a day) -> 429 ``RESOURCE_EXHAUSTED``;
3. the body (at most ``max_body_bytes``), JSON mapped onto ``IngestEventsRequest``
   (:mod:`.schema`) -> 400 ``INVALID_ARGUMENT``;
4. injected faults (5xx, throttle, invalid event, timeout);
5. the API's rules (:mod:`.validate`), fail-fast -> 400 ``INVALID_ARGUMENT``;
6. ``validateOnly``: nothing recorded; otherwise every event recorded per destination
   (:mod:`.recorder`). The answer is ``{"requestId": "..."}``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from . import errors, schema
from .body import read_body
from .errors import DOMAIN, FieldViolation, GoogleError
from .faults import Fault
from .recorder import RequestRecord, SandboxState
from .responses import google_error, google_json, new_request_id
from .tokens import DATAMANAGER_SCOPE, IssuedToken
from .validate import validate_request

log = logging.getLogger(__name__)


def _decode_json(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise errors.invalid_payload(
            "", f"Invalid JSON payload received. {str(exc)[:200]}"
        ) from None


def _strings(items: Any, name: str) -> list[str | None]:
    """``name`` of each object in ``items`` when it is a string (for fault matching)."""
    if not isinstance(items, list):
        return []
    out: list[str | None] = []
    for item in items:
        value = item.get(name) if isinstance(item, dict) else None
        out.append(value if isinstance(value, str) and value else None)
    return out


class IngestEndpoint:
    def __init__(
        self, state: SandboxState, clock: Clock, max_body_bytes: int, bodies: BodyReader
    ) -> None:
        self.state = state
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.bodies = bodies

    def _authenticate(self, request: Request, method: str, now: float) -> IssuedToken:
        header = request.headers.get("authorization")
        if not header:
            raise errors.credentials_missing(method)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.invalid_credentials(method)
        issued = self.state.tokens.lookup(token)
        if issued is None:
            raise errors.invalid_credentials(method)
        if issued.expired(now):
            raise errors.invalid_credentials(method, expired=True)
        if DATAMANAGER_SCOPE not in issued.scopes:
            raise errors.insufficient_scope(method)
        return issued

    async def ingest(self, request: Request) -> Response:
        request_id = new_request_id()
        now = self.clock.now()
        record = RequestRecord(0, now, "ingest", 200, None, None, None, request_id, None)
        delay = 0.0
        try:
            delay = await self._handle(request, request_id, now, record)
            response = google_json(200, {"requestId": request_id})
        except GoogleError as error:
            record.status = error.http
            record.reason = error.reason or error.status
            record.message = error.message
            own = error.domain == DOMAIN  # the API's errors carry a RequestInfo
            record.request_id = request_id if own else None
            response = google_error(error, request_id if own else None)
        except Exception:
            log.exception("google sandbox: unexpected error handling %s", request.url.path)
            record.status, record.reason = 500, "INTERNAL"
            response = google_error(errors.server_error(500), request_id)
        self.state.log_request(record)
        if delay > 0:
            await self.clock.sleep(delay)
        return response

    async def _handle(
        self, request: Request, request_id: str, now: float, record: RequestRecord
    ) -> float:
        issued = self._authenticate(request, errors.INGEST_METHOD, now)
        record.project = issued.project
        faults = self.state.faults
        revoked = faults.take("token", now=now, credential=issued.credential)
        if revoked is not None:
            record.fault_id, record.fault_kind = revoked.id, revoked.kind
            raise errors.invalid_credentials(errors.INGEST_METHOD)
        period = self.state.quota.take(issued.project, now)
        if period is not None:
            limit = self.state.quota.per_minute if period == "minute" else self.state.quota.per_day
            raise errors.quota_exceeded(issued.project, limit, period)
        reading = read_body(self.bodies, request, self.max_body_bytes)
        # The body counts in the reader's budget while it is decoded, in a turn if large.
        async with reading as body, self.bodies.turns.decode(len(body)):
            decoded = schema.decode("IngestEventsRequest", _decode_json(body))
        events = decoded.get("events", [])
        record.events = len(events)
        actions = [a or "" for a in _strings(decoded.get("destinations"), "productDestinationId")]
        transaction_ids = _strings(events, "transactionId")
        delay = 0.0
        fault = None
        if len(faults):
            fault = faults.take(
                "ingest",
                now=now,
                credential=issued.credential,
                conversion_actions=actions,
                transaction_ids=transaction_ids,
            )
        if fault is not None:
            record.fault_id, record.fault_kind = fault.id, fault.kind
            delay = self._apply(fault, transaction_ids, actions)
        try:
            checked = validate_request(decoded, now)
        except GoogleError as error:
            invalid = {v.event_index for v in error.violations} - {None}
            self.state.record_rejection(actions, len(invalid))
            raise
        record.validate_only = checked.validate_only
        if checked.validate_only:
            self.state.record_validated(checked)
        else:
            self.state.record_batch(
                checked, request_id=request_id, project=issued.project, received_at=now
            )
        return delay

    def _apply(self, fault: Fault, transaction_ids: list[str | None], actions: list[str]) -> float:
        if fault.kind == "expired_credential":
            raise errors.invalid_credentials(errors.INGEST_METHOD)
        if fault.kind == "server_error":
            raise errors.server_error(fault.status)
        if fault.kind == "throttle":
            raise errors.throttled(fault.retry_after)
        if fault.kind == "invalid_event":
            index = fault.first_invalid(transaction_ids)
            if index is not None:
                self.state.record_rejection(actions, 1)
                raise errors.invalid_argument(
                    [
                        FieldViolation(
                            f"events[{index}]",
                            "This event is not valid (the sandbox's invalid_event fault names "
                            "its transactionId).",
                            "INVALID_EVENT",
                        )
                    ]
                )
            return 0.0
        return fault.delay

    async def request_status(self, request: Request) -> Response:
        now = self.clock.now()
        try:
            self._authenticate(request, errors.STATUS_METHOD, now)
            params = request.query_params
            request_id = params.get("requestId") or params.get("request_id") or ""
            if not request_id:
                raise errors.invalid_argument(
                    [
                        FieldViolation(
                            "requestId", "Required field is missing.", "REQUIRED_FIELD_MISSING"
                        )
                    ]
                )
            found = self.state.request_status(request_id)
            if found is None:
                raise errors.invalid_request_id(request_id)
        except GoogleError as error:
            return google_error(error)
        return google_json(200, found)

    async def unknown(self, request: Request) -> Response:
        return google_error(errors.not_found(f"{request.method} {request.url.path}"))
