"""``POST /api/v2.0/conversions/events/{ad_account_id}``: the emulated Conversions API.

Order of checks: the ``Authorization`` header (none: 401 ``Authorization Required``; not a
well-formed ``Bearer`` token: 401 ``UNAUTHORIZED``), the body (at most ``max_body_bytes``,
else 413; JSON, else 400), injected faults (expired token, 5xx, throttling, invalid event,
timeout), the body as Reddit's decoder reads it (:func:`~.validate.check_request`: unknown
fields 400, wrong types 403, 1 to 1,000 events), then every event on its own
(:func:`~.validate.check_events`): one invalid event refuses the request whole with a 400
listing the invalid events (``invalid_events``: ``error_message`` and the event echoed);
otherwise 200 ``Successfully processed N conversion events.`` and every event is recorded.
Every request is logged (:class:`~.recorder.RequestRecord`).

There is no read-only endpoint to check a destination with, so a pre-flight check posts one
event with ``test_mode: true``; it is recorded as a test event, and faults apply to it as to
any request.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from ..bodies import own_reader
from ..clip import clip_json
from ..digest import digest_prefix, token_digest, well_formed_token
from . import errors
from .body import MAX_BODY_BYTES, read_body
from .errors import RedditError
from .faults import Fault
from .recorder import RequestRecord, SandboxState
from .responses import error_response, reddit_json
from .validate import CheckedEvent, check_events, check_request, conversion_id_of

log = logging.getLogger(__name__)

INJECTED = "invalid conversion event (sandbox fault invalid_event)"


@dataclass(slots=True)
class _Outcome:
    """What the request log needs to know, filled in as handling goes."""

    events: int | None = None
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    test_mode: bool = False
    token_sha256: str | None = None
    fault: Fault | None = None
    delay: float = 0.0


def _bearer(header: str) -> str | None:
    """The token of a well-formed ``Bearer`` header, else None."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and well_formed_token(token) else None


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
        request_id = secrets.token_hex(16)
        account = str(request.path_params["ad_account_id"])
        out = _Outcome()
        message: str | None = None
        try:
            n = await self._handle(request, account, out, received_at)
            response = reddit_json(
                {"message": f"Successfully processed {n} conversion events."},
                request_id=request_id,
            )
        except RedditError as error:
            response = error_response(error, request_id)
            message = error.message
        except Exception:
            log.exception("sandbox: unexpected error handling %s", request.url.path)
            failure = errors.server_error(500)
            response = error_response(failure, request_id)
            message = failure.message
        self.state.record_request(
            RequestRecord(
                seq=0,
                received_at=received_at,
                status=response.status_code,
                message=message,
                ad_account_id=account,
                events=out.events,
                accepted=out.accepted,
                invalid=out.invalid,
                deduplicated=out.deduplicated,
                test_mode=out.test_mode,
                token_sha256_prefix=digest_prefix(out.token_sha256),
                fault_id=None if out.fault is None else out.fault.id,
                fault_kind=None if out.fault is None else out.fault.kind,
            )
        )
        if out.delay > 0:
            await self.clock.sleep(out.delay)
        return response

    async def _handle(self, request: Request, account: str, out: _Outcome, now: float) -> int:
        header = request.headers.get("authorization", "")
        if not header.strip():
            raise errors.missing_token()
        out.token_sha256 = token_digest(header)
        token = _bearer(header)
        if token is None:
            raise errors.unauthorized()
        out.token_sha256 = token_digest(token)
        # The body counts in the reader's budget until the request is answered.
        async with read_body(self.bodies, request, self.max_body_bytes) as body:
            async with self.bodies.turns.decode(len(body)):
                parsed = _decode(body)
            return self._accept(parsed, account, out, now)

    def _accept(self, body: Any, account: str, out: _Outcome, now: float) -> int:
        raw = body.get("events") if isinstance(body, dict) else None
        listed: list[Any] = raw if isinstance(raw, list) else []
        out.events = len(raw) if isinstance(raw, list) else None
        fault = None
        if len(self.state.faults):
            fault = self.state.faults.take(
                ad_account_id=account,
                token_sha256=out.token_sha256,
                conversion_ids=[conversion_id_of(e) for e in listed],
                now=now,
            )
        if fault is not None:
            out.fault = fault
            self._apply_fault(fault, out)
        req = check_request(body, account)
        out.test_mode = req.test_mode
        checked = check_events(req, now)
        if fault is not None and fault.kind == "invalid_event":
            for c in checked:
                if c.accepted and fault.names(c.conversion_id):
                    c.error = INJECTED
        failed = [c for c in checked if not c.accepted]
        out.invalid = len(failed)
        if failed:
            self.state.count_refused(req, checked)
            raise errors.invalid_events([_invalid(c) for c in failed])
        recorded = self.state.record_events(req, checked, received_at=now)
        out.accepted = len(recorded)
        out.deduplicated = sum(1 for r in recorded if r.dedup == "deduplicated")
        return len(checked)

    @staticmethod
    def _apply_fault(fault: Fault, out: _Outcome) -> None:
        if fault.kind == "expired_token":
            raise errors.unauthorized()
        if fault.kind == "server_error":
            raise errors.server_error(fault.status)
        if fault.kind == "throttle":
            raise errors.throttled(fault.retry_after)
        if fault.kind == "timeout":
            out.delay = fault.delay


def _invalid(c: CheckedEvent) -> dict[str, Any]:
    """An ``invalid_events`` entry: Reddit's message and the event echoed (long strings cut,
    as the sandbox keeps events)."""
    return {"error_message": c.error, "event": orjson.Fragment(clip_json(c.event))}


def _decode(body: bytes) -> Any:
    if not body.strip():
        raise errors.error(400, "JSON error: the request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.error(400, "JSON error: the request body is not valid JSON") from None
