"""``POST /{version}/{dataset_id}/events``: the emulated Conversions API edge.

Order of checks, as Graph does it: path (version ``v<major>.<minor>``, numeric dataset id),
body decoding (at most ``max_body_bytes``, else code 100 with HTTP 413), access token
(missing 104; malformed 190/467), ``appsecret_proof`` when the app has a secret, injected
faults (expired token, 5xx, throttling, invalid event, timeout),
then ``data`` (present, a list, at most 1,000 events) and every event's rules. Only a request
that passes everything is recorded, all of it; the answer is
``{"events_received": n, "messages": [], "fbtrace_id": ...}``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from ..bodies import own_reader
from ..digest import MIN_TOKEN_LENGTH, digest_prefix, token_digest
from . import errors
from .errors import GraphError, new_trace_id
from .faults import Fault
from .parse import (
    MAX_BODY_BYTES,
    GraphRequest,
    decode_data,
    event_id_of,
    parse_request,
    read_body,
)
from .recorder import RequestRecord, SandboxState
from .responses import graph_error, graph_json, usage_headers
from .validate import validate_batch

log = logging.getLogger(__name__)

VERSION_RE = re.compile(r"v\d+\.\d+")


@dataclass(slots=True)
class _Outcome:
    """What the request log needs to know, filled in as handling goes."""

    events: int | None = None
    deduplicated: int = 0
    test_event_code: str | None = None
    token_sha256: str | None = None
    token_source: str | None = None
    encoding: str | None = None
    partner_agent: str | None = None
    fault: Fault | None = None
    delay: float = 0.0


class GraphEndpoint:
    def __init__(
        self,
        state: SandboxState,
        clock: Clock,
        app_secret: str | None,
        max_body_bytes: int = MAX_BODY_BYTES,
        bodies: BodyReader | None = None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.app_secret = app_secret
        self.max_body_bytes = max_body_bytes
        self.bodies = bodies or own_reader(max_body_bytes)

    async def events(self, request: Request) -> Response:
        trace_id = new_trace_id()
        version = request.path_params["version"]
        dataset_id = request.path_params["dataset_id"]
        api_version = version if VERSION_RE.fullmatch(version) else None
        out = _Outcome()
        received_at = self.clock.now()
        error: GraphError | None = None
        try:
            count = await self._handle(request, dataset_id, version, out, trace_id)
            response = graph_json(
                200,
                {"events_received": count, "messages": [], "fbtrace_id": trace_id},
                trace_id=trace_id,
                api_version=api_version,
            )
        except GraphError as exc:
            error = exc
        except Exception:
            log.exception("sandbox: unexpected error handling %s", request.url.path)
            error = errors.internal_error()
        if error is not None:
            response = graph_error(error, trace_id=trace_id, api_version=api_version)
        self.state.record_request(
            RequestRecord(
                seq=0,
                received_at=received_at,
                dataset_id=dataset_id,
                api_version=version,
                status=response.status_code,
                code=None if error is None else error.code,
                subcode=None if error is None else error.subcode,
                message=None if error is None else error.message,
                events=out.events,
                deduplicated=out.deduplicated,
                test_event_code=out.test_event_code,
                token_sha256_prefix=digest_prefix(out.token_sha256),
                token_source=out.token_source,
                encoding=out.encoding,
                partner_agent=out.partner_agent,
                fbtrace_id=trace_id,
                fault_id=None if out.fault is None else out.fault.id,
                fault_kind=None if out.fault is None else out.fault.kind,
            )
        )
        if out.delay > 0:
            await self.clock.sleep(out.delay)
        return response

    async def _handle(
        self, request: Request, dataset_id: str, version: str, out: _Outcome, trace_id: str
    ) -> int:
        if request.method != "POST":
            raise errors.unsupported_request(
                request.method, f"{dataset_id}/events", "The events edge only accepts POST."
            )
        if VERSION_RE.fullmatch(version) is None:
            raise errors.unsupported_request(
                "post", version, f"{version!r} is not a Graph API version like v26.0."
            )
        if not dataset_id.isdigit():
            raise errors.unsupported_request(
                "post", dataset_id, "The dataset (pixel) id must be a number."
            )
        # The body counts in the reader's budget until the request is answered.
        async with read_body(self.bodies, request, self.max_body_bytes) as body:
            async with self.bodies.turns.decode(len(body)):
                req = await parse_request(request, body)
            return self._accept(req, dataset_id, out, trace_id)

    def _accept(self, req: GraphRequest, dataset_id: str, out: _Outcome, trace_id: str) -> int:
        out.encoding = req.encoding
        out.token_source = req.token_source
        self._check_token(req, out)
        out.test_event_code = req.string_param("test_event_code")
        out.partner_agent = req.string_param("partner_agent")
        for name in ("namespace_id", "upload_id", "upload_tag", "upload_source"):
            req.string_param(name)

        data_error: GraphError | None = None
        events: list[dict[str, Any]] = []
        try:
            events = decode_data(req)
            out.events = len(events)
        except GraphError as exc:
            data_error = exc
            raw = req.params.get("data")
            out.events = len(raw) if isinstance(raw, list) else None

        now = self.clock.now()
        faults = self.state.faults
        fault = None
        if len(faults):
            fault = faults.take(
                dataset_id=dataset_id,
                token_sha256=out.token_sha256,
                event_ids=[event_id_of(e) for e in events],
                now=now,
            )
        if fault is not None:
            out.fault = fault
            self._apply_fault(fault, dataset_id, events, out, now)
        if data_error is not None:
            raise data_error

        checked = validate_batch(events, now)
        recorded = self.state.record_batch(
            dataset_id,
            checked,
            received_at=now,
            test_event_code=out.test_event_code,
            trace_id=trace_id,
            partner_agent=out.partner_agent,
        )
        out.deduplicated = sum(1 for r in recorded if r.dedup == "deduplicated")
        return len(recorded)

    def _check_token(self, req: GraphRequest, out: _Outcome) -> None:
        token = req.token
        if token is None:
            raise errors.missing_token()
        out.token_sha256 = token_digest(token) if token else None
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
            raise errors.malformed_token()
        if self.app_secret is not None:
            proof = req.string_param("appsecret_proof")
            if not proof:
                raise errors.missing_appsecret_proof()
            expected = hmac.new(
                self.app_secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256
            ).hexdigest()
            if not hmac.compare_digest(proof.lower().encode(), expected.encode()):
                raise errors.invalid_appsecret_proof()

    @staticmethod
    def _apply_fault(
        fault: Fault, dataset_id: str, events: list[dict[str, Any]], out: _Outcome, now: float
    ) -> None:
        if fault.kind == "expired_token":
            raise errors.expired_token(fault.created_at, now)
        if fault.kind == "server_error":
            raise errors.server_error(fault.status, fault.code)
        if fault.kind == "throttle":
            headers = usage_headers(dataset_id, fault.regain_minutes)
            raise errors.throttled(fault.code, fault.status, headers)
        if fault.kind == "invalid_event":
            ids = [event_id_of(e) for e in events]
            index = fault.first_invalid(ids)
            if index is not None:
                raise errors.injected_invalid_event(index, str(ids[index]))
            return
        out.delay = fault.delay

    async def dataset_object(self, request: Request) -> Response:
        """``GET /{version}/{dataset_id}?fields=id``: the dataset object, which a pre-flight
        check (``signalyard destinations check``) reads. The same path and token checks as
        the events edge (``appsecret_proof`` included); injected faults are left for events.
        Not recorded: it carries no events."""
        trace_id = new_trace_id()
        version = request.path_params["version"]
        dataset_id = str(request.path_params["dataset_id"])  # digits only (the route says)
        api_version = version if VERSION_RE.fullmatch(version) else None
        try:
            if api_version is None:
                raise errors.unsupported_request(
                    "get", version, f"{version!r} is not a Graph API version like v26.0."
                )
            await self.authorize(request)
        except GraphError as error:
            return graph_error(error, trace_id=trace_id, api_version=api_version)
        return graph_json(200, {"id": dataset_id}, trace_id=trace_id, api_version=api_version)

    async def authorize(self, request: Request) -> GraphRequest:
        """The request's parameters, once its token (and ``appsecret_proof``) pass the
        checks of the events edge; raises :class:`GraphError`. For the sandbox's other
        Graph objects (the dataset, the ad account and its insights)."""
        async with read_body(self.bodies, request, self.max_body_bytes) as body:
            async with self.bodies.turns.decode(len(body)):
                req = await parse_request(request, body)
            self._check_token(req, _Outcome())
        return req

    async def unknown_path(self, request: Request) -> Response:
        trace_id = new_trace_id()
        path = "/" + request.path_params.get("path", "")
        return graph_error(errors.unknown_path(path), trace_id=trace_id, api_version=None)
