"""``POST /open_api/v1.3/event/track/``: the emulated Events API 2.0 edge.

Order of checks: the ``Access-Token`` header (missing: 40104; malformed: 40105), the body
(at most ``max_body_bytes``, else the proxy's 413 page; JSON, else 40002), injected faults
(expired token, 5xx, throttling, invalid event, timeout), the request's own fields
(:func:`~.validate.check_request`), then every event on its own
(:func:`~.validate.check_events`) and the answer (:mod:`.answer`): 0, 20001 or 40002.
Every answer is HTTP 200 with TikTok's body except the proxy's pages (5xx faults, refused
bodies). Every request is logged (:class:`~.recorder.RequestRecord`); events are recorded
only from requests answered 0 or 20001.

There is no read-only endpoint to check a destination with (TikTok documents none for an
Events API token), so a pre-flight check posts one event with a ``test_event_code``; it is
recorded as a test event, and faults apply to it as to any request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from ..bodies import own_reader
from ..digest import digest_prefix, token_digest, well_formed_token
from . import errors
from .answer import Answer, answer
from .body import MAX_BODY_BYTES, read_body
from .errors import TikTokError, event_path, new_request_id
from .faults import Fault
from .recorder import RequestRecord, SandboxState
from .responses import error_response, tiktok_json
from .validate import CheckedEvent, check_events, check_request, event_id_of, source_id_of

log = logging.getLogger(__name__)

TOKEN_HEADER = "access-token"


@dataclass(slots=True)
class _Outcome:
    """What the request log needs to know, filled in as handling goes."""

    event_source: str | None = None
    event_source_id: str | None = None
    events: int | None = None
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    test_event_code: str | None = None
    partner_name: str | None = None
    token_sha256: str | None = None
    fault: Fault | None = None
    delay: float = 0.0


class TrackEndpoint:
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

    async def track(self, request: Request) -> Response:
        received_at = self.clock.now()
        request_id = new_request_id(received_at)
        out = _Outcome()
        code: int | None
        message: str | None = None
        try:
            result = await self._handle(request, out, request_id, received_at)
            response = tiktok_json(
                result.code, result.message, request_id=request_id, data=result.data
            )
            code = result.code
            if result.code != errors.OK:
                message = result.message
        except TikTokError as error:
            response = error_response(error, request_id)
            code = None if error.page else error.code
            message = error.message
        except Exception:
            log.exception("sandbox: unexpected error handling %s", request.url.path)
            failure = errors.internal_error()
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
                event_source=out.event_source,
                event_source_id=out.event_source_id,
                events=out.events,
                accepted=out.accepted,
                invalid=out.invalid,
                deduplicated=out.deduplicated,
                test_event_code=out.test_event_code,
                partner_name=out.partner_name,
                token_sha256_prefix=digest_prefix(out.token_sha256),
                fault_id=None if out.fault is None else out.fault.id,
                fault_kind=None if out.fault is None else out.fault.kind,
            )
        )
        if out.delay > 0:
            await self.clock.sleep(out.delay)
        return response

    async def _handle(self, request: Request, out: _Outcome, request_id: str, now: float) -> Answer:
        token = request.headers.get(TOKEN_HEADER, "")
        if not token:
            raise errors.missing_token()
        out.token_sha256 = token_digest(token)
        if not well_formed_token(token):
            raise errors.malformed_token()
        # The body counts in the reader's budget until the request is answered.
        async with read_body(self.bodies, request, self.max_body_bytes) as body:
            async with self.bodies.turns.decode(len(body)):
                parsed = _decode(body)
            return self._accept(parsed, out, request_id, now)

    def _accept(self, body: Any, out: _Outcome, request_id: str, now: float) -> Answer:
        out.event_source_id = source_id_of(body)
        source = body.get("event_source") if isinstance(body, dict) else None
        out.event_source = source if isinstance(source, str) else None
        data = body.get("data") if isinstance(body, dict) else None
        events: list[Any] = data if isinstance(data, list) else []
        out.events = len(data) if isinstance(data, list) else None

        fault = None
        if len(self.state.faults):
            fault = self.state.faults.take(
                event_source_id=out.event_source_id,
                token_sha256=out.token_sha256,
                event_ids=[event_id_of(e) for e in events],
                now=now,
            )
        if fault is not None:
            out.fault = fault
            self._apply_fault(fault, events, out)

        req = check_request(body)
        out.test_event_code = req.test_event_code
        out.partner_name = req.partner_name
        checked = check_events(req, now)
        if fault is not None and fault.kind == "invalid_event":
            _fail_named(fault, checked)
        out.invalid = sum(1 for c in checked if not c.accepted)
        try:
            result = answer(checked)
        except TikTokError:
            self.state.count_refused(req, checked)
            raise
        recorded = self.state.record_events(req, checked, received_at=now, request_id=request_id)
        out.accepted = sum(1 for r in recorded if r.accepted)
        out.deduplicated = sum(1 for r in recorded if r.dedup == "deduplicated")
        return result

    @staticmethod
    def _apply_fault(fault: Fault, events: list[Any], out: _Outcome) -> None:
        if fault.kind == "expired_token":
            raise errors.no_permission(out.event_source, out.event_source_id)
        if fault.kind == "server_error":
            if fault.json:
                raise errors.internal_error(fault.status)
            raise errors.proxy_page(fault.status)
        if fault.kind == "throttle":
            raise errors.throttled(fault.status)
        if fault.kind == "invalid_event":
            if not fault.partial:
                for i, raw in enumerate(events):
                    event_id = event_id_of(raw)
                    if fault.names(event_id):
                        raise errors.invalid(event_path(i, "event_id"), _injected(event_id))
            return
        out.delay = fault.delay


def _injected(event_id: str | None) -> str:
    return f"Invalid event {event_id!r} (sandbox fault invalid_event)"


def _fail_named(fault: Fault, checked: list[CheckedEvent]) -> None:
    """A partial ``invalid_event`` fault: the events it names fail (if nothing else did)."""
    for c in checked:
        if c.accepted and fault.names(c.event_id):
            c.error = f"{event_path(c.index, 'event_id')}: {_injected(c.event_id)}"


def _decode(body: bytes) -> Any:
    if not body.strip():
        raise errors.invalid("body", "Not a valid JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.invalid("body", "Not a valid JSON object") from None
