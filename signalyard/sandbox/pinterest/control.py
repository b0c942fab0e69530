"""Pinterest's part of the sandbox's control plane under ``/_sandbox/`` (plain JSON, not
Pinterest-shaped; the routes all sandboxes share are :mod:`signalyard.sandbox.control_common`).

* ``GET /_sandbox/events`` filters: ``ad_account_id``, ``event_name``, ``event_id``,
  ``dedup`` (kept/deduplicated/offline), ``test``
  (true/false);
* ``GET /_sandbox/summary``: per ad account and event name: received, processed, failed,
  deduplicated, test, LDP, opt-out, diagnostics, match-key coverage;
* ``GET /_sandbox/requests`` filter: ``ad_account_id`` (no tokens shown);
* ``DELETE /_sandbox/state`` forgets events, requests, dedup keys and statistics;
* ``GET|POST|DELETE /_sandbox/reporting``: the ad account the reporting routes answer for
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

EVENTS_PATH = "/v5/ad_accounts/{ad_account_id}/events"
ACCOUNT_PATH = "/v5/ad_accounts/{ad_account_id}"
CAMPAIGNS_PATH = "/v5/ad_accounts/{ad_account_id}/campaigns"
ANALYTICS_PATH = "/v5/ad_accounts/{ad_account_id}/campaigns/analytics"
ENDPOINTS = {
    f"POST {EVENTS_PATH}": "the emulated Conversions API endpoint (Authorization: Bearer;"
    " ?test=true checks without recording)",
    f"GET {ACCOUNT_PATH}": "the ad account's currency and time zone (Authorization: Bearer)",
    f"GET {CAMPAIGNS_PATH}": "the ad account's campaigns, bookmark paging (Authorization: Bearer)",
    f"GET {ANALYTICS_PATH}": "the emulated campaign analytics: checkouts, their value and"
    " spend per day and campaign (Authorization: Bearer)",
    "GET /_sandbox/events": "recorded events, newest first (ad_account_id, event_name,"
    " event_id, dedup, test, limit)",
    "GET /_sandbox/summary": "per ad account and event name: counts, dedup, diagnostics,"
    " match-key coverage",
    "GET /_sandbox/requests": "recent requests (ad_account_id, limit)",
    "DELETE /_sandbox/state": "reset recordings (faults are kept)",
    **FAULT_ENDPOINTS,
    **REPORTING_ENDPOINTS,
}
_FILTERS = ("ad_account_id", "event_name", "event_id", "dedup")


def control(state: SandboxState, clock: Clock, bodies: BodyReader) -> Control:
    def events(request: Request, limit: int) -> list[RecordedEvent]:
        test = bool_param(request, "test")
        return state.events(limit=limit, test=test, **query(request, _FILTERS))

    def requests(request: Request, limit: int) -> list[RequestRecord]:
        account = request.query_params.get("ad_account_id")
        return state.requests(ad_account_id=account, limit=limit)

    return Control(
        sandbox="pinterest",
        endpoints=ENDPOINTS,
        state=state,
        clock=clock,
        bodies=bodies,
        refuse=refused_as(refused),
        find_events=events,
        find_requests=requests,
    )
