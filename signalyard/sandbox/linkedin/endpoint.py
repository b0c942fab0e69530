"""The emulated LinkedIn REST routes: ``POST /rest/conversionEvents`` and ``GET
/rest/conversions/{id}``.

Order of checks, as LinkedIn's edge makes them: the ``Authorization: Bearer`` token (missing:
401 ``EMPTY_ACCESS_TOKEN``; malformed: 401 ``INVALID_ACCESS_TOKEN``), the ``LinkedIn-Version``
header (missing: 400 ``VERSION_MISSING``; not an active YYYYMM: 426 ``NONEXISTENT_VERSION``),
``X-Restli-Protocol-Version: 2.0.0`` (else 400), ``X-RestLi-Method`` (absent: a single
create; ``BATCH_CREATE``: ``{"elements": [...]}``, 1 to 5,000; anything else: 400), the body
(JSON, at most ``max_body_bytes``), injected faults, every element's shape
(:func:`~.validate.check_shape`: 400 naming the first bad field), the conversion rules
(a rule not created for the Conversions API: 400 ``Conversion's method should be
CONVERSIONS_API``), then each element's meaning (:func:`~.validate.check_meaning`).

A batch is answered 200 ``{"elements": [{"status": 201}, {"status": 400, "error": {"status":
400, "message": ...}}, ...]}``, one entry per element in order: the elements refused on their
own carry the Rest.li ``error`` of a batch answer (LinkedIn's sources give the per-element
``status``; the ``error`` object is Rest.li's batch-create form). A single create is answered
201 with an empty body, or 400 with the element's message.

Active versions: YYYYMM from twelve months before the clock's month up to that month
(LinkedIn sunsets a version about a year after release).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from ..bodies import own_reader
from ..digest import digest_prefix, token_digest, well_formed_token
from . import errors
from .body import MAX_BODY_BYTES, read_body
from .errors import LinkedInError, error_response, json_response, new_request_id
from .faults import Fault
from .recorder import RequestRecord, SandboxState
from .validate import MAX_BATCH, REQUIRED, Checked, check_meaning, check_shape, rule_id_of

log = logging.getLogger(__name__)

Handler = Callable[[Request, "_Outcome", str, float], Awaitable[Response]]
VERSION_MONTHS = 12
RULE_METHOD_ERROR = "Conversion's method should be CONVERSIONS_API"


@dataclass(slots=True)
class _Outcome:
    """What the request log needs to know, filled in as handling goes."""

    method: str = "CREATE"
    version: str | None = None
    rule_id: str | None = None
    elements: int | None = None
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    token_sha256: str | None = None
    fault: Fault | None = None
    delay: float = 0.0


def _month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def version_active(version: str, now: float) -> bool:
    """Whether ``version`` (YYYYMM) is served at ``now``."""
    if len(version) != 6 or not version.isdigit():
        return False
    year, month = int(version[:4]), int(version[4:])
    if not 1 <= month <= 12:
        return False
    today = time.gmtime(now)
    current = _month_index(today.tm_year, today.tm_mon)
    return current - VERSION_MONTHS <= _month_index(year, month) <= current


class Endpoints:
    def __init__(
        self,
        state: SandboxState,
        clock: Clock,
        max_body_bytes: int = MAX_BODY_BYTES,
        bodies: BodyReader | None = None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.bodies = bodies or own_reader(max_body_bytes)

    async def conversion_events(self, request: Request) -> Response:
        return await self._serve(request, self._events)

    async def conversion_rule(self, request: Request) -> Response:
        return await self._serve(request, self._rule)

    async def _serve(self, request: Request, handler: Handler) -> Response:
        received_at = self.clock.now()
        request_id = new_request_id(received_at)
        out = _Outcome()
        code: str | None = None
        message: str | None = None
        try:
            response = await handler(request, out, request_id, received_at)
        except LinkedInError as error:
            response = error_response(error, request_id)
            code, message = error.code, error.message
        except Exception:
            log.exception("sandbox: unexpected error handling %s", request.url.path)
            failure = errors.server_error(500)
            response = error_response(failure, request_id)
            message = failure.message
        self.state.record_request(
            RequestRecord(
                seq=0,
                received_at=received_at,
                method=out.method,
                status=response.status_code,
                request_id=request_id,
                code=code,
                message=message,
                version=out.version,
                conversion_rule_id=out.rule_id,
                elements=out.elements,
                accepted=out.accepted,
                invalid=out.invalid,
                deduplicated=out.deduplicated,
                errors=tuple(out.errors),
                token_sha256_prefix=digest_prefix(out.token_sha256),
                fault_id=None if out.fault is None else out.fault.id,
                fault_kind=None if out.fault is None else out.fault.kind,
            )
        )
        if out.delay > 0:
            await self.clock.sleep(out.delay)
        return response

    def _edge(self, request: Request, out: _Outcome, now: float) -> None:
        """Token, version and protocol headers, as LinkedIn checks them first."""
        auth = request.headers.get("authorization", "")
        if not auth.strip():
            raise errors.empty_token()
        scheme, _, token = auth.partition(" ")
        out.token_sha256 = token_digest(token or auth)
        if scheme.lower() != "bearer" or not well_formed_token(token):
            raise errors.invalid_token()
        version = request.headers.get("linkedin-version")
        if version is None or not version.strip():
            raise errors.version_missing()
        out.version = version.strip()
        if not version_active(out.version, now):
            raise errors.nonexistent_version(out.version)
        protocol = request.headers.get("x-restli-protocol-version")
        if protocol != "2.0.0":
            raise errors.bad_request(
                "This endpoint requires Rest.li protocol version 2.0.0: set the header"
                " X-Restli-Protocol-Version: 2.0.0"
            )

    def _fault(
        self, out: _Outcome, rule_ids: list[str | None], event_ids: list[str | None], now: float
    ) -> Fault | None:
        if not len(self.state.faults):
            return None
        fault = self.state.faults.take(
            rule_ids=rule_ids, token_sha256=out.token_sha256, event_ids=event_ids, now=now
        )
        if fault is None:
            return None
        out.fault = fault
        if fault.kind == "expired_token":
            raise errors.revoked_token() if fault.revoked else errors.expired_token()
        if fault.kind == "server_error":
            raise errors.server_error(fault.status)
        if fault.kind == "throttle":
            raise errors.throttled(fault.retry_after)
        if fault.kind == "timeout":
            out.delay = fault.delay
        return fault

    async def _rule(self, request: Request, out: _Outcome, request_id: str, now: float) -> Response:
        out.method = "GET"
        self._edge(request, out, now)
        rule_id = request.path_params["rule_id"]
        if not rule_id.isdigit() or len(rule_id) > 20:
            raise LinkedInError(404, f"Not found: conversion {rule_id[:40]}")
        out.rule_id = rule_id
        account = request.query_params.get("account")
        if not account or not account.startswith("urn:li:sponsoredAccount:"):
            raise errors.bad_request(
                "The query parameter account (urn:li:sponsoredAccount:<id>) is required"
            )
        self._fault(out, [rule_id], [], now)
        return json_response(self.state.rule(rule_id, account), 200, request_id)

    async def _events(
        self, request: Request, out: _Outcome, request_id: str, now: float
    ) -> Response:
        self._edge(request, out, now)
        method = request.headers.get("x-restli-method")
        if method is not None and method.upper() != "BATCH_CREATE":
            raise errors.bad_request(
                f"Unsupported X-RestLi-Method {method[:40]!r} for conversionEvents"
            )
        batch = method is not None
        out.method = "BATCH_CREATE" if batch else "CREATE"
        async with (
            read_body(self.bodies, request, self.max_body_bytes) as body,
            self.bodies.turns.decode(len(body)),
        ):
            parsed = _decode(body)
        elements = _elements(parsed) if batch else [parsed]
        out.elements = len(elements)
        rule_ids = [rule_id_of(e) for e in elements]
        out.rule_id = next((r for r in rule_ids if r is not None), None)
        event_ids = [_event_id(e) for e in elements]
        fault = self._fault(out, rule_ids, event_ids, now)
        if fault is not None and fault.kind == "invalid_event" and fault.whole:
            index = next(i for i, e in enumerate(event_ids) if fault.names(e))
            raise errors.invalid(f"{_base(batch, index)}/eventId", _injected(event_ids[index]))
        checked = [check_shape(e, i, _base(batch, i)) for i, e in enumerate(elements)]
        for c in checked:
            if self.state.method_of(c.rule_id) != "CONVERSIONS_API":
                raise errors.bad_request(RULE_METHOD_ERROR)
        for c in checked:
            check_meaning(c, now)
            named = fault is not None and fault.kind == "invalid_event" and fault.names(c.event_id)
            if named and c.accepted:
                c.error = _injected(c.event_id)
        out.errors = [(c.index, c.error) for c in checked if c.error is not None]
        out.invalid = len(out.errors)
        if not batch and checked[0].error is not None:
            raise errors.bad_request(checked[0].error)
        out.deduplicated = self.state.record(checked, received_at=now, request_id=request_id)
        out.accepted = len(checked) - out.invalid
        if not batch:
            return Response(status_code=201, headers={"x-li-uuid": request_id})
        return json_response({"elements": [_status(c) for c in checked]}, 200, request_id)


def _status(c: Checked) -> dict[str, Any]:
    if c.error is None:
        return {"status": 201}
    return {"status": 400, "error": {"status": 400, "message": c.error}}


def _base(batch: bool, index: int) -> str:
    return f"/elements/{index}" if batch else ""


def _injected(event_id: str | None) -> str:
    return f"Invalid conversion event {str(event_id)[:64]!r} (sandbox fault invalid_event)"


def _event_id(element: Any) -> str | None:
    value = element.get("eventId") if isinstance(element, dict) else None
    return value if isinstance(value, str) else None


def _elements(body: Any) -> list[Any]:
    if not isinstance(body, dict):
        raise errors.invalid("/", 'the BATCH_CREATE body must be a record {"elements": [...]}')
    elements = body.get("elements")
    if elements is None:
        raise errors.invalid("/elements", REQUIRED)
    if not isinstance(elements, list):
        raise errors.invalid("/elements", "not an array")
    if not elements:
        raise errors.bad_request("A BATCH_CREATE request needs at least one element")
    if len(elements) > MAX_BATCH:
        raise errors.bad_request(
            f"Batch size {len(elements)} exceeds the maximum of {MAX_BATCH} elements per request"
        )
    return elements


def _decode(body: bytes) -> Any:
    if not body.strip():
        raise errors.bad_request("The request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.bad_request("Unable to parse the request body as JSON") from None
