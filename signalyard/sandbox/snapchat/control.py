"""Snap's part of the sandbox's control plane under ``/_sandbox/`` (plain JSON, not
Snap-shaped; the routes all sandboxes share are :mod:`signalyard.sandbox.control_common`).

* ``GET /_sandbox/events`` filters: ``asset_id``, ``event_name``, ``event_id``, ``test``
  (true/false), ``status`` (accepted/invalid), ``dedup`` (kept/deduplicated/no_event_id);
* ``GET /_sandbox/summary``: per asset and event name, received, accepted, invalid,
  deduplicated, diagnostics, match-key coverage;
* ``GET /_sandbox/requests`` filter: ``asset_id`` (no tokens shown);
* ``DELETE /_sandbox/state`` forgets events, requests, dedup keys and statistics;
* ``GET|POST|DELETE /_sandbox/reporting``: the ad account the Marketing API reporting routes
  answer for (:mod:`signalyard.sandbox.reporting_common`, :mod:`.reporting`).
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
from .endpoint import refused
from .recorder import RecordedEvent, RequestRecord, SandboxState

EVENTS_PATH = "/v3/{asset_id}/events"
ACCOUNT_PATH = "/v1/adaccounts/{ad_account_id}"
CAMPAIGNS_PATH = f"{ACCOUNT_PATH}/campaigns"
STATS_PATH = f"{ACCOUNT_PATH}/stats"
ENDPOINTS = {
    f"POST {EVENTS_PATH}": "the emulated Conversions API v3 endpoint (query access_token)",
    f"POST {EVENTS_PATH}/validate": "Snap's test facility: one log per event, nothing counted",
    f"GET {EVENTS_PATH}/validate/logs": "the validated test events",
    f"GET {EVENTS_PATH}/validate/stats": "test and live events of the past hour",
    f"GET {ACCOUNT_PATH}": "the Marketing API's ad account: currency and time zone"
    " (header Authorization: Bearer)",
    f"GET {CAMPAIGNS_PATH}": "the ad account's campaigns, paged (header Authorization: Bearer)",
    f"GET {STATS_PATH}": "the emulated reporting endpoint: the ad account's claims per day"
    " and campaign (granularity=DAY, breakdown=campaign; header Authorization: Bearer)",
    "GET /_sandbox/events": "recorded events, newest first (asset_id, event_name, event_id,"
    " test, status, dedup, limit)",
    "GET /_sandbox/summary": "per asset and event name: counts, dedup, diagnostics, "
    "match-key coverage",
    "GET /_sandbox/requests": "recent requests (asset_id, limit)",
    "DELETE /_sandbox/state": "reset recordings (faults are kept)",
    **FAULT_ENDPOINTS,
    **REPORTING_ENDPOINTS,
}
_FILTERS = ("asset_id", "event_name", "event_id", "status", "dedup")


def control(state: SandboxState, clock: Clock, bodies: BodyReader) -> Control:
    def events(request: Request, limit: int) -> list[RecordedEvent]:
        return state.events(
            limit=limit, test=bool_param(request, "test"), **query(request, _FILTERS)
        )

    def requests(request: Request, limit: int) -> list[RequestRecord]:
        return state.requests(asset_id=request.query_params.get("asset_id"), limit=limit)

    return Control(
        sandbox="snapchat",
        endpoints=ENDPOINTS,
        state=state,
        clock=clock,
        bodies=bodies,
        refuse=refused_as(refused),
        find_events=events,
        find_requests=requests,
    )
