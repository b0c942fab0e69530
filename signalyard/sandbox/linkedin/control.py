"""LinkedIn's part of the sandbox's control plane under ``/_sandbox/`` (plain JSON, not
LinkedIn-shaped; the routes all sandboxes share are :mod:`signalyard.sandbox.control_common`).

* ``GET /_sandbox/events`` filters: ``conversion_rule_id``, ``event_id``, ``dedup``
  (kept/deduplicated/no_event_id);
* ``GET /_sandbox/summary``: per conversion rule, requests by status, elements received,
  accepted, invalid, deduplicated, diagnostics, user-id coverage;
* ``GET /_sandbox/requests`` filter: ``conversion_rule_id`` (no tokens shown);
* ``PUT /_sandbox/rules/{id}``: set fields of a conversion rule (``conversionMethod``,
  ``enabled``, ``type``, ``name``); ``GET`` shows it;
* ``DELETE /_sandbox/state`` forgets events, requests, dedup keys and statistics.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ...clock import Clock
from ...sources.body import BodyReader
from ..control_common import (
    FAULT_ENDPOINTS,
    BadControlRequest,
    Control,
    control_json,
    error_json,
    query,
    refused_as,
)
from ..reporting_common import REPORTING_ENDPOINTS
from .body import refused
from .recorder import RecordedEvent, RequestRecord, SandboxState

EVENTS_PATH = "/rest/conversionEvents"
RULE_PATH = "/rest/conversions/{rule_id}"
ENDPOINTS = {
    f"POST {EVENTS_PATH}": "the emulated Conversions API (Authorization: Bearer, LinkedIn-Version,"
    " X-Restli-Protocol-Version: 2.0.0, X-RestLi-Method: BATCH_CREATE)",
    "GET /rest/conversions/{id}?account=urn:li:sponsoredAccount:{id}": "read a conversion rule",
    "GET /_sandbox/events": "recorded events, newest first (conversion_rule_id, event_id, "
    "dedup, limit)",
    "GET /_sandbox/summary": "per conversion rule: counts, dedup, diagnostics, user-id coverage",
    "GET /_sandbox/requests": "recent requests (conversion_rule_id, limit)",
    "PUT /_sandbox/rules/{id}": "set a rule's conversionMethod, enabled, type or name",
    "DELETE /_sandbox/state": "reset recordings (faults and rules are kept)",
    "GET /rest/adAccounts/{id}": "the reporting book's ad account (its currency)",
    "GET /rest/adAccounts/{id}/adCampaigns?q=search": "the reporting book's campaigns"
    " (pageSize, pageToken)",
    "GET /rest/adAnalytics?q=analytics&pivot=CAMPAIGN": "the ad account's claims per day and"
    " campaign (timeGranularity, dateRange, accounts, fields)",
    **FAULT_ENDPOINTS,
    **REPORTING_ENDPOINTS,
}
_FILTERS = ("conversion_rule_id", "event_id", "dedup")


def control(state: SandboxState, clock: Clock, bodies: BodyReader) -> Control:
    def events(request: Request, limit: int) -> list[RecordedEvent]:
        return state.events(limit=limit, **query(request, _FILTERS))

    def requests(request: Request, limit: int) -> list[RequestRecord]:
        rule_id = request.query_params.get("conversion_rule_id")
        return state.requests(conversion_rule_id=rule_id, limit=limit)

    return Control(
        sandbox="linkedin",
        endpoints=ENDPOINTS,
        state=state,
        clock=clock,
        bodies=bodies,
        refuse=refused_as(refused),
        find_events=events,
        find_requests=requests,
    )


def rules_handler(
    state: SandboxState, control: Control
) -> Callable[[Request], Awaitable[Response]]:
    """``PUT``/``GET /_sandbox/rules/{rule_id}``."""

    async def handle(request: Request) -> Response:
        rule_id = request.path_params["rule_id"]
        if request.method == "PUT":
            try:
                body = await control.json_body(request)
            except BadControlRequest as exc:
                return error_json(str(exc), exc.status, exc.headers)
            if not isinstance(body, dict):
                return error_json("the body must be a JSON object")
            try:
                state.set_rule(rule_id, body)
            except ValueError as exc:
                return error_json(str(exc))
        account = request.query_params.get("account", "urn:li:sponsoredAccount:0")
        if not rule_id.isdigit():
            return error_json("a rule id is digits", 404)
        return control_json({"rule": state.rule(rule_id, account)})

    return handle
