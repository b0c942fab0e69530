"""Google's part of the sandbox's control plane under ``/_sandbox/`` (plain JSON, not
Google-shaped; the routes all sandboxes share are :mod:`signalyard.sandbox.control_common`).

* ``GET /_sandbox/events`` filters: ``conversion_action``, ``transaction_id``,
  ``request_id``, ``status`` (kept/deduplicated/denied_consent/too_old);
* ``GET /_sandbox/summary``: per conversion action, received, deduplicated, invalid,
  match-key coverage; totals, quota;
* ``GET /_sandbox/requests``: recent requests to ``/token`` and the API (no tokens shown);
* ``DELETE /_sandbox/state`` forgets events, statuses, dedup keys, statistics and quota use
  (faults and issued tokens are kept).
"""

from __future__ import annotations

from starlette.requests import Request

from ...clock import Clock
from ...errors import InputError
from ...sources.body import BodyReader
from ..bodies import MAX_CONTROL_BODY
from ..control_common import FAULT_ENDPOINTS, BadControlRequest, Control, query, refused_body
from ..reporting_common import REPORTING_ENDPOINTS
from .body import body_error
from .recorder import RecordedEvent, RequestRecord, SandboxState

ENDPOINTS = {
    "POST /token": "the emulated OAuth 2.0 token endpoint (refresh_token, jwt-bearer)",
    "POST /v1/events:ingest": "the emulated Data Manager API events:ingest",
    "GET /v1/requestStatus:retrieve": "per destination status of an accepted request",
    "POST /{version}/customers/{customer_id}/googleAds:searchStream": "the emulated Google Ads"
    " API reporting: currency and time zone, cost and all_conversions per day and campaign",
    "GET /_sandbox/events": "recorded events, newest first "
    "(conversion_action, transaction_id, request_id, status, limit)",
    "GET /_sandbox/summary": "per conversion action: counts, dedup, invalid, key coverage",
    "GET /_sandbox/requests": "recent requests (limit)",
    "DELETE /_sandbox/state": "reset recordings (faults and issued tokens are kept)",
    **FAULT_ENDPOINTS,
    **REPORTING_ENDPOINTS,
}
_EVENT_FILTERS = ("conversion_action", "transaction_id", "request_id", "status")


def _refused(error: InputError) -> BadControlRequest:
    """A control body the reader refused, with Google's status and headers for it (400 when
    too large, as Google answers a payload over its limit)."""
    google = body_error(error, MAX_CONTROL_BODY)
    return refused_body(google.http, google.message, google.headers, too_large=google.http == 400)


def control(state: SandboxState, clock: Clock, bodies: BodyReader) -> Control:
    def events(request: Request, limit: int) -> list[RecordedEvent]:
        return state.events(limit=limit, **query(request, _EVENT_FILTERS))

    def requests(request: Request, limit: int) -> list[RequestRecord]:
        return state.requests(limit=limit)

    return Control(
        sandbox="google",
        endpoints=ENDPOINTS,
        state=state,
        clock=clock,
        bodies=bodies,
        refuse=_refused,
        find_events=events,
        find_requests=requests,
    )
