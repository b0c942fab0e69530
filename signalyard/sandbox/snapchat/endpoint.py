"""``POST /v3/{asset_id}/events`` and its test twin ``POST /v3/{asset_id}/events/validate``:
the emulated Conversions API v3 edge.

Order of checks: the ``access_token`` query parameter (missing or malformed: 401), the body
(at most ``max_body_bytes``, else the proxy's 413 page; a JSON object, else 400), injected
faults (expired token, 5xx, throttling, invalid event, timeout), ``data`` (1 to 2,000
events), then every event on its own (:mod:`.validate`).

``/events`` is all or nothing: if an event is invalid the request is refused with HTTP 400
and Snap's ``INVALID`` body naming the first invalid event (``"event": i``), and nothing is
recorded; otherwise HTTP 200 ``{"status": "VALID", "reason": ...}`` and every event is
recorded. ``/events/validate`` answers HTTP 200 with one log per event (Snap's
``ValidateResponse``: ``status``, ``test_event: true``, ``reason``, ``event_logs``) and
records every event as a test event. Every request is logged (:class:`~.recorder.
RequestRecord`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...errors import InputError, TooLarge
from ...sources.body import BodyReader, Busy, Disconnected, SlowBody, error_headers
from ..bodies import DEFAULT_MAX_BODY_BYTES, own_reader, read_body
from ..digest import digest_prefix, token_digest, well_formed_token
from . import errors
from .errors import SnapError, error_response, snap_json
from .faults import Fault
from .recorder import RequestRecord, SandboxState
from .validate import CheckedEvent, check_events, check_request, event_id_of

log = logging.getLogger(__name__)

MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES
"""The largest request body read (a larger one gets the proxy's 413). Snap publishes no byte
limit; this is the gateway's own ingest limit."""


def refused(error: InputError) -> SnapError:
    """The proxy's answer to a body the reader refused."""
    if isinstance(error, TooLarge):
        return errors.proxy_page(413)
    if isinstance(error, Busy | SlowBody | Disconnected):
        return errors.proxy_page(error.status, error_headers(error))
    return errors.proxy_page(400)


@dataclass(slots=True)
class _Outcome:
    asset_id: str | None = None
    events: int | None = None
    accepted: int = 0
    invalid: int = 0
    deduplicated: int = 0
    token_sha256: str | None = None
    fault: Fault | None = None
    delay: float = 0.0


def _log(c: CheckedEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"event": c.index, "status": "VALID" if c.accepted else "INVALID"}
    if not c.accepted:
        out["errors"] = {"codes": [errors.INVALID_EVENT], "error_msgs": [c.error]}
    out["warnings"] = c.warnings
    return out


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
        return await self._serve(request, validate=False)

    async def validate(self, request: Request) -> Response:
        return await self._serve(request, validate=True)

    async def _serve(self, request: Request, *, validate: bool) -> Response:
        received_at = self.clock.now()
        out = _Outcome(asset_id=request.path_params.get("asset_id"))
        code: str | None = None
        message: str | None = None
        try:
            body = await self._handle(request, out, received_at, validate=validate)
            response = snap_json(body)
        except SnapError as error:
            response = error_response(error)
            code = error.code or None
            message = error.message
        except Exception:
            log.exception("sandbox: unexpected error handling %s", request.url.path)
            failure = errors.internal_error()
            response = error_response(failure)
            code, message = failure.code, failure.message
        self.state.record_request(
            RequestRecord(
                seq=0,
                received_at=received_at,
                endpoint="validate" if validate else "events",
                status=response.status_code,
                code=code,
                message=message,
                asset_id=out.asset_id,
                events=out.events,
                accepted=out.accepted,
                invalid=out.invalid,
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
        self, request: Request, out: _Outcome, now: float, *, validate: bool
    ) -> dict[str, Any]:
        token = request.query_params.get("access_token", "")
        if not token:
            raise errors.missing_token()
        out.token_sha256 = token_digest(token)
        if not well_formed_token(token):
            raise errors.invalid_token()
        async with read_body(self.bodies, request, self.max_body_bytes, refused) as raw:
            async with self.bodies.turns.decode(len(raw)):
                parsed = _decode(raw)
            return self._accept(parsed, out, now, validate=validate)

    def _accept(self, body: Any, out: _Outcome, now: float, *, validate: bool) -> dict[str, Any]:
        data = body.get("data") if isinstance(body, dict) else None
        events: list[Any] = data if isinstance(data, list) else []
        out.events = len(data) if isinstance(data, list) else None
        asset_id = out.asset_id or ""
        fault = None
        if len(self.state.faults):
            fault = self.state.faults.take(
                asset_id=asset_id,
                token_sha256=out.token_sha256,
                event_ids=[event_id_of(e) for e in events],
                now=now,
            )
        if fault is not None:
            out.fault = fault
            self._apply_fault(fault, events, out)
        checked = check_events(check_request(body), now)
        out.invalid = sum(1 for c in checked if not c.accepted)
        if validate:
            recorded = self.state.record_events(asset_id, checked, received_at=now, test=True)
            out.accepted = sum(1 for r in recorded if r.status == "accepted")
            return {
                "status": "INVALID" if out.invalid else "VALID",
                "test_event": True,
                "reason": f"{out.accepted} of {len(checked)} events are valid",
                "event_logs": [_log(c) for c in checked],
            }
        bad = next((c for c in checked if not c.accepted), None)
        if bad is not None:
            self.state.count_refused(asset_id, checked)
            raise errors.invalid_event(bad.index, bad.error or "invalid event")
        recorded = self.state.record_events(asset_id, checked, received_at=now, test=False)
        out.accepted = len(recorded)
        out.deduplicated = sum(1 for r in recorded if r.dedup == "deduplicated")
        return {"status": "VALID", "reason": errors.VALID_REASON}

    @staticmethod
    def _apply_fault(fault: Fault, events: list[Any], out: _Outcome) -> None:
        if fault.kind == "expired_token":
            raise errors.expired_token()
        if fault.kind == "server_error":
            if fault.page:
                raise errors.proxy_page(fault.status)
            raise errors.internal_error(fault.status)
        if fault.kind == "throttle":
            raise errors.throttled(fault.retry_after)
        if fault.kind == "invalid_event":
            for i, raw in enumerate(events):
                event_id = event_id_of(raw)
                if event_id is not None and event_id in fault.event_ids:
                    raise errors.invalid_event(
                        i, f"data[{i}].event_id: event {event_id!r} refused (sandbox fault)"
                    )
            return
        out.delay = fault.delay


def _decode(body: bytes) -> Any:
    if not body.strip():
        raise errors.invalid_body("The request body must be a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.invalid_body("The request body is not valid JSON") from None
