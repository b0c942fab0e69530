"""``POST /mp/collect`` and ``POST /debug/mp/collect``: the emulated Measurement Protocol.

Order of handling, both endpoints: the body (at most ``max_body_bytes``, else Google's 413
page), injected faults (5xx, 429, a proxy's 401/403, a revoked secret, an invalid event),
then GA4's rules (:func:`~.validate.check_request`, with the ``measurement_id`` query
parameter and the body's size).

- ``/mp/collect`` answers **204 with an empty body** to every request it reads, valid or not,
  as GA4 does. It records each event (``accepted``, or ``dropped`` with the rule and its
  validation code: what GA4 would drop silently). It requires ``api_secret`` in the query
  (without one every event is dropped); any secret is taken, as the sandbox cannot know which
  secrets a stream has, except under the ``revoked_secret`` fault.
- ``/debug/mp/collect`` (the validation server) answers **200 with**
  ``{"validationMessages": [...]}``, empty when the request is valid. It does not check
  ``api_secret`` (GA4's validation server does not) and records no event.

Every request is logged (:class:`~.recorder.RequestRecord`, the secret as a digest prefix).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...errors import InputError, TooLarge
from ...sources.body import BodyReader, Busy, Disconnected, SlowBody, error_headers
from ..bodies import DEFAULT_MAX_BODY_BYTES, own_reader, read_body
from ..digest import token_digest
from .faults import Fault
from .recorder import KEYS, RequestRecord, SandboxState
from .validate import CheckedRequest, Message, check_request, event_id_of

log = logging.getLogger(__name__)

MAX_READ_BYTES = DEFAULT_MAX_BODY_BYTES
"""The largest body read at all (Google's 413 page past it); GA4's own 130 kB limit is a
rule of :mod:`.validate`."""

_TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class PageError(Exception):
    """An answer with an HTML page instead of GA4's own (Google's front end, or a proxy)."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.headers = headers or {}


def page(status: int, headers: dict[str, str] | None = None) -> Response:
    title = _TITLES.get(status, "Error")
    html = (
        f"<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error {status}"
        f" ({title})!!1</title><p><b>{status}.</b> <ins>That's an error.</ins>"
    )
    return Response(
        html,
        status_code=status,
        headers={"content-type": "text/html; charset=UTF-8", **(headers or {})},
    )


def refused(error: InputError) -> PageError:
    """Google's answer to a body the reader refused."""
    if isinstance(error, TooLarge):
        return PageError(413)
    if isinstance(error, Busy | SlowBody | Disconnected):
        return PageError(error.status, error_headers(error))
    return PageError(400)


class Endpoint:
    def __init__(
        self,
        state: SandboxState,
        clock: Clock,
        max_body_bytes: int = MAX_READ_BYTES,
        bodies: BodyReader | None = None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.bodies = bodies or own_reader(max_body_bytes)

    async def collect(self, request: Request) -> Response:
        return await self._handle(request, "collect")

    async def debug(self, request: Request) -> Response:
        return await self._handle(request, "debug")

    async def _handle(self, request: Request, endpoint: str) -> Response:
        now = self.clock.now()
        measurement_id = request.query_params.get("measurement_id")
        secret = request.query_params.get("api_secret")
        record = RequestRecord(
            seq=0,
            received_at=now,
            endpoint=endpoint,
            status=0,
            measurement_id=measurement_id,
            secret_sha256_prefix=token_digest(secret)[:12] if secret else None,
        )
        try:
            async with read_body(self.bodies, request, self.max_body_bytes, refused) as body:
                async with self.bodies.turns.decode(len(body)):
                    parsed = _decode(body)
                response = self._answer(
                    parsed, len(body), endpoint, measurement_id, secret, record, now
                )
        except PageError as error:
            response = page(error.status, error.headers)
        except Exception:
            log.exception("sandbox: unexpected error handling %s", request.url.path)
            response = page(500)
        record.status = response.status_code
        self.state.record_request(record)
        return response

    def _answer(
        self,
        parsed: Any,
        size: int,
        endpoint: str,
        measurement_id: str | None,
        secret: str | None,
        record: RequestRecord,
        now: float,
    ) -> Response:
        raw = parsed.get("events") if isinstance(parsed, dict) else None
        events: list[Any] = raw if isinstance(raw, list) else []
        record.events = len(events) if isinstance(raw, list) else None
        ids = [event_id_of(e) for e in events]
        fault = None
        if len(self.state.faults):
            fault = self.state.faults.take(
                measurement_id=measurement_id, endpoint=endpoint, event_ids=ids, now=now
            )
        if fault is not None:
            record.fault_id, record.fault_kind = fault.id, fault.kind
            _raise_page(fault)
        checked = check_request(parsed, measurement_id=measurement_id, size=size, now=now)
        if fault is not None and fault.kind == "invalid_event":
            for i, event_id in enumerate(ids):
                if event_id is not None and event_id in fault.event_ids:
                    checked.messages.append(_injected(i, event_id))
        if endpoint == "debug":
            return self._validated(checked, record)
        if not secret:
            checked.messages.insert(
                0, Message("api_secret", "api_secret is required.", "VALUE_REQUIRED")
            )
        elif fault is not None and fault.kind == "revoked_secret":
            checked.messages.insert(
                0,
                Message(
                    "api_secret",
                    "api_secret not valid for the stream (sandbox fault revoked_secret).",
                    "VALUE_INVALID",
                ),
            )
        self._record(parsed, checked, record, now)
        return Response(status_code=204)

    def _validated(self, checked: CheckedRequest, record: RequestRecord) -> Response:
        record.messages = len(checked.messages)
        invalid = {i for i in range(len(checked.events)) if checked.event_problem(i) is not None}
        names = [_name(e) for e in checked.events]
        self.state.count_validated(checked.measurement_id, names, invalid)
        body = {"validationMessages": [m.to_json() for m in checked.messages]}
        return Response(orjson.dumps(body), 200, media_type="application/json")

    def _record(
        self, parsed: Any, checked: CheckedRequest, record: RequestRecord, now: float
    ) -> None:
        top: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        request_fields = {k: v for k, v in top.items() if k != "events"}
        keys = _keys(top)
        for i, raw in enumerate(checked.events):
            problem = checked.event_problem(i)
            error = None if problem is None else (problem.code, problem.description)
            self.state.record_event(
                measurement_id=checked.measurement_id,
                name=_name(raw),
                event_id=event_id_of(raw),
                error=error,
                keys=keys,
                data={**request_fields, "event": raw},
                received_at=now,
            )
            if problem is None:
                record.accepted += 1
            else:
                record.dropped += 1


def _raise_page(fault: Fault) -> None:
    if fault.kind == "server_error":
        raise PageError(fault.status)
    if fault.kind == "throttle":
        raise PageError(429, {"retry-after": str(fault.retry_after)})
    if fault.kind == "proxy_denied":
        raise PageError(fault.status)


def _injected(index: int, event_id: str) -> Message:
    return Message(
        f"events[{index}]",
        f"Event at index: [{index}] is invalid (sandbox fault invalid_event, event_id"
        f" [{event_id}]).",
        "VALUE_INVALID",
        index,
    )


def _keys(top: dict[str, Any]) -> frozenset[str]:
    found = {k for k in ("client_id", "ip_override", "consent") if top.get(k)}
    user_data = top.get("user_data")
    if isinstance(user_data, dict):
        found |= {k for k in ("sha256_email_address", "sha256_phone_number") if user_data.get(k)}
    return frozenset(k for k in KEYS if k in found)


def _name(raw: object) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return name if isinstance(name, str) and name else "(no name)"


def _decode(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        return None
