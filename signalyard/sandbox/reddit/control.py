"""Reddit's part of the sandbox's control plane under ``/_sandbox/`` (plain JSON, not
Reddit-shaped; the routes all sandboxes share are :mod:`signalyard.sandbox.control_common`).

* ``GET /_sandbox/events`` filters: ``ad_account_id``, ``event``, ``conversion_id``,
  ``test`` (true/false), ``dedup`` (kept/deduplicated/no_conversion_id);
* ``GET /_sandbox/summary``: per ad account and event name, received, accepted, invalid,
  deduplicated, diagnostics, match-key coverage;
* ``GET /_sandbox/requests`` filter: ``ad_account_id`` (no tokens shown);
* ``DELETE /_sandbox/state`` forgets events, requests, dedup keys and statistics;
* ``GET|POST|DELETE /_sandbox/reporting``: the ad account the reporting routes answer for
  (:mod:`signalyard.sandbox.reporting_common`).
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
from .reporting import ACCOUNT_PATH, CAMPAIGNS_PATH, REPORTS_PATH

EVENTS_PATH = "/api/v2.0/conversions/events/{ad_account_id}"
ENDPOINTS = {
    f"POST {EVENTS_PATH}": "the emulated Conversions API (header Authorization: Bearer)",
    f"GET {ACCOUNT_PATH}": "the emulated Ads API v3 ad account: currency, time_zone_id",
    f"GET {CAMPAIGNS_PATH}": "the emulated Ads API v3 campaigns (page.size, page.token)",
    f"POST {REPORTS_PATH}": "the emulated Ads API v3 report: spend and purchase claims per"
    " DATE and CAMPAIGN_ID (page.size, page.token)",
    "GET /_sandbox/events": "recorded events, newest first (ad_account_id, event, "
    "conversion_id, test, dedup, limit)",
    "GET /_sandbox/summary": "per ad account and event name: counts, dedup, diagnostics, "
    "match-key coverage",
    "GET /_sandbox/requests": "recent requests (ad_account_id, limit)",
    "DELETE /_sandbox/state": "reset recordings (faults are kept)",
    **FAULT_ENDPOINTS,
    **REPORTING_ENDPOINTS,
}
_FILTERS = ("ad_account_id", "event", "conversion_id", "dedup")


def control(state: SandboxState, clock: Clock, bodies: BodyReader) -> Control:
    def events(request: Request, limit: int) -> list[RecordedEvent]:
        test = bool_param(request, "test")
        return state.events(limit=limit, test=test, **query(request, _FILTERS))

    def requests(request: Request, limit: int) -> list[RequestRecord]:
        account = request.query_params.get("ad_account_id")
        return state.requests(ad_account_id=account, limit=limit)

    return Control(
        sandbox="reddit",
        endpoints=ENDPOINTS,
        state=state,
        clock=clock,
        bodies=bodies,
        refuse=refused_as(refused),
        find_events=events,
        find_requests=requests,
    )
