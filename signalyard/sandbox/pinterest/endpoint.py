"""``POST /v5/ad_accounts/{ad_account_id}/events``: the emulated Conversions API.

Order of checks: the ``Authorization: Bearer`` token (missing or malformed: 401), the ad
account id (not digits: 404), the body (at most ``max_body_bytes``, else the proxy's 413
page; JSON, else 400), the ``test`` query parameter (``true``/``false``, else 400), injected
faults, the request (:func:`~.validate.check_request`: 400), then every event on its own
(:func:`~.validate.check_events`). The answer is HTTP 200 with Pinterest's body::

    {"num_events_received": 3, "num_events_processed": 2,
     "events": [{"status": "processed", "error_message": null, "warning_message": null},
                {"status": "failed", "error_message": "event_id: is required", ...}, ...]}

one entry per event, in the order sent (reference §5: the order is assumed). Every request
is logged (:class:`~.recorder.RequestRecord`); events are recorded only from requests
answered 200, the processed ones only; with ``?test=true`` they are marked ``test``
(Pinterest records nothing).
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from ..bodies import own_reader
from ..digest import MIN_TOKEN_LENGTH, digest_prefix, token_digest
from . import errors
from .body import MAX_BODY_BYTES, read_body
from .errors import PinterestError
from .faults import Fault
from .recorder import RequestRecord, SandboxState
from .responses import error_response, pinterest_json
from .validate import check_events, check_request, event_id_of

log = logging.getLogger(__name__)

_ACCOUNT = re.compile(r"[0-9]{1,32}")
_TESTS = {"true": True, "false": False}


@dataclass(slots=True)
class _Outcome:
    """What the request log needs to know, filled in as handling goes."""

    ad_account_id: str | None = None
    test: bool = False
    events: int | None = None
    processed: int = 0
    failed: int = 0
    deduplicated: int = 0
    token_sha256: str | None = None
    fault: Fault | None = None
    delay: float = 0.0
    message: str | None = None


def _token(request: Request) -> str:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()


def _well_formed(token: str) -> bool:
    return len(token) >= MIN_TOKEN_LENGTH and token.isascii() and token.isprintable()


class EventsEndpoint:
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

    async def events(self, request: Request) -> Response:
        received_at = self.clock.now()
        request_id = secrets.token_hex(8)
        out = _Outcome()
        code: int | None = None
        message: str | None = None
        try:
            body = await self._handle(request, out, request_id, received_at)
            response = pinterest_json(body, request_id=request_id)
            message = out.message
        except PinterestError as error:
            response = error_response(error, request_id)
            code = None if error.page else error.code
            message = error.message
        except Exception:
            log.exception("sandbox: unexpected error handling %s", request.url.path)
            failure = errors.server_error(500)
            response = error_response(failure, request_id)
            code, message = failure.code, failure.message
        self.state.record_request(
            RequestRecord(
                seq=0,
                received_at=received_at,
                status=response.status_code,
                code=code,
                message=message,
                request_id=request_id,
                ad_account_id=out.ad_account_id,
                test=out.test,
                events=out.events,
                processed=out.processed,
                failed=out.failed,
                deduplicated=out.deduplicated,
                token_sha256_prefix=digest_prefix(out.token_sha256),
                fault_id=None if out.fault is None else out.fault.id,
                fault_kind=None if out.fault is None else out.fault.kind,
            )
        )
        if out.delay > 0:
            await self.clock.sleep(out.delay)
        return response

    async def _handle(
        self, request: Request, out: _Outcome, request_id: str, now: float
    ) -> dict[str, Any]:
        token = _token(request)
        if token:
            out.token_sha256 = token_digest(token)
        if not _well_formed(token):
            raise errors.unauthenticated()
        account = str(request.path_params.get("ad_account_id", ""))
        if not _ACCOUNT.fullmatch(account):
            raise errors.not_found(request.url.path)
        out.ad_account_id = account
        test = request.query_params.get("test")
        if test is not None and test.lower() not in _TESTS:
            raise errors.invalid("test must be true or false")
        out.test = _TESTS.get((test or "false").lower(), False)
        async with read_body(self.bodies, request, self.max_body_bytes) as raw:
            async with self.bodies.turns.decode(len(raw)):
                body = _decode(raw)
            return self._accept(body, out, request_id, now)

    def _accept(self, body: Any, out: _Outcome, request_id: str, now: float) -> dict[str, Any]:
        data = body.get("data") if isinstance(body, dict) else None
        listed: list[Any] = data if isinstance(data, list) else []
        out.events = len(data) if isinstance(data, list) else None
        fault = None
        if len(self.state.faults):
            fault = self.state.faults.take(
                ad_account_id=out.ad_account_id,
                token_sha256=out.token_sha256,
                event_ids=[event_id_of(e) for e in listed],
                now=now,
            )
        if fault is not None:
            out.fault = fault
            _apply_fault(fault, out)
        checked = check_events(check_request(body), now)
        if fault is not None and fault.kind == "invalid_event":
            for c in checked:
                if c.accepted and fault.names(c.event_id):
                    c.error = (
                        f"event_id: event {c.event_id!r} refused (sandbox fault invalid_event)"
                    )
        assert out.ad_account_id is not None
        recorded = self.state.record_events(
            out.ad_account_id, checked, test=out.test, received_at=now, request_id=request_id
        )
        out.processed = sum(1 for c in checked if c.accepted)
        out.failed = len(checked) - out.processed
        out.deduplicated = sum(1 for r in recorded if r.dedup == "deduplicated")
        failed = [c for c in checked if not c.accepted]
        if failed:
            out.message = (
                f"{len(failed)} of {len(checked)} events failed; event {failed[0].index}:"
                f" {failed[0].error}"
            )
        return {
            "num_events_received": len(checked),
            "num_events_processed": out.processed,
            "events": [c.answer() for c in checked],
        }


def _apply_fault(fault: Fault, out: _Outcome) -> None:
    if fault.kind == "expired_token":
        raise errors.unauthenticated()
    if fault.kind == "server_error":
        raise errors.server_error(fault.status)
    if fault.kind == "throttle":
        raise errors.throttled(fault.retry_after)
    if fault.kind == "timeout":
        out.delay = fault.delay


def _decode(body: bytes) -> Any:
    if not body.strip():
        raise errors.invalid("the body must be a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.invalid("the body is not valid JSON") from None


async def unknown_path(request: Request) -> Response:
    """Any other path: Pinterest's 404."""
    return error_response(errors.not_found(request.url.path), secrets.token_hex(8))
