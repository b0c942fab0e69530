"""TikTok's part of the sandbox's control plane under ``/_sandbox/`` (plain JSON, not
TikTok-shaped; the routes all sandboxes share are :mod:`signalyard.sandbox.control_common`).

* ``GET /_sandbox/events`` filters: ``event_source_id``, ``event``, ``event_id``,
  ``test_event_code``, ``test`` (true/false), ``status`` (accepted/invalid), ``dedup``
  (kept/deduplicated/no_event_id);
* ``GET /_sandbox/summary``: per event source and event name, received, accepted, invalid,
  deduplicated, diagnostics, match-key coverage;
* ``GET /_sandbox/requests`` filter: ``event_source_id`` (no tokens shown);
* ``DELETE /_sandbox/state`` forgets events, requests, dedup keys and statistics;
* ``GET|POST|DELETE /_sandbox/reporting``: the advertiser the reporting routes answer for
  (:mod:`signalyard.sandbox.reporting_common`, :mod:`.reporting`).
"""

from __future__ import annotations

from starlette.requests import Request

from ...clock import Clock
from ...sources.body import BodyReader
from ..control_common import (
    FAULT_ENDPOINTS,
    Control,
    bool_param,
    query,
    refused_as,
)
from ..reporting_common import REPORTING_ENDPOINTS
from .body import refused
from .recorder import RecordedEvent, RequestRecord, SandboxState

TRACK_PATH = "/open_api/v1.3/event/track/"
REPORT_PATH = "/open_api/v1.3/report/integrated/get/"
ADVERTISER_PATH = "/open_api/v1.3/advertiser/info/"
ENDPOINTS = {
    f"POST {TRACK_PATH}": "the emulated Events API 2.0 endpoint (header Access-Token)",
    f"GET {REPORT_PATH}": "the emulated reporting endpoint: the advertiser's claims per day"
    " and campaign (header Access-Token)",
    f"GET {ADVERTISER_PATH}": "the advertiser's currency and time zone (header Access-Token)",
    "GET /_sandbox/events": "recorded events, newest first (event_source_id, event, "
    "event_id, test_event_code, test, status, dedup, limit)",
    "GET /_sandbox/summary": "per event source and event name: counts, dedup, diagnostics, "
    "match-key coverage",
    "GET /_sandbox/requests": "recent requests (event_source_id, limit)",
    "DELETE /_sandbox/state": "reset recordings (faults are kept)",
    **FAULT_ENDPOINTS,
    **REPORTING_ENDPOINTS,
}
_FILTERS = ("event_source_id", "event", "event_id", "test_event_code", "status", "dedup")


def control(state: SandboxState, clock: Clock, bodies: BodyReader) -> Control:
    def events(request: Request, limit: int) -> list[RecordedEvent]:
        test = bool_param(request, "test")
        return state.events(limit=limit, test=test, **query(request, _FILTERS))

    def requests(request: Request, limit: int) -> list[RequestRecord]:
        source_id = request.query_params.get("event_source_id")
        return state.requests(event_source_id=source_id, limit=limit)

    return Control(
        sandbox="tiktok",
        endpoints=ENDPOINTS,
        state=state,
        clock=clock,
        bodies=bodies,
        refuse=refused_as(refused),
        find_events=events,
        find_requests=requests,
    )
