"""GA4's part of the sandbox's control plane under ``/_sandbox/`` (plain JSON, not GA4's
shape; the routes all sandboxes share are :mod:`signalyard.sandbox.control_common`).

* ``GET /_sandbox/events`` filters: ``measurement_id``, ``name``, ``event_id``, ``status``
  (accepted/dropped);
* ``GET /_sandbox/summary``: per measurement id and event name: received, accepted, dropped
  by validation code, validated, coverage of the request-level fields (counts only);
* ``GET /_sandbox/requests`` filter: ``endpoint`` (collect/debug; no secrets shown);
* ``DELETE /_sandbox/state`` forgets events, requests and statistics.
"""

from __future__ import annotations

from starlette.requests import Request

from ...clock import Clock
from ...errors import InputError
from ...sources.body import BodyReader
from ..control_common import FAULT_ENDPOINTS, BadControlRequest, Control, query, refused_body
from .endpoint import refused
from .recorder import RecordedEvent, RequestRecord, SandboxState

COLLECT_PATH = "/mp/collect"
DEBUG_PATH = "/debug/mp/collect"
ENDPOINTS = {
    f"POST {COLLECT_PATH}": "the emulated Measurement Protocol (query measurement_id,"
    " api_secret): 204 always",
    f"POST {DEBUG_PATH}": "the emulated validation server: 200 with validationMessages",
    "GET /_sandbox/events": "recorded events, newest first (measurement_id, name, event_id,"
    " status, limit)",
    "GET /_sandbox/summary": "per measurement id and event name: counts and coverage",
    "GET /_sandbox/requests": "recent requests (endpoint, limit)",
    "DELETE /_sandbox/state": "reset recordings (faults are kept)",
    **FAULT_ENDPOINTS,
}
_FILTERS = ("measurement_id", "name", "event_id", "status")


def _refused(error: InputError) -> BadControlRequest:
    page = refused(error)
    return refused_body(
        page.status, "the body was refused", page.headers, too_large=page.status == 413
    )


def control(state: SandboxState, clock: Clock, bodies: BodyReader) -> Control:
    def events(request: Request, limit: int) -> list[RecordedEvent]:
        return state.events(limit=limit, **query(request, _FILTERS))

    def requests(request: Request, limit: int) -> list[RequestRecord]:
        endpoint = request.query_params.get("endpoint")
        if endpoint not in (None, "", "collect", "debug"):
            raise BadControlRequest("endpoint must be collect or debug")
        return state.requests(endpoint=endpoint or None, limit=limit)

    return Control(
        sandbox="ga4",
        endpoints=ENDPOINTS,
        state=state,
        clock=clock,
        bodies=bodies,
        refuse=_refused,
        find_events=events,
        find_requests=requests,
    )
