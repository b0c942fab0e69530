"""The sandbox's own control plane, under ``/_sandbox/`` (plain JSON, not Graph-shaped).

==========================  ======  ===========================================================
path                        method  what
==========================  ======  ===========================================================
``/_sandbox``               GET     this list
``/_sandbox/events``        GET     recorded events, newest first; filters ``dataset_id``,
                                    ``event_name``, ``event_id``, ``test_event_code``,
                                    ``source`` (server/browser), ``dedup``
                                    (kept/deduplicated/no_event_id), ``limit`` (default 100)
``/_sandbox/summary``       GET     per dataset and event name: counts, batch sizes, dedup
                                    pairs, match-quality estimate
``/_sandbox/requests``      GET     recent requests (``dataset_id``, ``limit``); no tokens
``/_sandbox/browser-events`` POST   simulate Pixel events: ``{"dataset_id", "event_name",
                                    "event_id", "time"?}`` or a list of them
``/_sandbox/state``         DELETE  forget events, requests, dedup keys and statistics
``/_sandbox/faults``        GET     injected faults; POST adds one (object) or several
                                    (array); DELETE removes all
``/_sandbox/faults/{id}``   GET     one fault; DELETE removes it
==========================  ======  ===========================================================
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from .errors import GraphError
from .faults import FaultSpecError
from .parse import read_body
from .recorder import SandboxState
from .responses import control_json

ENDPOINTS = {
    "GET /_sandbox/events": "recorded events, newest first "
    "(dataset_id, event_name, event_id, test_event_code, source, dedup, limit)",
    "GET /_sandbox/summary": "per dataset and event name: counts, dedup, match quality",
    "GET /_sandbox/requests": "recent requests (dataset_id, limit)",
    "POST /_sandbox/browser-events": "simulate Pixel events for deduplication",
    "DELETE /_sandbox/state": "reset recordings (faults are kept)",
    "GET|POST|DELETE /_sandbox/faults": "list, add, clear injected faults",
    "GET|DELETE /_sandbox/faults/{id}": "one fault",
    "POST /{version}/{dataset_id}/events": "the emulated Conversions API endpoint",
}
MAX_CONTROL_BODY = 1024 * 1024
"""The largest body of a control request (browser events, faults)."""
_EVENT_FILTERS = ("dataset_id", "event_name", "event_id", "test_event_code", "source", "dedup")


class BadControlRequest(ValueError):
    def __init__(
        self, message: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def _error(message: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
    response = control_json({"error": message}, status)
    response.headers.update(headers or {})
    return response


def _limit(request: Request, default: int, maximum: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise BadControlRequest("limit must be a positive integer")
    return min(int(raw), maximum)


async def _json_body(bodies: BodyReader, request: Request) -> Any:
    try:
        async with read_body(bodies, request, MAX_CONTROL_BODY) as body:
            if not body.strip():
                raise BadControlRequest("a JSON body is required")
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise BadControlRequest(f"body must be JSON ({exc})") from None
    except GraphError as error:  # the body was refused: too large, too slow, no room, gone
        if error.status == 413:
            message = f"the body is larger than {MAX_CONTROL_BODY} bytes"
        else:
            message = error.message
        raise BadControlRequest(message, error.status, error.headers) from None


class Control:
    def __init__(self, state: SandboxState, clock: Clock, bodies: BodyReader) -> None:
        self.state = state
        self.clock = clock
        self.bodies = bodies

    async def index(self, request: Request) -> Response:
        return control_json({"sandbox": "meta", "endpoints": ENDPOINTS})

    async def events(self, request: Request) -> Response:
        try:
            limit = _limit(request, 100, self.state.max_events)
        except BadControlRequest as exc:
            return _error(str(exc))
        filters = {k: request.query_params.get(k) for k in _EVENT_FILTERS}
        found = self.state.events(limit=limit, **filters)
        return control_json({"count": len(found), "events": [e.to_json() for e in found]})

    async def summary(self, request: Request) -> Response:
        return control_json(self.state.summary())

    async def requests(self, request: Request) -> Response:
        try:
            limit = _limit(request, 100, self.state.max_requests)
        except BadControlRequest as exc:
            return _error(str(exc))
        found = self.state.requests(dataset_id=request.query_params.get("dataset_id"), limit=limit)
        return control_json({"count": len(found), "requests": [r.to_json() for r in found]})

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return control_json({"reset": True})

    async def browser_events(self, request: Request) -> Response:
        try:
            body = await _json_body(self.bodies, request)
            items = body if isinstance(body, list) else [body]
            parsed = [self._browser_event(i, item) for i, item in enumerate(items)]
        except BadControlRequest as exc:
            return _error(str(exc), exc.status, exc.headers)
        recorded = [self.state.record_browser_event(*args) for args in parsed]
        return control_json({"events": [r.to_json() for r in recorded]}, 201)

    @staticmethod
    def _browser_event(i: int, item: Any) -> tuple[str, str, str, float | None]:
        if not isinstance(item, dict):
            raise BadControlRequest(f"[{i}] must be an object")
        fields = []
        for key in ("dataset_id", "event_name", "event_id"):
            value = item.get(key)
            if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
                raise BadControlRequest(f"[{i}].{key} is required (a string)")
            fields.append(str(value))
        when = item.get("time")
        if when is not None and (isinstance(when, bool) or not isinstance(when, int | float)):
            raise BadControlRequest(f"[{i}].time must be Unix seconds")
        return fields[0], fields[1], fields[2], None if when is None else float(when)

    async def faults(self, request: Request) -> Response:
        book = self.state.faults
        now = self.clock.now()
        if request.method == "DELETE":
            removed = len(book)
            book.clear()
            return control_json({"removed": removed})
        if request.method == "POST":
            try:
                body = await _json_body(self.bodies, request)
                if isinstance(body, dict) and isinstance(body.get("faults"), list):
                    body = body["faults"]
                if isinstance(body, list):
                    added = book.add_many(body, now)
                    return control_json({"faults": [f.to_json(now) for f in added]}, 201)
                fault = book.add(body, now)
            except BadControlRequest as exc:
                return _error(str(exc), exc.status, exc.headers)
            except FaultSpecError as exc:
                return _error(str(exc))
            return control_json({"fault": fault.to_json(now)}, 201)
        return control_json({"faults": [f.to_json(now) for f in book.faults()]})

    async def fault(self, request: Request) -> Response:
        fault_id = request.path_params["fault_id"]
        book = self.state.faults
        if request.method == "DELETE":
            if book.remove(fault_id):
                return control_json({"removed": 1})
            return _error(f"no fault {fault_id}", 404)
        fault = book.get(fault_id)
        if fault is None:
            return _error(f"no fault {fault_id}", 404)
        return control_json({"fault": fault.to_json(self.clock.now())})
